"""The store is the truth: kill the server at any moment and nothing acknowledged is lost."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import requests
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from nozama.store import Store
from nozama.store.schema import metadata

from support.migrations import upgrade_to
from support.servers import store_args, store_url
from support.waiting import wait_for

# Durability, migrations and concurrent writers are the store's own: on both backends.
pytestmark = pytest.mark.store_matrix


def test_acknowledged_writes_survive_kill_9(own_server):
    own_server.start()
    ecs = own_server.client("ecs", "eu-west-1")
    acknowledged: list[int] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def write_until_killed():
        n = 0
        while not stop.is_set():
            try:
                ecs.register_task_definition(family="durable", containerDefinitions=[
                    {"name": "app", "image": "busybox", "memory": 64}])
                ecs.create_cluster(clusterName=f"c{n}")
            except Exception as error:  # the server died mid-request: not acknowledged
                failures.append(error)
                return
            acknowledged.append(n)
            n += 1

    writer = threading.Thread(target=write_until_killed)
    writer.start()
    # Killed while writing, once some writes are in (however loaded the machine is).
    wait_for(lambda: len(acknowledged) > 5 or not writer.is_alive(), timeout=60)
    assert len(acknowledged) > 5, f"the writes failed before the kill: {failures}"
    time.sleep(0.3)
    own_server.kill()
    stop.set()
    writer.join(timeout=30)

    own_server.start()
    ecs = own_server.client("ecs", "eu-west-1")
    revisions = ecs.list_task_definitions(familyPrefix="durable", maxResults=100)
    arns = []
    while True:
        arns += revisions["taskDefinitionArns"]
        if "nextToken" not in revisions:
            break
        revisions = ecs.list_task_definitions(familyPrefix="durable",
                                              nextToken=revisions["nextToken"])
    # Every acknowledged registration is there (one more may have committed unacknowledged).
    assert len(arns) in (len(acknowledged), len(acknowledged) + 1)
    assert arns[0].endswith("task-definition/durable:1")
    clusters = ecs.describe_clusters(clusters=[f"c{n}" for n in acknowledged[-50:]])
    assert not clusters["failures"]
    assert {c["status"] for c in clusters["clusters"]} == {"ACTIVE"}


def test_sigterm_stops_cleanly_and_state_is_kept(own_server):
    own_server.start()
    own_server.client("ecs").create_cluster(clusterName="kept")
    assert own_server.stop() == 0
    own_server.start()
    described = own_server.client("ecs").describe_clusters(clusters=["kept"])
    assert described["clusters"][0]["status"] == "ACTIVE"


def test_health_reports_version_store_and_uptime(own_server, backend):
    own_server.start()
    health = requests.get(f"{own_server.endpoint}/_nozama/health", timeout=5).json()
    assert health["status"] == "ok"
    assert health["store"] == {"sqlite": "sqlite", "postgres": "postgresql"}[backend]
    assert health["version"]
    assert health["uptimeSeconds"] >= 0


def test_migrations_produce_exactly_the_schema(backend, tmp_path):
    url = store_args(backend, tmp_path)[1]
    if backend == "sqlite":
        from nozama.store.db import sqlite_url
        url = sqlite_url(url)
    store = Store.open(url)
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    # Migrating again (every restart does) is a no-op that keeps data.
    with store.write() as conn:
        conn.execute(sqlalchemy.text(
            "INSERT INTO tags (resource_arn, key, value) VALUES ('arn:x', 'k', 'v')"))
    Store.open(url).migrate()
    with store.read() as conn:
        assert conn.execute(sqlalchemy.text("SELECT value FROM tags")).scalar() == "v"
    store.close()


def test_processes_starting_at_once_migrate_one_at_a_time(backend, tmp_path):
    """`nozama up` starts the server and the data plane together on a new store."""
    url = store_args(backend, tmp_path)[1]
    if backend == "sqlite":
        from nozama.store.db import sqlite_url
        url = sqlite_url(url)
    starts = [subprocess.Popen([sys.executable, "-c", "import sys; from nozama.store import "
                                "Store; Store.open(sys.argv[1]).close()", url],
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for start in starts:
        _, errors = start.communicate(timeout=60)
        assert start.returncode == 0, errors[-2000:]
    store = Store.open(url)
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    store.close()


def test_upgrading_to_the_task_health_columns_keeps_and_copies_task_state(backend, tmp_path):
    """Migration 0006 copies each task's startedAt, healthStatus and stopCode into columns."""
    store = Store.open(store_url(backend, tmp_path), migrate=False)
    upgrade_to(store, "0005")
    insert = sqlalchemy.text(
        "INSERT INTO tasks (region, account, cluster_arn, arn, task_definition_arn, family, "
        "launch_type, last_status, desired_status, created_at, version, doc) VALUES "
        "('r', 'a', 'c', :arn, 'td', 'f', 'EC2', :status, 'RUNNING', :created, 1, :doc)")
    with store.write() as conn:
        conn.execute(insert, {"arn": "t-running", "status": "RUNNING",
                              "created": "2026-01-01 00:00:00.000000",
                              "doc": '{"startedAt": 1767225600.5, "healthStatus": "HEALTHY"}'})
        conn.execute(insert, {"arn": "t-stopped", "status": "STOPPED",
                              "created": "2026-01-01 00:00:00.000000",
                              "doc": '{"stopCode": "EssentialContainerExited"}'})
    store.migrate()
    with store.read() as conn:
        rows = {r.arn: r for r in conn.execute(sqlalchemy.text(
            "SELECT arn, started_at, health_status, stop_code FROM tasks"))}
    assert rows["t-running"].health_status == "HEALTHY"
    assert rows["t-running"].stop_code is None
    assert str(rows["t-running"].started_at).startswith("2026-01-01 00:00:00.5")
    assert rows["t-stopped"].started_at is None
    assert rows["t-stopped"].health_status == "UNKNOWN"
    assert rows["t-stopped"].stop_code == "EssentialContainerExited"
    store.close()
