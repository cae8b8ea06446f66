"""The server_keys table: secrets every server of one store shares.

A key is made once, by whichever server needs it first; a concurrent first use
(PostgreSQL) inserts nothing and reads the key that won.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from nozama.store.schema import server_keys as sk


def get(conn: Connection, name: str) -> bytes | None:
    found = conn.execute(select(sk.c.secret).where(sk.c.name == name)).scalar()
    return None if found is None else bytes(found)


def key(conn: Connection, name: str, make: Callable[[], bytes]) -> bytes:
    """The secret named `name`, made with `make()` and stored if there is none yet."""
    found = get(conn, name)
    if found is not None:
        return found
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    conn.execute(dialect.insert(sk).values(name=name, secret=make())
                 .on_conflict_do_nothing(index_elements=["name"]))
    return bytes(conn.execute(select(sk.c.secret).where(sk.c.name == name)).scalar_one())
