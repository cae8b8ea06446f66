"""The tags table: tags of every resource, keyed by ARN."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql


def get(conn: Connection, arn: str) -> dict[str, str]:
    rows = sql.all_rows(conn, "SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key",
                        (arn,))
    return {key: value for key, value in rows}


def count_after_merge(conn: Connection, arn: str, keys: set[str]) -> int:
    existing = sql.column(conn, "SELECT key FROM tags WHERE resource_arn = ?", (arn,))
    return len(set(existing) | keys)


def put(conn: Connection, arn: str, new: dict[str, str]) -> None:
    if not new:
        return
    remove(conn, arn, list(new))
    sql.run_many(conn, "INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)",
                 [(arn, k, v) for k, v in new.items()])


def remove(conn: Connection, arn: str, keys: list[str]) -> None:
    if keys:
        sql.run(conn, f"DELETE FROM tags WHERE resource_arn = ? AND key IN "
                      f"({sql.placeholders(len(keys))})", (arn, *keys))


def remove_all(conn: Connection, arn: str) -> None:
    sql.run(conn, "DELETE FROM tags WHERE resource_arn = ?", (arn,))


def of_many(conn: Connection, arns: list[str]) -> dict[str, dict[str, str]]:
    """The tags of several resources at once: {arn: {key: value}} (resources without tags
    are left out)."""
    found: dict[str, dict[str, str]] = {}
    if not arns:
        return found
    rows = sql.all_rows(conn, "SELECT resource_arn, key, value FROM tags WHERE resource_arn "
                              f"IN ({sql.placeholders(len(arns))}) ORDER BY resource_arn, key",
                        tuple(arns))
    for arn, key, value in rows:
        found.setdefault(arn, {})[key] = value
    return found


def under(conn: Connection, prefix: str, after: tuple[str, str], limit: int) -> list:
    """(resource_arn, key, value) of the resources whose ARN starts with `prefix`, after
    (arn, key), in that order: a region's tags of one service (EC2's DescribeTags)."""
    # The prefix is an ARN's service, region and account: no LIKE wildcard is in one.
    return sql.all_rows(conn, "SELECT resource_arn, key, value FROM tags WHERE resource_arn "
                              "LIKE ? AND (resource_arn > ? OR (resource_arn = ? AND key > ?)) "
                              "ORDER BY resource_arn, key LIMIT ?",
                        (prefix + "%", after[0], after[0], after[1], limit))
