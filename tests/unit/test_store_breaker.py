"""The store's breaker (store/availability.py): refuse at once while the database is gone,
log an outage once, close when a probe answers; and which failures trip it."""

from __future__ import annotations

import logging

import psycopg
import pytest

from nozama.kernel.clock import FakeClock
from nozama.store import db
from nozama.store.availability import Breaker, StoreUnavailable


class Database:
    """A probe target that answers or not."""

    def __init__(self):
        self.up = False
        self.probes = 0

    def probe(self):
        self.probes += 1
        if not self.up:
            raise OSError("connection refused")


def breaker() -> tuple[Breaker, Database, FakeClock]:
    clock, database = FakeClock(), Database()
    return Breaker(clock, database.probe, background=False), database, clock


def test_a_trip_opens_it_and_returns_the_error_to_raise():
    it, _, _ = breaker()
    assert not it.is_open
    error = it.trip(OSError("server closed the connection unexpectedly"))
    assert isinstance(error, StoreUnavailable)
    assert it.is_open


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    it, database, clock = breaker()
    caplog.set_level(logging.WARNING, logger="nozama.store.availability")
    for _ in range(50):   # every request and background tick of an outage trips it
        it.trip(OSError("server closed the connection unexpectedly"))
        assert not it.probe_once()
        clock.advance(0.25)
    database.up = True
    assert it.probe_once()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "database unavailable (OSError: server closed the connection unexpectedly); "
        "answering 503 until it is back",
        "database back after 12.5 s"]
    assert not any(record.exc_info for record in caplog.records)


def test_it_stays_open_until_a_probe_answers_then_a_new_epoch_begins():
    it, database, clock = breaker()
    it.trip(OSError("gone"))
    clock.advance(3)
    assert not it.probe_once() and it.is_open and it.epoch == 0
    database.up = True
    assert it.probe_once()
    assert not it.is_open and it.down_since is None
    # Connections opened before the outage are dropped before their next use (db.py).
    assert it.epoch == 1


def test_a_second_outage_is_timed_from_its_own_start(caplog):
    it, database, clock = breaker()
    caplog.set_level(logging.WARNING, logger="nozama.store.availability")
    it.trip(OSError("gone"))
    clock.advance(2)
    database.up = True
    it.probe_once()
    clock.advance(100)
    database.up = False
    it.trip(OSError("gone again"))
    clock.advance(4)
    database.up = True
    it.probe_once()
    backs = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith("database back")]
    assert backs == ["database back after 2.0 s", "database back after 4.0 s"]


def test_the_probe_thread_closes_it_alone_when_the_database_returns():
    from support.waiting import wait_for
    clock, database = FakeClock(), Database()
    it = Breaker(clock, database.probe, interval=0.01)
    try:
        it.trip(OSError("gone"))
        wait_for(lambda: database.probes >= 3, timeout=5)
        assert it.is_open
        database.up = True
        wait_for(lambda: not it.is_open, timeout=5)
        assert it.epoch == 1
    finally:
        it.close()


class FakeDriver:
    def __init__(self, broken=False, closed=False):
        self.broken, self.closed = broken, closed


def postgres_error(cls, sqlstate):
    error = cls("message")
    error.sqlstate = sqlstate   # psycopg sets it from the server's answer
    return error


@pytest.mark.parametrize("error, driver, trips", [
    # The database went away: the driver marked the connection broken, or the server said
    # it is shutting down, or the network failed (class 08).
    (psycopg.OperationalError("server closed the connection unexpectedly"),
     FakeDriver(broken=True), True),
    (postgres_error(psycopg.OperationalError, "57P01"), FakeDriver(), True),
    (postgres_error(psycopg.OperationalError, "08006"), FakeDriver(), True),
    # The request's own errors leave the breaker closed.
    (postgres_error(psycopg.errors.UniqueViolation, "23505"), FakeDriver(), False),
    (postgres_error(psycopg.errors.DeadlockDetected, "40P01"), FakeDriver(), False),
    (postgres_error(psycopg.errors.SerializationFailure, "40001"), FakeDriver(), False),
    (ValueError("a bug"), FakeDriver(), False),
])
def test_only_connection_failures_trip_it(error, driver, trips):
    assert db._is_disconnect(error, driver) is trips


def test_libpq_timeouts_are_defaults_the_url_can_override():
    url = "postgresql+psycopg://u:p@127.0.0.1:5432/d"
    assert db.libpq_defaults(url) == db.LIBPQ_DEFAULTS
    assert db.LIBPQ_DEFAULTS["connect_timeout"] == 2
    given = db.libpq_defaults(url + "?connect_timeout=10&options=-csearch_path%3Dx")
    assert "connect_timeout" not in given and "options" not in given
    assert given["tcp_user_timeout"] == 3000


def test_sqlite_stores_never_trip(tmp_path):
    store = db.Store.open(db.sqlite_url(tmp_path))
    try:
        with pytest.raises(Exception):
            with store.write() as conn:
                conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
        assert not store.breaker.is_open
        with store.read() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        store.close()
