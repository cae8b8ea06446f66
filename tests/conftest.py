"""Fixtures shared by every test: live Nozama servers and AWS clients pointed at them."""

from __future__ import annotations

import os
import random
import string
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests

POSTGRES_URL = os.environ.get("NOZAMA_TEST_POSTGRES_URL")
# Agents the tests start report their tasks' CPU and memory every second, not every 10.
os.environ.setdefault("NOZAMA_AGENT_METRICS_SECONDS", "1")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_postgres_url(url: str) -> str:
    """A URL whose tables live in a new, empty schema: servers never share state."""
    import sqlalchemy
    from nozama.store.db import normalize_url
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


class NozamaServer:
    """A `nozama server` subprocess on an ephemeral port."""

    def __init__(self, store_args: list[str], log_path: Path):
        self.store_args = store_args
        self.log_path = log_path
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "NozamaServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nozama", "server", "--port", str(self.port),
             *self.store_args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nozama server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.endpoint}/_nozama/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("nozama server did not become healthy")

    def kill(self) -> None:
        """SIGKILL: the harshest way to stop, for durability tests."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=20)

    def client(self, service: str, region: str = "us-east-1"):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id="AKIDNOZAMATEST", aws_secret_access_key="secret",
            config=botocore.config.Config(retries={"max_attempts": 1}))


def store_args(backend: str, tmp_path: Path) -> list[str]:
    if backend == "postgres":
        if not POSTGRES_URL:
            # CI (and `make test`) always start PostgreSQL: there a missing URL is a failure.
            if os.environ.get("CI"):
                pytest.fail("NOZAMA_TEST_POSTGRES_URL is not set in CI")
            pytest.skip("NOZAMA_TEST_POSTGRES_URL is not set: run `make test` for PostgreSQL")
        return ["--database-url", fresh_postgres_url(POSTGRES_URL)]
    return ["--data-dir", str(tmp_path / "data")]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def server(backend, tmp_path_factory):
    """One server per store backend for the whole session; tests isolate by region."""
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    instance = NozamaServer(store_args(backend, tmp), tmp / "server.log").start()
    yield instance
    instance.stop()


@pytest.fixture
def region() -> str:
    """A region of the test's own: regions are isolated, so tests don't see each other.
    Shaped as Lambda's ARN patterns want regions (letters, then a digit: zz-name-1)."""
    return "zz-" + "".join(random.choices(string.ascii_lowercase, k=12)) + "-1"


@pytest.fixture
def own_server(backend, tmp_path):
    """A server of the test's own, which the test may kill and restart."""
    instance = NozamaServer(store_args(backend, tmp_path), tmp_path / "server.log")
    yield instance
    if instance.process and instance.process.poll() is None:
        instance.kill()


@pytest.fixture
def ecs(server, region):
    return server.client("ecs", region)


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value!r}")
        time.sleep(interval)


class AgentProcess:
    def __init__(self, server, region: str, zone: str, data_dir, cluster: str = "default",
                 runtime: str = "simulated", extra: list[str] = ()):
        self.args = [sys.executable, "-m", "nozama", "agent", "--endpoint", server.endpoint,
                     "--region", region, "--cluster", cluster, "--availability-zone", zone,
                     "--runtime", runtime, "--data-dir", str(data_dir), "--cleanup-wait", "1",
                     "--log-level", "warning", *extra]
        self.process = None

    def start(self) -> "AgentProcess":
        self.process = subprocess.Popen(self.args, cwd=ROOT)
        return self

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def start_dataplane(server: NozamaServer, log_path: Path) -> subprocess.Popen:
    """`nozama lb` on a server's store."""
    return subprocess.Popen([sys.executable, "-m", "nozama", "lb", *server.store_args,
                             "--log-level", "warning"], stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT, cwd=ROOT)


@pytest.fixture(scope="session")
def dataplane(server, tmp_path_factory):
    """`nozama lb` on the session's store: one per store, as listeners bind real addresses."""
    process = start_dataplane(server, tmp_path_factory.mktemp("lb") / "lb.log")
    yield process
    process.terminate()
    assert process.wait(timeout=15) == 0


@pytest.fixture
def elb(server, region, dataplane):
    return server.client("elbv2", region)


@pytest.fixture
def agents(server, region, tmp_path):
    """Start agent processes for the test's region: agents(count, cluster=..., runtime=...)."""
    started = []

    def start(count: int = 1, cluster: str = "default", **kwargs) -> list[AgentProcess]:
        for n in range(count):
            zone = f"{region}{'abc'[len(started) % 3]}"
            started.append(AgentProcess(server, region, zone, tmp_path / f"agent-{len(started)}",
                                        cluster, **kwargs).start())
        return started[-count:]

    yield start
    for agent in started:
        agent.stop()
