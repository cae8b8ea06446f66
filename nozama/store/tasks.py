"""The tasks table."""

from __future__ import annotations

from sqlalchemy import Connection, Row, func, insert, select, update

from nozama.store.schema import tasks as t

PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")


def create_many(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(t), rows)


def get(conn: Connection, arn: str) -> Row | None:
    return conn.execute(select(t).where(t.c.arn == arn)).first()


def get_many(conn: Connection, cluster_arn: str, arns: list[str]) -> list[Row]:
    return list(conn.execute(select(t).where(t.c.cluster_arn == cluster_arn, t.c.arn.in_(arns))))


def save(conn: Connection, arn: str, **values) -> None:
    conn.execute(update(t).where(t.c.arn == arn).values(version=t.c.version + 1, **values))


def on_instance(conn: Connection, instance_arn: str, live_only: bool = True) -> list[Row]:
    """The instance's tasks; live ones are those not yet STOPPED."""
    query = select(t).where(t.c.container_instance_arn == instance_arn)
    if live_only:
        query = query.where(t.c.last_status != "STOPPED")
    return list(conn.execute(query.order_by(t.c.id)))


def assigned(conn: Connection, instance_arn: str) -> list[Row]:
    """What the agent on an instance must act on: tasks to run, and tasks to stop."""
    return list(conn.execute(select(t).where(
        t.c.container_instance_arn == instance_arn,
        (t.c.desired_status == "RUNNING") | (t.c.last_status != "STOPPED")).order_by(t.c.id)))


def count_by_status(conn: Connection, column, value: str) -> dict[str, int]:
    """{last_status: count} of the tasks whose `column` equals `value`."""
    rows = conn.execute(select(t.c.last_status, func.count()).where(column == value)
                        .group_by(t.c.last_status))
    return {status: n for status, n in rows}


def search(conn: Connection, cluster_arn: str, filters: dict, desired_status: str,
           after: str | None, limit: int) -> list[str]:
    query = select(t.c.arn).where(t.c.cluster_arn == cluster_arn,
                                  t.c.desired_status == desired_status)
    for column, value in filters.items():
        query = query.where(t.c[column] == value)
    if after is not None:
        query = query.where(t.c.arn > after)
    return list(conn.execute(query.order_by(t.c.arn).limit(limit)).scalars())
