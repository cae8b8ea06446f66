"""The function_event_configs table: asynchronous invocation settings per qualifier."""

from __future__ import annotations

from sqlalchemy import Connection, Row, delete, insert, select, update

from nozama.store.schema import function_event_configs as fe


def get(conn: Connection, function_id: int, qualifier: str) -> Row | None:
    return conn.execute(select(fe).where(fe.c.function_id == function_id,
                                         fe.c.qualifier == qualifier)).first()


def put(conn: Connection, function_id: int, qualifier: str, doc: dict) -> None:
    if get(conn, function_id, qualifier) is None:
        conn.execute(insert(fe).values(function_id=function_id, qualifier=qualifier, doc=doc))
    else:
        conn.execute(update(fe).where(fe.c.function_id == function_id,
                                      fe.c.qualifier == qualifier).values(doc=doc))


def listing(conn: Connection, function_id: int, after: str | None, limit: int) -> list[Row]:
    query = select(fe).where(fe.c.function_id == function_id)
    if after is not None:
        query = query.where(fe.c.qualifier > after)
    return list(conn.execute(query.order_by(fe.c.qualifier).limit(limit)))


def remove(conn: Connection, function_id: int, qualifier: str | None = None) -> None:
    """Drop the qualifier's settings, or (None) every one of the function."""
    query = delete(fe).where(fe.c.function_id == function_id)
    if qualifier is not None:
        query = query.where(fe.c.qualifier == qualifier)
    conn.execute(query)
