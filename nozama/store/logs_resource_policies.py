"""The logs_resource_policies table: CloudWatch Logs resource policies of a region.

Account-scoped policies have resource_arn '' and are listed by name; a log group's
policy (at most one) has the group's ARN.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from nozama.store.schema import logs_resource_policies as rp

ACCOUNT_SCOPE = ""


def _scope(region: str, account: str, resource_arn: str):
    return rp.c.region == region, rp.c.account == account, rp.c.resource_arn == resource_arn


def get(conn: Connection, region: str, account: str, resource_arn: str,
        name: str | None) -> Row | None:
    """The policy of that name in the scope (for a log group, None: its one policy)."""
    query = select(rp).where(*_scope(region, account, resource_arn))
    if name is not None:
        query = query.where(rp.c.name == name)
    return conn.execute(query.limit(1)).first()


def count(conn: Connection, region: str, account: str, resource_arn: str) -> int:
    return conn.execute(select(func.count()).select_from(rp)
                        .where(*_scope(region, account, resource_arn))).scalar_one()


def put(conn: Connection, region: str, account: str, resource_arn: str, name: str,
        document: str, revision_id: str, now_ms: int, replacing: Row | None) -> None:
    values = dict(name=name, document=document, revision_id=revision_id, last_updated=now_ms)
    if replacing is None:
        conn.execute(insert(rp).values(region=region, account=account,
                                       resource_arn=resource_arn, **values))
    else:
        conn.execute(update(rp).where(rp.c.id == replacing.id).values(**values))


def page(conn: Connection, region: str, account: str, resource_arn: str,
         after: str | None, limit: int) -> list[Row]:
    """The scope's policies by name after `after`, at most `limit`."""
    query = select(rp).where(*_scope(region, account, resource_arn))
    if after is not None:
        query = query.where(rp.c.name > after)
    return list(conn.execute(query.order_by(rp.c.name).limit(limit)))


def remove(conn: Connection, row_id: int) -> None:
    conn.execute(delete(rp).where(rp.c.id == row_id))


def remove_for_resource(conn: Connection, region: str, account: str, resource_arn: str) -> None:
    """A log group's policy goes with the group."""
    conn.execute(delete(rp).where(*_scope(region, account, resource_arn)))
