"""Opening the database, transactions, and schema migrations.

SQLite (embedded, the default) runs in WAL mode: readers never block the
writer, and a committed transaction survives the process being killed at any
moment. Writes take the database lock up front (BEGIN IMMEDIATE) so that a
read-then-write transaction never fails half way on lock upgrade. PostgreSQL
is the option for a control plane that outlives its host.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine

from nozama.store import sql

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6E6F7A616D61  # "nozama": the advisory lock migrations hold


def sqlite_url(data_dir: str | os.PathLike) -> str:
    path = Path(data_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'nozama.db'}"


def normalize_url(url: str) -> str:
    # "postgresql://" is what people type; psycopg 3 is the driver we ship.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.kind = engine.dialect.name  # "sqlite" or "postgresql"
        self._local = threading.local()
        # The access keys' sealer and lookup cache (store/access_keys.py): set by the
        # server that owns the data dir's sealing key, None in processes that read no
        # secret (the data plane, tests that open a store in-process).
        self.access_keys = None

    @classmethod
    def open(cls, url: str, migrate: bool = True) -> "Store":
        url = normalize_url(url)
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            _configure_sqlite(engine)
        else:
            engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            _configure_psycopg()
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest migration; data already there is kept."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as conn:
            if self.kind == "postgresql":
                # Processes starting at once (server, data plane) migrate one at a time;
                # SQLite's BEGIN IMMEDIATE already does this.
                sql.driver_connection(conn).execute("SELECT pg_advisory_xact_lock(%s)",
                                                    (MIGRATION_LOCK,))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def _connection(self) -> Connection:
        # One long-lived connection per thread: checking a connection out of the
        # pool and back costs more than the indexed queries most requests make.
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
            sql.attach_driver_connection(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends without an exception."""
        conn = self._connection()
        with self._dropping_broken(conn):
            driver = sql.driver_connection(conn)
            if self.kind == "sqlite":
                driver.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _end(conn, driver, commit=False)
                raise
            _end(conn, driver, commit=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for reads."""
        conn = self._connection()
        with self._dropping_broken(conn):
            driver = sql.driver_connection(conn)
            if self.kind == "sqlite":
                driver.execute("BEGIN")
            try:
                yield conn
            finally:
                _end(conn, driver, commit=False)

    @contextmanager
    def _dropping_broken(self, conn: Connection) -> Iterator[None]:
        """Forget a connection the database dropped, so the next request gets a new one."""
        try:
            yield
        except Exception as error:
            if _is_disconnect(error):
                self._local.conn = None
                conn.invalidate()
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self.engine.dispose()


class FencedStore:
    """The store as the leader's controllers see it: each write transaction first checks
    that the lease it was given is still the live one (store/leadership.py `check`) and
    raises leadership.Fenced, committing nothing, if not. `still_leader` is the runner's
    local deadline: past it the write is refused without asking the database. API
    requests keep the plain Store: stepping down must not fail them."""

    def __init__(self, store: Store, lease, clock, still_leader):
        self.store, self.lease, self.clock = store, lease, clock
        self.still_leader = still_leader
        self.kind = store.kind

    @contextmanager
    def write(self) -> Iterator[Connection]:
        from nozama.store import leadership
        if not self.still_leader():
            raise leadership.Fenced(f"epoch {self.lease.epoch} is past its local deadline")
        with self.store.write() as conn:
            leadership.check(conn, self.lease, self.clock.now())
            yield conn

    def read(self):
        return self.store.read()

    def __getattr__(self, name):
        # engine, access_keys, ...: the plain store's.
        return getattr(self.store, name)


def _end(conn: Connection, driver, commit: bool) -> None:
    """End the block's transaction on the driver's connection.

    The hot paths run hand-written SQL on the driver's cursor (store/sql.py),
    so transactions begin and end there too: SQLAlchemy's Transaction objects
    cost more than the queries of a typical request. A block that also ran a
    Core statement has made SQLAlchemy begin its own (bookkeeping-only)
    transaction, which then ends through SQLAlchemy.
    """
    if conn.in_transaction():
        conn.commit() if commit else conn.rollback()
    elif commit:
        driver.commit()
    else:
        driver.rollback()


def _is_disconnect(error: Exception) -> bool:
    from sqlalchemy.exc import DBAPIError
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    name = type(error).__name__
    return name in ("OperationalError", "InterfaceError") and "sqlite" not in type(error).__module__


def _configure_psycopg() -> None:
    # The doc columns are large JSON documents: orjson reads and writes them several
    # times faster than the json module psycopg uses by default.
    from psycopg.types.json import set_json_dumps, set_json_loads
    set_json_dumps(orjson.dumps)
    set_json_loads(orjson.loads)


def _configure_sqlite(engine: Engine) -> None:
    synchronous = os.environ.get("NOZAMA_SQLITE_SYNCHRONOUS", "NORMAL").upper()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let us issue BEGIN ourselves instead of pysqlite's implicit transactions.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses nothing when the process dies; FULL also
        # survives power loss at the cost of an fsync per commit.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
