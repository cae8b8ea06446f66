"""Fixtures shared by every test: live Nozama servers and AWS clients pointed at them.

Which store backends a test runs on
-----------------------------------
A test that uses the `server` (or `backend`, `own_server`, ...) fixture runs on SQLite
only, unless it is marked `store_matrix`: then it runs once per store backend, SQLite and
PostgreSQL. Mark what exercises the store (CRUD, pagination, durability, concurrency,
fuzzing), module-wide with `pytestmark = pytest.mark.store_matrix` or test by test;
scenario tests (deployments, load balancer traffic, functions, Docker tasks) run once.
A PostgreSQL test fails, not skips, when NOZAMA_TEST_POSTGRES_URL is missing and CI is
set (`make test` and .ci/run set both).

Tests that run alone
--------------------
`make test` runs the suite on pytest-xdist workers, then the tests marked `alone` in
one process: they assert request rates through the load balancer, which parallel tests
on a 2-core machine would starve.

Settings for the processes the tests start
------------------------------------------
- NOZAMA_AGENT_METRICS_SECONDS=1: agents report task CPU and memory every second.
- NOZAMA_INTERVAL_SCALE=0.25: the control plane's own cadences (controller ticks and
  the like, see nozama/kernel/intervals.py) run four times as often. Intervals that
  users set through the API (health check intervals, alarm periods) are never scaled.
  Set NOZAMA_INTERVAL_SCALE=1 to run the suite at production cadence.
- Hypothesis: the "quick" profile by default; HYPOTHESIS_PROFILE=full for the full
  example counts (support/fuzzing.py).

Helpers (servers, agents, wait_for, error codes, ...) live in tests/support/.
"""

from __future__ import annotations

import os
import random
import string

import pytest

from support import fuzzing
from support.agents import AgentPool
from support.netns import hosts  # noqa: F401  (issue 17's hosts, as network namespaces)
from support.servers import REAL_TIME, NozamaServer, start_dataplane, store_args, store_url

# Agents the tests start report their tasks' CPU and memory every second, not every 10.
os.environ.setdefault("NOZAMA_AGENT_METRICS_SECONDS", "1")
# The control plane's internal cadences, four times as often (see the docstring).
os.environ.setdefault("NOZAMA_INTERVAL_SCALE", "0.25")
fuzzing.load_profile()

STORE_BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc):
    """Parametrize `backend` per test: both stores where marked store_matrix, else SQLite."""
    if "backend" in metafunc.fixturenames:
        matrix = metafunc.definition.get_closest_marker("store_matrix") is not None
        metafunc.parametrize("backend", STORE_BACKENDS if matrix else STORE_BACKENDS[:1],
                             indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def server(backend, tmp_path_factory):
    """One server per store backend for the whole session; tests isolate by region."""
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    instance = NozamaServer(store_args(backend, tmp), tmp / "server.log").start()
    yield instance
    instance.stop()


@pytest.fixture(name="store_url")
def store_url_fixture(backend, tmp_path) -> str:
    """A new, empty store's database URL, for tests that open the store in-process."""
    return store_url(backend, tmp_path)


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


@pytest.fixture
def acm(server, region):
    return server.client("acm", region)


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
    pool = AgentPool(server, region, tmp_path)
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def real_time_server(tmp_path_factory):
    """A SQLite server and its data plane at production cadence (NOZAMA_INTERVAL_SCALE=1),
    for the few tests whose assertions hang on it (say, the share of failed requests over
    a whole deployment, whose length the cadence sets)."""
    tmp = tmp_path_factory.mktemp("server-real-time")
    instance = NozamaServer(store_args("sqlite", tmp), tmp / "server.log",
                            env=REAL_TIME).start()
    lb = start_dataplane(instance, tmp / "lb.log")
    yield instance
    lb.terminate()
    assert lb.wait(timeout=15) == 0
    instance.stop()
