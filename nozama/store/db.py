"""Opening the database, transactions, and schema migrations.

SQLite (embedded, the default) runs in WAL mode: readers never block the
writer, and a committed transaction survives the process being killed at any
moment. Writes take the database lock up front (BEGIN IMMEDIATE) so that a
read-then-write transaction never fails half way on lock upgrade. PostgreSQL
is the option for a control plane that outlives its host.

A PostgreSQL that goes away trips the store's breaker (store/availability.py):
transactions then raise StoreUnavailable at once instead of waiting on the network,
until a probe finds the database back. libpq's timeouts bound how long the first
call of an outage (or of a network partition) can wait.
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
from sqlalchemy import Connection, create_engine, event, make_url
from sqlalchemy.engine import Engine

from nozama.kernel.clock import Clock
from nozama.store import sql
from nozama.store.availability import CONFLICT_STATES, Breaker, StoreConflict, StoreUnavailable

__all__ = ["Store", "StoreConflict", "StoreUnavailable", "normalize_url", "sqlite_url"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6E6F7A616D61  # "nozama": the advisory lock migrations hold

# libpq options a URL does not set itself. Without them a partition leaves a connect
# waiting for the kernel's SYN retries (over 2 minutes) and a sent query for TCP's
# retransmissions (15 minutes), on the event loop's thread.
LIBPQ_DEFAULTS = {
    "connect_timeout": 2,            # seconds to connect
    "tcp_user_timeout": 3000,        # ms that sent data may stay unacknowledged
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 1, "keepalives_count": 3,
}


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
    def __init__(self, engine: Engine, clock: Clock | None = None):
        self.engine = engine
        self.kind = engine.dialect.name  # "sqlite" or "postgresql"
        self._local = threading.local()
        self.breaker = Breaker(clock or Clock(), self._probe)
        # The access keys' sealer and lookup cache (store/access_keys.py): set by the
        # server that owns the data dir's sealing key, None in processes that read no
        # secret (the data plane, tests that open a store in-process).
        self.access_keys = None

    @classmethod
    def open(cls, url: str, migrate: bool = True, clock: Clock | None = None) -> "Store":
        url = normalize_url(url)
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            _configure_sqlite(engine)
        else:
            engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True,
                                   connect_args=libpq_defaults(url))
            _configure_psycopg()
        store = cls(engine, clock)
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
        local = self._local
        conn = getattr(local, "conn", None)
        # One comparison covers the breaker: its state is the epoch the thread's
        # connection was opened in while the database answers, OPEN while it does not.
        if conn is None or local.epoch != self.breaker.state or conn.invalidated \
                or conn.closed:
            conn = self._reconnect(local, conn)
        return conn

    def _reconnect(self, local, conn: Connection | None) -> Connection:
        breaker = self.breaker
        if breaker.is_open:
            raise breaker.refusal()
        if conn is not None and local.epoch != breaker.epoch:
            # Opened before the last outage: most likely broken, and finding out would
            # cost a request a 503.
            conn.invalidate()
        try:
            conn = self.engine.connect()
        except Exception as error:
            if self.kind != "sqlite" and _is_connection_failure(error):
                raise breaker.trip(error) from error
            raise
        local.conn, local.epoch = conn, breaker.epoch
        sql.attach_driver_connection(conn)
        return conn

    def _probe(self) -> None:
        """One round trip on a new connection (the breaker's probe thread)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends without an exception.

        Raises StoreUnavailable, and writes nothing, while the database is unreachable."""
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
        """Forget a connection the database dropped, so the next request gets a new one,
        and trip the breaker: the database is likely gone for every thread."""
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as error:
            if _is_disconnect(error, sql.driver_connection(conn)):
                self._local.conn = None
                conn.invalidate()
                raise self.breaker.trip(error) from error
            if _sqlstate(error) in CONFLICT_STATES:
                # Rolled back already (write/read end the transaction before this).
                raise StoreConflict(f"the transaction was rolled back ({error}); "
                                    "retry it") from error
            raise

    def close(self) -> None:
        self.breaker.close()
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


def libpq_defaults(url: str) -> dict:
    """LIBPQ_DEFAULTS less the options the URL sets itself (its query wins)."""
    query = make_url(url).query
    return {key: value for key, value in LIBPQ_DEFAULTS.items() if key not in query}


def _is_disconnect(error: Exception, driver) -> bool:
    """A failure of the connection, not of the statement (a constraint, a deadlock)."""
    from sqlalchemy.exc import DBAPIError
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    if "sqlite" in type(error).__module__:
        return False
    # The hot paths run on the driver's cursor (store/sql.py), so psycopg's own errors
    # arrive unwrapped: psycopg marks a connection it lost as closed or broken.
    if getattr(driver, "broken", False) or getattr(driver, "closed", False):
        return True
    state = str(getattr(error, "sqlstate", None) or "")
    # Class 08 is "connection exception"; 57P01-57P03 a server shutting down or starting.
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _sqlstate(error: Exception) -> str:
    """The SQLSTATE of a psycopg error, raw (store/sql.py) or wrapped by SQLAlchemy."""
    for candidate in (error, getattr(error, "orig", None)):
        state = getattr(candidate, "sqlstate", None)
        if state:
            return str(state)
    return ""


def _is_connection_failure(error: Exception) -> bool:
    """Connecting failed because the database is unreachable (not, say, a bad password:
    that is an OperationalError too, but the breaker cannot help with it)."""
    from sqlalchemy.exc import OperationalError
    if not isinstance(error, OperationalError):
        return False
    text = str(error.orig)
    return not ("password authentication failed" in text or "does not exist" in text)


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
