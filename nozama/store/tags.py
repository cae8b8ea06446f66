"""The tags table: tags of every resource, keyed by ARN."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from nozama.store.schema import tags


def get(conn: Connection, arn: str) -> dict[str, str]:
    rows = conn.execute(select(tags.c.key, tags.c.value).where(tags.c.resource_arn == arn)
                        .order_by(tags.c.key))
    return {key: value for key, value in rows}


def count_after_merge(conn: Connection, arn: str, keys: set[str]) -> int:
    existing = set(conn.execute(select(tags.c.key).where(tags.c.resource_arn == arn)).scalars())
    return len(existing | keys)


def put(conn: Connection, arn: str, new: dict[str, str]) -> None:
    if not new:
        return
    conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.key.in_(list(new))))
    conn.execute(insert(tags), [{"resource_arn": arn, "key": k, "value": v}
                                for k, v in new.items()])


def remove(conn: Connection, arn: str, keys: list[str]) -> None:
    conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.key.in_(keys)))


def remove_all(conn: Connection, arn: str) -> None:
    conn.execute(delete(tags).where(tags.c.resource_arn == arn))
