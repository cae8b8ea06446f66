"""The clusters table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, func, insert, select, update

from nozama.store.schema import clusters, container_instances

ACTIVE_INSTANCE_STATES = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING")


def get(conn: Connection, region: str, account: str, name: str) -> Row | None:
    return conn.execute(select(clusters).where(
        clusters.c.region == region, clusters.c.account == account,
        clusters.c.name == name)).first()


def create(conn: Connection, region: str, account: str, name: str, arn: str,
           created_at: datetime, doc: dict) -> None:
    conn.execute(insert(clusters).values(region=region, account=account, name=name, arn=arn,
                                         status="ACTIVE", created_at=created_at, doc=doc))


def save(conn: Connection, arn: str, status: str, doc: dict) -> None:
    conn.execute(update(clusters).where(clusters.c.arn == arn).values(status=status, doc=doc))


def list_active_arns(conn: Connection, region: str, account: str, after: str | None,
                     limit: int) -> list[str]:
    query = select(clusters.c.arn).where(
        clusters.c.region == region, clusters.c.account == account,
        clusters.c.status == "ACTIVE").order_by(clusters.c.arn).limit(limit)
    if after is not None:
        query = query.where(clusters.c.arn > after)
    return list(conn.execute(query).scalars())


def registered_instance_count(conn: Connection, cluster_arn: str) -> int:
    return conn.execute(select(func.count()).select_from(container_instances).where(
        container_instances.c.cluster_arn == cluster_arn,
        container_instances.c.status.in_(ACTIVE_INSTANCE_STATES))).scalar_one()
