"""The ecr_repositories table: ECR repositories, by region, account and name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, and_, insert, select, update
from sqlalchemy import delete as sa_delete

from nozama.store.schema import ecr_repositories as er


def _scope(region: str, account: str):
    return and_(er.c.region == region, er.c.account == account)


def get(conn: Connection, region: str, account: str, name: str) -> Row | None:
    return conn.execute(select(er).where(_scope(region, account), er.c.name == name)).first()


def by_registry_name(conn: Connection, account: str | None, region: str,
                     name: str) -> Row | None:
    """The repository the Distribution name "<region>/<name>" stands for in `account`.
    Distribution's names carry no account, so the registry's own work, which has no
    caller to scope it by (tombstones, adoption), passes None: the oldest repository of
    that region and name, whatever its account."""
    if account is not None:
        return get(conn, region, account, name)
    return conn.execute(select(er).where(er.c.region == region, er.c.name == name)
                        .order_by(er.c.id).limit(1)).first()


def get_by_id(conn: Connection, repository_id: int) -> Row | None:
    return conn.execute(select(er).where(er.c.id == repository_id)).first()


def create(conn: Connection, region: str, account: str, name: str, arn: str,
           created_at: datetime, image_tag_mutability: str, doc: dict) -> int:
    return conn.execute(insert(er).values(
        region=region, account=account, name=name, arn=arn, created_at=created_at,
        image_tag_mutability=image_tag_mutability, doc=doc)).inserted_primary_key[0]


def listing(conn: Connection, region: str, account: str, after: str | None,
            limit: int) -> list[Row]:
    """A page of the region's repositories, by name, from after `after`."""
    query = select(er).where(_scope(region, account))
    if after is not None:
        query = query.where(er.c.name > after)
    return list(conn.execute(query.order_by(er.c.name).limit(limit)))


def delete(conn: Connection, repository_id: int) -> None:
    conn.execute(sa_delete(er).where(er.c.id == repository_id))


def set_mutability(conn: Connection, repository_id: int, image_tag_mutability: str,
                   doc: dict) -> None:
    conn.execute(update(er).where(er.c.id == repository_id).values(
        image_tag_mutability=image_tag_mutability, doc=doc))


def set_lifecycle_policy(conn: Connection, repository_id: int, text: str | None) -> None:
    """Put (or, with None, remove) the repository's lifecycle policy; a new policy has not
    been evaluated yet."""
    conn.execute(update(er).where(er.c.id == repository_id).values(
        lifecycle_policy=text, lifecycle_evaluated_at=None))


def set_lifecycle_evaluated(conn: Connection, repository_id: int, at: datetime) -> None:
    conn.execute(update(er).where(er.c.id == repository_id).values(lifecycle_evaluated_at=at))


def with_lifecycle_policy(conn: Connection) -> list[Row]:
    """Every repository, of every region and account, that has a lifecycle policy."""
    return list(conn.execute(select(er).where(er.c.lifecycle_policy.is_not(None))
                             .order_by(er.c.id)))


def set_doc(conn: Connection, repository_id: int, doc: dict) -> None:
    conn.execute(update(er).where(er.c.id == repository_id).values(doc=doc))
