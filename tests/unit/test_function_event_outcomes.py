"""The event queue's decisions after (and before) a run, under a fake clock: retries wait
Lambda's 1 and 2 minutes, an event past MaximumEventAgeInSeconds is dropped with an
EventAgeExceeded record to OnFailure, and defaults apply without a configuration."""

from __future__ import annotations

import types

import orjson
import pytest

from nozama.functions import event_outcomes
from nozama.functions.events import EventQueue
from nozama.kernel.clock import FakeClock
from nozama.kernel.wakeups import Wakeups
from nozama.store import Store, function_event_configs, function_events
from nozama.store import functions as function_store
from nozama.store.db import sqlite_url

REGION, ACCOUNT = "us-east-1", "000000000000"
SINK = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sink"


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


def setup(store, clock, config: dict | None) -> None:
    with store.write() as conn:
        function_id = function_store.create(conn, REGION, ACCOUNT, "orders", "arn:orders", "0" * 64,
                                            clock.now(), {})
        if config is not None:
            function_event_configs.put(conn, function_id, "$LATEST", config)
        function_events.enqueue(conn, REGION, ACCOUNT, "orders", None, b'{"n": 1}', "req-1",
                                clock.now())


def queued(store, clock) -> list:
    with store.read() as conn:
        return function_events.oldest(conn, 0, 10, clock.now())


def test_an_event_past_its_maximum_age_goes_to_on_failure(store):
    clock = FakeClock()
    setup(store, clock, {"MaximumEventAgeInSeconds": 60,
                         "DestinationConfig": {"OnFailure": {"Destination": SINK}}})
    queue = EventQueue(types.SimpleNamespace(store=store, clock=clock, wakeups=Wakeups()))
    clock.advance(60)
    [row] = queued(store, clock)
    assert not queue._expired(row)  # 60 seconds old is not past 60
    clock.advance(1)
    assert queue._expired(row)
    [record] = queued(store, clock)
    assert (record.function_name, record.qualifier) == ("sink", None)
    doc = orjson.loads(record.payload)
    assert doc["requestContext"]["condition"] == "EventAgeExceeded"
    assert doc["requestContext"]["approximateInvokeCount"] == 0
    assert doc["requestPayload"] == {"n": 1} and "responseContext" not in doc


def test_retries_wait_one_then_two_base_delays_and_defaults_apply(store):
    clock = FakeClock()
    setup(store, clock, None)
    with store.read() as conn:
        [row] = function_events.oldest(conn, 0, 10, clock.now())
        settings = event_outcomes.settings(conn, row)
    assert (settings.retries, settings.max_age) == (2, 6 * 3600)
    assert settings.on_success is None and settings.on_failure is None
    base = event_outcomes.RETRY_SECONDS
    for attempts in (1, 2):
        with store.write() as conn:
            function_events.retry(conn, row.id, attempts,
                                  event_outcomes.retry_at(attempts, clock.now()))
        assert queued(store, clock) == []  # waiting for its time
        clock.advance(base * attempts)
        [row] = queued(store, clock)
        assert row.attempts == attempts
