"""The target_groups and targets tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql
from nozama.store import tags as tag_store

_SCOPE = "region = ? AND account = ?"


def create(conn: Connection, region: str, account: str, name: str, arn: str,
           created_at: datetime, doc: dict) -> None:
    sql.run(conn, "INSERT INTO target_groups (region, account, name, arn, created_at, doc) "
                  "VALUES (?, ?, ?, ?, ?, ?)", (region, account, name, arn, created_at, doc))


def get(conn: Connection, arn: str):
    return sql.one(conn, "SELECT * FROM target_groups WHERE arn = ?", (arn,))


def by_name(conn: Connection, region: str, account: str, name: str):
    return sql.one(conn, f"SELECT * FROM target_groups WHERE {_SCOPE} AND name = ?",
                   (region, account, name))


def by_arns(conn: Connection, region: str, account: str, arns: list[str]) -> list:
    return sql.all_rows(conn, f"SELECT * FROM target_groups WHERE {_SCOPE} AND arn IN "
                              f"({sql.placeholders(len(arns))})", (region, account, *arns))


def by_names(conn: Connection, region: str, account: str, names: list[str]) -> list:
    return sql.all_rows(conn, f"SELECT * FROM target_groups WHERE {_SCOPE} AND name IN "
                              f"({sql.placeholders(len(names))})", (region, account, *names))


def page(conn: Connection, region: str, account: str, after: str, limit: int,
         load_balancer_arn: str | None = None) -> list:
    if load_balancer_arn is None:
        return sql.all_rows(conn, f"SELECT * FROM target_groups WHERE {_SCOPE} AND arn > ? "
                                  "ORDER BY arn LIMIT ?", (region, account, after, limit))
    return sql.all_rows(conn, "SELECT * FROM target_groups WHERE arn IN (SELECT "
                              "target_group_arn FROM target_group_uses WHERE "
                              "load_balancer_arn = ?) AND arn > ? ORDER BY arn LIMIT ?",
                        (load_balancer_arn, after, limit))


def save(conn: Connection, arn: str, doc: dict) -> None:
    sql.run(conn, "UPDATE target_groups SET doc = ? WHERE arn = ?", (doc, arn))


def delete(conn: Connection, arn: str) -> None:
    """The group, its targets and its tags."""
    sql.run(conn, "DELETE FROM targets WHERE target_group_arn = ?", (arn,))
    tag_store.remove_all(conn, arn)
    sql.run(conn, "DELETE FROM target_groups WHERE arn = ?", (arn,))


def in_use(conn: Connection, arn: str) -> bool:
    return sql.scalar(conn, "SELECT count(*) FROM target_group_uses WHERE target_group_arn = ?",
                      (arn,)) > 0


# ---------------------------------------------------------------- targets

def targets(conn: Connection, target_group_arn: str) -> list:
    return sql.all_rows(conn, "SELECT * FROM targets WHERE target_group_arn = ? ORDER BY id",
                        (target_group_arn,))


def target(conn: Connection, target_group_arn: str, target_id: str, port: int):
    return sql.one(conn, "SELECT * FROM targets WHERE target_group_arn = ? AND target_id = ? "
                         "AND port = ?", (target_group_arn, target_id, port))


def add_target(conn: Connection, target_group_arn: str, target_id: str, port: int,
               zone: str | None, now: datetime, health_state: str, reason: str | None,
               description: str | None) -> None:
    sql.run(conn, "INSERT INTO targets (target_group_arn, target_id, port, availability_zone, "
                  "state, registered_at, health_state, health_reason, health_description) "
                  "VALUES (?, ?, ?, ?, 'registered', ?, ?, ?, ?)",
            (target_group_arn, target_id, port, zone, now, health_state, reason, description))


def update_target(conn: Connection, row_id: int, **values) -> None:
    assignments = ", ".join(f"{column} = ?" for column in values)
    sql.run(conn, f"UPDATE targets SET {assignments} WHERE id = ?", (*values.values(), row_id))


def remove_target(conn: Connection, row_id: int) -> None:
    sql.run(conn, "DELETE FROM targets WHERE id = ?", (row_id,))



# ---------------------------------------------------------------- the data plane's writes

def record_health(conn: Connection, changes: list[tuple[int, str, str | None, str | None]]
                  ) -> None:
    """Observed health [(row id, state, reason, description)] of registered targets."""
    sql.run_many(conn, "UPDATE targets SET health_state = ?, health_reason = ?, "
                       "health_description = ? WHERE id = ? AND state = 'registered'",
                 [(state, reason, description, row_id)
                  for row_id, state, reason, description in changes])


def remove_drained(conn: Connection, row_ids: list[int]) -> None:
    """Draining targets whose requests are done or whose delay is over."""
    sql.run(conn, f"DELETE FROM targets WHERE state = 'draining' AND id IN "
                  f"({sql.placeholders(len(row_ids))})", tuple(row_ids))
