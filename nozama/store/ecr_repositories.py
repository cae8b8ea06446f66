"""The ecr_repositories table: ECR repositories, by region, account and name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, and_, insert, select

from nozama.store.schema import ecr_repositories as er


def _scope(region: str, account: str):
    return and_(er.c.region == region, er.c.account == account)


def get(conn: Connection, region: str, account: str, name: str) -> Row | None:
    return conn.execute(select(er).where(_scope(region, account), er.c.name == name)).first()


def get_by_id(conn: Connection, repository_id: int) -> Row | None:
    return conn.execute(select(er).where(er.c.id == repository_id)).first()


def create(conn: Connection, region: str, account: str, name: str, arn: str,
           created_at: datetime, image_tag_mutability: str, doc: dict) -> int:
    return conn.execute(insert(er).values(
        region=region, account=account, name=name, arn=arn, created_at=created_at,
        image_tag_mutability=image_tag_mutability, doc=doc)).inserted_primary_key[0]
