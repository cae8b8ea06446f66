"""The function_policies table: a function's resource-based policy per qualifier."""

from __future__ import annotations

from sqlalchemy import Connection, Row, delete, insert, select, update

from nozama.store.schema import function_policies as fp


def get(conn: Connection, function_id: int, qualifier: str) -> Row | None:
    return conn.execute(select(fp).where(fp.c.function_id == function_id,
                                         fp.c.qualifier == qualifier)).first()


def put(conn: Connection, function_id: int, qualifier: str, doc: dict,
        revision_id: str) -> None:
    """Write the policy (None of its statements left: the row goes)."""
    if not doc["Statement"]:
        remove(conn, function_id, qualifier)
    elif get(conn, function_id, qualifier) is None:
        conn.execute(insert(fp).values(function_id=function_id, qualifier=qualifier, doc=doc,
                                       revision_id=revision_id))
    else:
        conn.execute(update(fp).where(fp.c.function_id == function_id,
                                      fp.c.qualifier == qualifier)
                     .values(doc=doc, revision_id=revision_id))


def remove(conn: Connection, function_id: int, qualifier: str | None = None) -> None:
    """Drop the qualifier's policy, or (None) every policy of the function."""
    query = delete(fp).where(fp.c.function_id == function_id)
    if qualifier is not None:
        query = query.where(fp.c.qualifier == qualifier)
    conn.execute(query)
