"""Read-modify-write of one row by two transactions at once (two threads, each on its own
connection: the store keeps one per thread) loses nothing: the cluster's lock and
`services.get(lock=True)` (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) make the
second read wait for the first's commit. Without them, on PostgreSQL at READ COMMITTED,
both read the same count and one increment is lost."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from nozama.store import clusters, services, sql
from nozama.store.db import Store

pytestmark = pytest.mark.store_matrix

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/locks"
SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/locks/web"
THREADS, INCREMENTS = 2, 50


@pytest.fixture
def store(store_url):
    store = Store.open(store_url)
    now = datetime.now(timezone.utc)
    with store.write() as conn:
        clusters.create(conn, "us-east-1", "123456789012", "locks", CLUSTER, now, {})
        services.create(conn, "us-east-1", "123456789012", CLUSTER, SERVICE, "web", 0, now,
                        {"desiredCount": 0}, {})
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


def test_for_update_is_postgresql_only(store):
    with store.read() as conn:
        expected = "" if store.kind == "sqlite" else " FOR UPDATE"
        assert sql.FOR_UPDATE(conn) == expected
