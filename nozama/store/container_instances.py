"""The container_instances table."""

from __future__ import annotations

from sqlalchemy import Connection, Row, insert, select, update

from nozama.store.schema import container_instances as ci


def create(conn: Connection, **values) -> None:
    conn.execute(insert(ci).values(**values))


def get(conn: Connection, arn: str) -> Row | None:
    return conn.execute(select(ci).where(ci.c.arn == arn)).first()


def get_many(conn: Connection, cluster_arn: str, arns: list[str]) -> list[Row]:
    return list(conn.execute(select(ci).where(ci.c.cluster_arn == cluster_arn,
                                              ci.c.arn.in_(arns))))


def find_by_ec2_instance(conn: Connection, cluster_arn: str, ec2_instance_id: str) -> Row | None:
    return conn.execute(select(ci).where(
        ci.c.cluster_arn == cluster_arn, ci.c.ec2_instance_id == ec2_instance_id,
        ci.c.status != "INACTIVE").order_by(ci.c.id.desc()).limit(1)).first()


def save(conn: Connection, arn: str, **values) -> None:
    # Every change bumps `version`, which ECS reports as the instance's version.
    conn.execute(update(ci).where(ci.c.arn == arn).values(version=ci.c.version + 1, **values))


def scan(conn: Connection, cluster_arn: str, statuses: tuple[str, ...], after: str | None,
         batch: int) -> list[Row]:
    query = select(ci).where(ci.c.cluster_arn == cluster_arn, ci.c.status.in_(statuses))
    if after is not None:
        query = query.where(ci.c.arn > after)
    return list(conn.execute(query.order_by(ci.c.arn).limit(batch)))


def mark_seen(conn: Connection, arn: str, when) -> None:
    """An agent polled: it is connected (no version bump: this is not a change by a user)."""
    conn.execute(update(ci).where(ci.c.arn == arn).values(agent_connected=True,
                                                          agent_seen_at=when))


def mark_silent_disconnected(conn: Connection, seen_before) -> list[str]:
    """Instances whose agent has not polled since `seen_before` become disconnected."""
    stale = select(ci.c.arn).where(ci.c.agent_connected.is_(True),
                                   ci.c.agent_seen_at < seen_before)
    arns = list(conn.execute(stale).scalars())
    if arns:
        conn.execute(update(ci).where(ci.c.arn.in_(arns)).values(agent_connected=False))
    return arns
