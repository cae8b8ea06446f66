"""The log_groups table: CloudWatch Logs log groups, by region, account and name."""

from __future__ import annotations

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from nozama.store.schema import log_groups as lg


def _scope(region: str, account: str):
    return and_(lg.c.region == region, lg.c.account == account)


def get(conn: Connection, region: str, account: str, name: str) -> Row | None:
    return conn.execute(select(lg).where(_scope(region, account), lg.c.name == name)).first()


def create(conn: Connection, region: str, account: str, name: str, creation_time: int,
           log_group_class: str, deletion_protection: bool, doc: dict) -> None:
    conn.execute(insert(lg).values(
        region=region, account=account, name=name, creation_time=creation_time,
        log_group_class=log_group_class, deletion_protection=deletion_protection, doc=doc))


def delete_group(conn: Connection, group_id: int) -> None:
    conn.execute(delete(lg).where(lg.c.id == group_id))


def set_retention(conn: Connection, group_id: int, days: int | None) -> None:
    conn.execute(update(lg).where(lg.c.id == group_id).values(retention_in_days=days))


def set_deletion_protection(conn: Connection, group_id: int, enabled: bool) -> None:
    conn.execute(update(lg).where(lg.c.id == group_id).values(deletion_protection=enabled))


def prefix_range(column, prefix: str):
    """`column` starts with `prefix`, as a range an index serves (names compare bytewise)."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return column.startswith(prefix, autoescape=True)
    return and_(column >= prefix, column < prefix[:-1] + chr(last + 1))


def contains(conn: Connection, column, text: str):
    """A case-sensitive substring test (SQLite's LIKE ignores ASCII case)."""
    if conn.dialect.name == "postgresql":
        return func.strpos(column, text) > 0
    return func.instr(column, text) > 0


def search(conn: Connection, region: str, account: str, *, prefix: str | None = None,
           pattern: str | None = None, names: list[str] | None = None,
           log_group_class: str | None = None, after: str | None = None,
           limit: int) -> list[Row]:
    """Log groups ordered by name, starting after the name `after`."""
    query = select(lg).where(_scope(region, account))
    if prefix:
        query = query.where(prefix_range(lg.c.name, prefix))
    if pattern:
        query = query.where(contains(conn, lg.c.name, pattern))
    if names is not None:
        query = query.where(lg.c.name.in_(names))
    if log_group_class:
        query = query.where(lg.c.log_group_class == log_group_class)
    if after is not None:
        query = query.where(lg.c.name > after)
    return list(conn.execute(query.order_by(lg.c.name).limit(limit)))
