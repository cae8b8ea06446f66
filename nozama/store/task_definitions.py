"""The task_definitions table: one row per revision of a family."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql

_SCOPE = "region = ? AND account = ?"


def next_revision(conn: Connection, region: str, account: str, family: str) -> int:
    # Revisions are never reused, even after deletion: rows are kept.
    latest = sql.scalar(conn, f"SELECT max(revision) FROM task_definitions WHERE {_SCOPE} "
                              "AND family = ?", (region, account, family))
    return (latest or 0) + 1


def create(conn: Connection, region: str, account: str, family: str, revision: int, arn: str,
           registered_at: datetime, doc: dict) -> None:
    sql.run(conn, "INSERT INTO task_definitions (region, account, family, revision, arn, "
                  "status, registered_at, doc) VALUES (?, ?, ?, ?, ?, 'ACTIVE', ?, ?)",
            (region, account, family, revision, arn, registered_at, doc))


def get(conn: Connection, region: str, account: str, family: str, revision: int):
    return sql.one(conn, f"SELECT * FROM task_definitions WHERE {_SCOPE} AND family = ? "
                         "AND revision = ?", (region, account, family, revision))


def latest_active(conn: Connection, region: str, account: str, family: str):
    return sql.one(conn, f"SELECT * FROM task_definitions WHERE {_SCOPE} AND family = ? AND "
                         "status = 'ACTIVE' ORDER BY revision DESC LIMIT 1",
                   (region, account, family))


def get_by_arns(conn: Connection, arns: list[str]) -> dict:
    if not arns:
        return {}
    rows = sql.all_rows(conn, "SELECT * FROM task_definitions WHERE arn IN "
                              f"({sql.placeholders(len(arns))})", tuple(arns))
    return {r.arn: r for r in rows}


def set_status(conn: Connection, arn: str, status: str, doc: dict) -> None:
    sql.run(conn, "UPDATE task_definitions SET status = ?, doc = ? WHERE arn = ?",
            (status, doc, arn))


def list_arns(conn: Connection, region: str, account: str, status: str, family: str | None,
              descending: bool, after: list | None, limit: int) -> list:
    """Revisions ordered by (family, revision), starting after the key `after`."""
    where, params = [_SCOPE, "status = ?"], [region, account, status]
    if family is not None:
        where.append("family = ?")
        params.append(family)
    if after is not None:
        op = "<" if descending else ">"
        where.append(f"(family {op} ? OR (family = ? AND revision {op} ?))")
        params += [after[0], after[0], after[1]]
    order = "family DESC, revision DESC" if descending else "family, revision"
    return sql.all_rows(conn, f"SELECT family, revision, arn FROM task_definitions WHERE "
                              f"{' AND '.join(where)} ORDER BY {order} LIMIT ?",
                        (*params, limit))


def list_families(conn: Connection, region: str, account: str, status: str, prefix: str | None,
                  after: str | None, limit: int) -> list[str]:
    """Family names; ACTIVE: with an ACTIVE revision, INACTIVE: without one, ALL: any."""
    where, params = [_SCOPE, "family > ?"], [region, account, after or ""]
    if prefix:
        # Range instead of LIKE: no escaping of _ and %, and it uses the index.
        where.append("family >= ? AND family < ?")
        params += [prefix, prefix + "\U0010ffff"]
    having = {"ACTIVE": " HAVING max(CASE WHEN status = 'ACTIVE' THEN 1 ELSE 0 END) = 1",
              "INACTIVE": " HAVING max(CASE WHEN status = 'ACTIVE' THEN 1 ELSE 0 END) = 0"
              }.get(status, "")
    return sql.column(conn, f"SELECT family FROM task_definitions WHERE {' AND '.join(where)} "
                            f"GROUP BY family{having} ORDER BY family LIMIT ?", (*params, limit))
