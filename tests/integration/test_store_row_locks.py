"""Read-modify-write of one row by two transactions at once (two threads, each on its own
connection: the store keeps one per thread) loses nothing: the cluster's lock and
`services.get(lock=True)` (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) make the
second read wait for the first's commit. Without them, on PostgreSQL at READ COMMITTED,
both read the same count and one increment is lost. Two transactions that lock in
opposite orders (what the lock order of clusters.lock forbids) deadlock on PostgreSQL:
the one it ends raises StoreConflict, a 503 to API clients, so the whole transaction is
retried, and the other commits."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from nozama.store import clusters, services, sql
from nozama.store.availability import OPEN
from nozama.store.db import Store, StoreConflict
from support.servers import postgres_url

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/locks"
SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/locks/web"
THREADS, INCREMENTS = 2, 50


OTHER = "arn:aws:ecs:us-east-1:123456789012:service/locks/api"


def _opened(url: str):
    store = Store.open(url)
    now = datetime.now(timezone.utc)
    with store.write() as conn:
        clusters.create(conn, "us-east-1", "123456789012", "locks", CLUSTER, now, {})
        for arn in (SERVICE, OTHER):
            services.create(conn, "us-east-1", "123456789012", CLUSTER, arn,
                            arn.rsplit("/", 1)[1], 0, now, {"desiredCount": 0}, {})
    return store


@pytest.fixture
def store(store_url):
    store = _opened(store_url)
    yield store
    store.close()


@pytest.fixture
def postgres_store():
    store = _opened(postgres_url())
    yield store
    store.close()


def _increment(store: Store, barrier: threading.Barrier, failures: list) -> None:
    try:
        barrier.wait()
        for _ in range(INCREMENTS):
            with store.write() as conn:
                # The lock order of every ECS write: the cluster, then the service.
                clusters.lock(conn, CLUSTER)
                row = services.get(conn, SERVICE, lock=True)
                count = row.desired_count + 1
                services.save(conn, SERVICE, desired_count=count,
                              doc={**row.doc, "desiredCount": count})
    except Exception as error:  # reported by the test, not lost in the thread
        failures.append(error)


@pytest.mark.store_matrix
def test_concurrent_increments_of_a_service_all_land(store):
    barrier, failures = threading.Barrier(THREADS), []
    threads = [threading.Thread(target=_increment, args=(store, barrier, failures))
               for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with store.read() as conn:
        row = services.get(conn, SERVICE)
    assert row.desired_count == THREADS * INCREMENTS
    assert row.doc["desiredCount"] == THREADS * INCREMENTS
    assert row.version == 1 + THREADS * INCREMENTS


@pytest.mark.store_matrix
def test_for_update_is_postgresql_only(store):
    with store.read() as conn:
        expected = "" if store.kind == "sqlite" else " FOR UPDATE"
        assert sql.FOR_UPDATE(conn) == expected


def test_a_deadlock_is_a_store_conflict_and_the_other_transaction_commits(postgres_store):
    barrier, outcomes = threading.Barrier(2), {}

    def lock_in_turn(first: str, second: str) -> None:
        try:
            with postgres_store.write() as conn:
                services.get(conn, first, lock=True)
                barrier.wait(timeout=10)
                services.get(conn, second, lock=True)
                services.save(conn, first, desired_count=1)
            outcomes[first] = "committed"
        except Exception as error:
            outcomes[first] = type(error)

    threads = [threading.Thread(target=lock_in_turn, args=pair)
               for pair in ((SERVICE, OTHER), (OTHER, SERVICE))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values(), key=str) == sorted(["committed", StoreConflict], key=str)
    assert postgres_store.breaker.state != OPEN   # the database is there: breaker closed
    with postgres_store.read() as conn:
        counts = {arn: services.get(conn, arn).desired_count for arn in (SERVICE, OTHER)}
    winner = next(arn for arn, outcome in outcomes.items() if outcome == "committed")
    assert counts == {arn: int(arn == winner) for arn in (SERVICE, OTHER)}
