"""The task_definitions table: one row per revision of a family."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, and_, case, func, insert, or_, select, update

from nozama.store.schema import task_definitions as td


def _scope(region: str, account: str):
    return and_(td.c.region == region, td.c.account == account)


def next_revision(conn: Connection, region: str, account: str, family: str) -> int:
    # Revisions are never reused, even after deletion: rows are kept.
    latest = conn.execute(select(func.max(td.c.revision)).where(
        _scope(region, account), td.c.family == family)).scalar()
    return (latest or 0) + 1


def create(conn: Connection, region: str, account: str, family: str, revision: int, arn: str,
           registered_at: datetime, doc: dict) -> None:
    conn.execute(insert(td).values(region=region, account=account, family=family,
                                   revision=revision, arn=arn, status="ACTIVE",
                                   registered_at=registered_at, doc=doc))


def get(conn: Connection, region: str, account: str, family: str, revision: int) -> Row | None:
    return conn.execute(select(td).where(_scope(region, account), td.c.family == family,
                                         td.c.revision == revision)).first()


def latest_active(conn: Connection, region: str, account: str, family: str) -> Row | None:
    return conn.execute(select(td).where(
        _scope(region, account), td.c.family == family, td.c.status == "ACTIVE")
        .order_by(td.c.revision.desc()).limit(1)).first()


def set_status(conn: Connection, arn: str, status: str, doc: dict) -> None:
    conn.execute(update(td).where(td.c.arn == arn).values(status=status, doc=doc))


def list_arns(conn: Connection, region: str, account: str, status: str, family: str | None,
              descending: bool, after: list | None, limit: int) -> list[Row]:
    """Revisions ordered by (family, revision), starting after the key `after`."""
    query = select(td.c.family, td.c.revision, td.c.arn).where(
        _scope(region, account), td.c.status == status)
    if family is not None:
        query = query.where(td.c.family == family)
    if after is not None:
        fam, rev = after
        if descending:
            query = query.where(or_(td.c.family < fam, and_(td.c.family == fam,
                                                            td.c.revision < rev)))
        else:
            query = query.where(or_(td.c.family > fam, and_(td.c.family == fam,
                                                            td.c.revision > rev)))
    order = (td.c.family.desc(), td.c.revision.desc()) if descending else (td.c.family,
                                                                           td.c.revision)
    return list(conn.execute(query.order_by(*order).limit(limit)))


def list_families(conn: Connection, region: str, account: str, status: str, prefix: str | None,
                  after: str | None, limit: int) -> list[str]:
    """Family names; ACTIVE: with an ACTIVE revision, INACTIVE: without one, ALL: any."""
    has_active = func.max(case((td.c.status == "ACTIVE", 1), else_=0))
    query = select(td.c.family).where(_scope(region, account)).group_by(td.c.family)
    if prefix:
        query = query.where(td.c.family.startswith(prefix, autoescape=True))
    if after is not None:
        query = query.where(td.c.family > after)
    if status == "ACTIVE":
        query = query.having(has_active == 1)
    elif status == "INACTIVE":
        query = query.having(has_active == 0)
    return list(conn.execute(query.order_by(td.c.family).limit(limit)).scalars())


def get_by_arns(conn: Connection, arns: list[str]) -> dict[str, Row]:
    return {r.arn: r for r in conn.execute(select(td).where(td.c.arn.in_(arns)))}
