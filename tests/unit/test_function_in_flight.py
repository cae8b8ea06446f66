"""Functions across servers on one store (SQLite, fake clock): a reserved concurrency
holds for the servers together, counting only live servers' executions, while functions
without a reservation never touch the shared count; and each server's work dir is its
own, so a server starting kills the workers of gone servers only."""

from __future__ import annotations

import os
import subprocess
import socket
from types import SimpleNamespace

import pytest

from nozama.functions.invoker import FunctionRuntime
from nozama.functions.limits import Throttled
from nozama.functions.work_dirs import WorkDirs
from nozama.functions.workers import LEFTOVER_MARK
from nozama.kernel.clock import FakeClock
from nozama.kernel.wakeups import Wakeups
from nozama.store import Store, function_in_flight, servers
from nozama.store.db import sqlite_url

REGION, ACCOUNT = "zz-test-1", "000000000000"


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


@pytest.fixture
def clock():
    return FakeClock()


def heartbeat(store, clock, *ids: str, host: str | None = None, pid: int | None = None):
    with store.write() as conn:
        for server_id in ids:
            servers.heartbeat(conn, server_id, host or socket.gethostname(),
                              pid or os.getpid(), "http://" + server_id, "test",
                              clock.now(), clock.now())


def runtime(store, clock, root, server_id) -> FunctionRuntime:
    return FunctionRuntime(store, clock, root, Wakeups(), server_id)


def live_servers(store, clock, tmp_path, *ids: str) -> list[FunctionRuntime]:
    """One runtime per server id, sharing one functions root, each server alive."""
    made = [runtime(store, clock, tmp_path / "functions", server_id) for server_id in ids]
    heartbeat(store, clock, *ids)
    return made


def route(reserved: int | None, name: str = "orders"):
    return SimpleNamespace(function_name=name, reserved=reserved, resource=None,
                           primary=SimpleNamespace(region=REGION, account=ACCOUNT))


def shared_rows(store) -> list:
    with store.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT server_id, function_name, in_flight FROM function_in_flight "
            "ORDER BY server_id")]


def test_a_reservation_of_one_admits_one_execution_across_two_servers(store, clock, tmp_path):
    a, b = live_servers(store, clock, tmp_path, "a", "b")
    orders = route(1)
    a.admit(orders)
    with pytest.raises(Throttled) as throttled:
        b.admit(orders)
    assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    with pytest.raises(Throttled):   # and on the same server, as before
        a.admit(orders)
    assert shared_rows(store) == [("a", "orders", 1)]
    a._leave(orders)
    assert shared_rows(store) == [("a", "orders", 0)]
    b.admit(orders)   # the slot is free again, on any server
    assert shared_rows(store) == [("a", "orders", 0), ("b", "orders", 1)]
    with pytest.raises(Throttled):
        a.admit(orders)


def test_a_reservation_of_two_is_shared_not_per_server(store, clock, tmp_path):
    a, b = live_servers(store, clock, tmp_path, "a", "b")
    orders = route(2)
    a.admit(orders)
    b.admit(orders)
    for server in (a, b):
        with pytest.raises(Throttled):
            server.admit(orders)


def test_a_dead_servers_executions_count_for_nothing(store, clock, tmp_path):
    a, b = live_servers(store, clock, tmp_path, "a", "b")
    orders = route(1)
    a.admit(orders)     # then a dies with its execution counted
    clock.advance(servers.STALE_AFTER.total_seconds() + 1)
    heartbeat(store, clock, "b")
    b.admit(orders)
    with store.read() as conn:
        assert function_in_flight.total(conn, REGION, ACCOUNT, "orders", clock.now()) == 1
    with store.write() as conn:
        assert function_in_flight.sweep(conn, clock.now()) == 1
    assert shared_rows(store) == [("b", "orders", 1)]


def test_functions_without_a_reservation_are_counted_locally_only(store, clock, tmp_path):
    (a,) = live_servers(store, clock, tmp_path, "a")
    free = route(None, "free")
    for _ in range(5):
        a.admit(free)
    assert a.in_flight[(REGION, ACCOUNT, "free")] == 5
    assert shared_rows(store) == []


def sleeper(mark: str) -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"], env={**os.environ, LEFTOVER_MARK: mark})


def test_a_starting_server_kills_only_the_workers_of_gone_servers(store, clock, tmp_path):
    root = tmp_path / "functions"
    for name in ("live", "dead", "exited", "unknown"):
        (root / name).mkdir(parents=True)
    heartbeat(store, clock, "live")
    heartbeat(store, clock, "exited", pid=2 ** 22 + 1)   # no such process on this host
    heartbeat(store, clock, "dead")
    clock.advance(servers.STALE_AFTER.total_seconds() + 1)
    heartbeat(store, clock, "live", "exited")
    processes = {name: sleeper(str(root / name))
                 for name in ("live", "dead", "exited", "unknown", "new")}
    processes["legacy"] = sleeper(str(root))   # marked before per-server work dirs
    try:
        made = runtime(store, clock, root, "new")
        assert made.work_dir == str(root / "new")
        for name, process in processes.items():
            if name == "live":
                assert process.poll() is None, "a live server's worker was killed"
            else:
                assert process.wait(timeout=5) == -9, name
        assert sorted(p.name for p in root.iterdir()) == ["live"]
    finally:
        for process in processes.values():
            process.kill()
            process.wait()


def test_container_labels_of_live_servers_and_other_stores_are_not_leftovers(store, clock,
                                                                             tmp_path):
    root = tmp_path / "functions"
    heartbeat(store, clock, "live", "me")
    test = WorkDirs(store, clock, root, "me").leftover_test()
    assert test(str(root / "me")) and test(str(root)) and test(str(root / "gone"))
    assert not test(str(root / "live"))
    assert not test(str(tmp_path / "other-store" / "gone"))
