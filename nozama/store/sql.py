"""Hand-written SQL on the hot paths, run on the driver's own cursor.

SQLAlchemy owns the schema, migrations, connections and transactions, but
building and executing a Core statement costs ~100-400 µs, against ~15 µs for
the same indexed lookup on the DBAPI cursor. The API answers most requests
with a few such lookups, so the repositories write plain SQL (with `?`
placeholders, one dialect-neutral subset) and run it here, inside the
transaction of the SQLAlchemy connection they are given.

Rows come back as named tuples with the same Python types on both databases:
`doc` and `deployment_state` columns as dicts, `*_at` columns as aware UTC datetimes,
booleans as bool.
"""

from __future__ import annotations

import collections
import functools
from datetime import datetime, timezone

import orjson
from sqlalchemy import Connection

_BOOLEAN_COLUMNS = frozenset({"agent_connected", "is_default", "is_egress"})
_JSON_COLUMNS = frozenset({"doc", "deployment_state"})


def one(conn: Connection, sql: str, params: tuple = ()):
    rows = all_rows(conn, sql, params)
    return rows[0] if rows else None


def all_rows(conn: Connection, sql: str, params: tuple = ()) -> list:
    cursor = _cursor(conn)
    cursor.execute(_statement(conn, sql), _params(conn, params))
    make = _row_maker(_is_sqlite(conn), tuple(d[0] for d in cursor.description))
    return [make(row) for row in cursor.fetchall()]


def scalar(conn: Connection, sql: str, params: tuple = ()):
    cursor = _cursor(conn)
    cursor.execute(_statement(conn, sql), _params(conn, params))
    row = cursor.fetchone()
    return row[0] if row else None


def column(conn: Connection, sql: str, params: tuple = ()) -> list:
    cursor = _cursor(conn)
    cursor.execute(_statement(conn, sql), _params(conn, params))
    return [row[0] for row in cursor.fetchall()]


def run(conn: Connection, sql: str, params: tuple = ()) -> int:
    cursor = _cursor(conn)
    cursor.execute(_statement(conn, sql), _params(conn, params))
    return cursor.rowcount


def run_many(conn: Connection, sql: str, rows: list[tuple]) -> None:
    if rows:
        _cursor(conn).executemany(_statement(conn, sql), [_params(conn, r) for r in rows])


def FOR_UPDATE(conn: Connection) -> str:  # noqa: N802 (reads as the SQL it adds)
    """" FOR UPDATE" on PostgreSQL, to end a SELECT of a row the transaction is about to
    rewrite: a second server's transaction doing the same waits until this one ends, and
    then reads what it wrote, instead of both rewriting the row from the same old copy.
    "" on SQLite, where BEGIN IMMEDIATE already makes writers take turns."""
    return "" if _is_sqlite(conn) else " FOR UPDATE"


def placeholders(count: int) -> str:
    """"?, ?, ?" for an IN list of `count` values."""
    return ", ".join("?" * count)


# ---------------------------------------------------------------- internals

def _is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def attach_driver_connection(conn: Connection) -> None:
    """Remember the driver's connection on `conn`: reaching it through
    SQLAlchemy's proxies on every statement costs more than the lookup."""
    conn.nozama_driver = conn.connection.driver_connection


def driver_connection(conn: Connection):
    driver = getattr(conn, "nozama_driver", None)
    return driver if driver is not None else conn.connection.driver_connection


def _cursor(conn: Connection):
    return driver_connection(conn).cursor()


def _statement(conn: Connection, sql: str) -> str:
    return sql if _is_sqlite(conn) else _format_style(sql)


@functools.lru_cache(maxsize=1024)
def _format_style(sql: str) -> str:
    # psycopg takes %s where sqlite3 takes ?; no statement here has either in a literal.
    return sql.replace("%", "%%").replace("?", "%s")


_PLAIN = frozenset({str, int, float, type(None), bytes})


def _params(conn: Connection, params: tuple) -> tuple:
    if _is_sqlite(conn):
        for p in params:
            if type(p) not in _PLAIN:
                return tuple(_to_sqlite(p) for p in params)
        return params
    from psycopg.types.json import Json
    return tuple(Json(p) if isinstance(p, (dict, list)) else p for p in params)


def _to_sqlite(value):
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        return sqlite_datetime(value)
    return value


def sqlite_datetime(value: datetime) -> str:
    """The text form SQLAlchemy stores DateTime in on SQLite (so both agree and sort)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


@functools.lru_cache(maxsize=512)
def _row_maker(sqlite: bool, names: tuple[str, ...]):
    Row = collections.namedtuple("Row", names, rename=True)
    if not sqlite:
        return Row._make
    converters = [_sqlite_converter(name) for name in names]
    if not any(converters):
        return Row._make

    def make(row):
        return Row._make(c(v) if c is not None and v is not None else v
                         for c, v in zip(converters, row))
    return make


def _sqlite_converter(name: str):
    if name in _JSON_COLUMNS:
        return orjson.loads
    if name.endswith("_at"):
        return _parse_datetime
    if name in _BOOLEAN_COLUMNS:
        return bool
    return None


def _parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
