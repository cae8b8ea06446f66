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
