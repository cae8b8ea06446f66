"""`nozama server --workers 2` on a SQLite store: two API processes on one port under a
supervisor (cli/workers.py). Both serve, one leads; a write through one is read through
the other; a task the leader places reaches an agent long-polling the other worker at
once (the wake-up crosses over the workers' unix sockets, kernel/unix_wakeups.py);
a worker killed with SIGKILL is restarted while requests keep succeeding; SIGTERM to the
supervisor stops everything. And a SQLite store served from another host is refused."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from nozama.cli.server import run_dir
from nozama.kernel.unix_wakeups import sockets_dir
from nozama.store import Store
from nozama.store import servers as server_store
from nozama.store.db import sqlite_url
from nozama.kernel.clock import Clock
from support.servers import REAL_TIME, ROOT, NozamaServer, free_port, signed_headers
from support.waiting import wait_for

ECS = "AmazonEC2ContainerServiceV20141113."
REGION = "us-east-1"


class Pinned:
    """One TCP connection, so one worker: it never opens another behind the test's back."""

    def __init__(self, server: NozamaServer):
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.conn.connect()
        self.conn.auto_open = 0
        self.server_id = self.health()["serverId"]

    def call(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
             service: str | None = None) -> tuple[int, dict]:
        headers = dict(headers or {})
        if service is not None:
            headers = signed_headers(self.server, method, f"{self.server.endpoint}{path}",
                                     service, REGION, body, headers)
        self.conn.request(method, path, body=body or None, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def health(self) -> dict:
        status, document = self.call("GET", "/_nozama/health",
                                     headers={"X-Nozama-Client": "test"})
        assert status == 200, document
        return document

    def ecs(self, operation: str, **params) -> dict:
        status, document = self.call("POST", "/", json.dumps(params).encode(), {
            "X-Amz-Target": ECS + operation,
            "Content-Type": "application/x-amz-json-1.1"}, service="ecs")
        assert status == 200, (operation, document)
        return document

    def agent(self, operation: str, **body) -> dict:
        status, document = self.call("POST", f"/_nozama/agent/v1/{operation}",
                                     json.dumps(body).encode(), {
                                         "X-Nozama-Client": "agent",
                                         "Content-Type": "application/json"}, service="ecs")
        assert status == 200, (operation, document)
        return document

    def close(self) -> None:
        self.conn.close()


def one_health(server: NozamaServer) -> dict:
    """The health of whichever worker a new connection reaches."""
    pinned = Pinned(server)
    try:
        return pinned.health()
    finally:
        pinned.close()


def pin_each(server: NozamaServer, count: int = 2) -> dict[str, Pinned]:
    """A connection to each of `count` workers (new connections until each was reached;
    a worker still starting on a loaded machine is waited for)."""
    pinned: dict[str, Pinned] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        connection = Pinned(server)
        if connection.server_id in pinned:
            connection.close()
            time.sleep(0.05)
        else:
            pinned[connection.server_id] = connection
        if len(pinned) == count:
            return pinned
    raise AssertionError(f"only workers {sorted(pinned)} answered")


def worker_pids(server: NozamaServer) -> dict[str, int]:
    store = Store.open(sqlite_url(server.data_dir))
    try:
        with store.read() as conn:
            return {row.id: row.pid for row in server_store.live(conn, Clock().now())}
    finally:
        store.close()


def parent_of(pid: int) -> int:
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def workers(tmp_path):
    server = NozamaServer(["--data-dir", str(tmp_path / "data"), "--workers", "2"],
                          tmp_path / "server.log", env=REAL_TIME).start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_two_workers_serve_one_port_one_leads_and_survive_a_kill(workers):
    # Both answer, each under its own server id, and they agree on one leader.
    pinned = pin_each(workers)
    healths = {server_id: connection.health() for server_id, connection in pinned.items()}
    assert [h["leader"] for h in healths.values()].count(True) == 1
    leader = next(server_id for server_id, h in healths.items() if h["leader"])
    follower = next(server_id for server_id in pinned if server_id != leader)
    assert {h["leaderId"] for h in healths.values()} == {leader}
    assert {p["id"] for p in healths[follower]["peers"]} == set(pinned)

    # A write through one worker is read through the other.
    pinned[follower].ecs("CreateCluster", clusterName="shared")
    described = pinned[leader].ecs("DescribeClusters", clusters=["shared"])
    assert [c["status"] for c in described["clusters"]] == ["ACTIVE"]

    # An agent long-polls the follower; the leader's service controller places the
    # task; the poll returns at once, not at its 20 s timeout.
    agent = pin_each(workers)[follower]
    registered = agent.agent("register", region=REGION, cluster="shared",
                             instanceIdentityDocument=json.dumps({"instanceId": "i-1"}),
                             totalResources=[
                                 {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                                 {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}])
    arn = registered["containerInstance"]["containerInstanceArn"]
    first = agent.agent("poll", containerInstanceArn=arn)
    assert first["tasks"] == []
    answer: dict = {}

    def long_poll():
        answer.update(agent.agent("poll", containerInstanceArn=arn, digest=first["digest"]))
        answer["at"] = time.monotonic()
    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(1)   # the poll is waiting on the follower
    pinned[leader].ecs("RegisterTaskDefinition", family="web", containerDefinitions=[
        {"name": "web", "image": "nozama-test/busybox:latest", "memory": 64}])
    created = time.monotonic()
    pinned[leader].ecs("CreateService", cluster="shared", serviceName="web",
                       taskDefinition="web", desiredCount=1, launchType="EC2")
    poller.join(30)
    assert not poller.is_alive()
    assert len(answer["tasks"]) == 1
    assert answer["at"] - created < 5, "the wake-up did not cross to the follower"
    for connection in [*pinned.values(), agent]:
        connection.close()

    # SIGKILL one worker (the leader): the supervisor starts another; meanwhile every
    # request succeeds (on new connections, which reach only the live worker), and the
    # follower takes the lead.
    pids = worker_pids(workers)
    os.kill(pids[leader], signal.SIGKILL)
    wait_for(lambda: not alive(pids[leader]), timeout=10)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert one_health(workers)["serverId"] != leader
    client = workers.client("ecs")
    for _ in range(20):
        assert client.list_clusters()["clusterArns"]
    restarted = wait_for(lambda: set(worker_pids(workers)) - set(pids), timeout=30)
    assert len(restarted) == 1
    (new_id,) = restarted
    assert parent_of(worker_pids(workers)[new_id]) == workers.process.pid
    again = pin_each(workers)
    assert set(again) == {follower, new_id}
    wait_for(lambda: one_health(workers)["leaderId"] == follower, timeout=10)
    assert [c.health()["leader"] for c in again.values()].count(True) == 1
    assert client.describe_services(cluster="shared", services=["web"])["services"]
    for connection in again.values():
        connection.close()

    # SIGTERM to the supervisor: it stops its workers, then exits 0.
    pids = worker_pids(workers)
    assert workers.stop() == 0
    assert not any(alive(pid) for pid in pids.values())
    sockets = sockets_dir(run_dir(workers.data_dir))   # a short one when the data dir is deep
    assert list(sockets.iterdir()) == []   # sockets removed
    with socket.socket() as probe:   # the port is free again (TIME_WAIT aside)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", workers.port))
        probe.listen()


@pytest.mark.parametrize("count", ["1", "2"])
def test_a_sqlite_store_served_from_another_host_is_refused(tmp_path, count):
    data = tmp_path / "data"
    store = Store.open(sqlite_url(data))
    now = Clock().now()
    with store.write() as conn:
        server_store.heartbeat(conn, "elsewhere", "other-host", 4242,
                               "http://10.0.0.9:4566", "0.1.0", now, now)
    store.close()
    done = subprocess.run(
        [sys.executable, "-m", "nozama", "server", "--data-dir", str(data),
         "--port", str(free_port()), "--workers", count],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "'other-host'" in done.stderr
    assert "several hosts need PostgreSQL" in done.stderr


def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "nozama", "server", "--data-dir", str(tmp_path / "data"),
             "--port", str(port), "--workers", "2"],
            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "worker 1 started" not in done.stderr
