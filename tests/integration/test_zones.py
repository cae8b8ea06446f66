"""Zones as failure domains, on hosts of their own (tests/support/netns.py): a service
spread over three zones behind a load balancer keeps serving while zone b is cut off,
comes back to an even spread when b returns, and agents cut off or killed lose nothing.

The control plane and the data plane run on their hosts, six simulated agents on
theirs (two per zone), and the test itself on the client host: its API calls and its
traffic cross the links a zone outage takes down.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from support.multihost import Cluster, ZonalService
from support.traffic import Load
from support.waiting import wait_for

pytestmark = pytest.mark.alone   # its figures hang on timing: not beside 3 other workers

REGION = "us-east-1"
CLIENT_TIMEOUT = 10   # support/traffic.Load's


@pytest.fixture
def cluster(hosts, tmp_path):
    with hosts.inside("client"):
        yield Cluster(hosts, tmp_path, REGION).start()


def test_a_zone_lost_and_back(cluster):
    service = ZonalService(cluster)
    wait_for(lambda: service.steady({"a": 2, "b": 2, "c": 2}), timeout=60)
    zones = service.zones()
    before = {t["taskArn"]: zones[t["containerInstanceArn"]] for t in service.tasks()}
    in_b = {arn for arn, zone in before.items() if zone == "b"}

    with Load(service.address, clients=4, port=80) as load:
        time.sleep(1)
        cluster.network.zone_down("b")
        down = time.monotonic()
        # The control plane restarted during the outage changes no outcome.
        cluster.kill_control()
        cluster.start_control()
        # b's targets leave the rotation; traffic goes on in a and c.
        wait_for(lambda: service.out_of_rotation("b"), timeout=30)
        out = time.monotonic() - down
        # Replaced in a and c: six tasks run again there.
        wait_for(lambda: service.spread() == Counter({"a": 3, "c": 3}), timeout=60)
        replaced = time.monotonic() - down
        time.sleep(max(0.0, down + out + CLIENT_TIMEOUT + 1 - time.monotonic()))
    # A request sent to b before it was out either finds its connection refused at once
    # or timing out (after 3 s: it is retried on another target, late but answered), or
    # was already in flight there: that one fails, at the client's timeout. None sent
    # after b was out fails.
    assert all(at < down + out + CLIENT_TIMEOUT for at in load.failed_at), \
        (out, load.failures[-5:])
    assert len(load.failures) / load.total < 0.01, (load.failures[-5:], load.total)
    assert out < 15, out
    assert replaced < out + 30, (out, replaced)
    # b's old tasks are desired STOPPED (their agents stop them when they return).
    stopping = {t["taskArn"] for t in service.tasks("STOPPED")}
    assert in_b <= stopping

    with Load(service.address, clients=4, port=80) as load:
        cluster.network.zone_up("b")
        # b's agents return; the replaced tasks stop there, and the service moves back to
        # an even spread without ever having fewer than six healthy targets.
        lowest = 6

        def rebalanced() -> bool:
            nonlocal lowest
            lowest = min(lowest, service.healthy())
            return service.steady({"a": 2, "b": 2, "c": 2})
        wait_for(rebalanced, timeout=120, interval=0.3)
    assert lowest >= 6
    assert load.failures == [] and load.total > 100
    # b's old tasks are stopped by their agents (as soon as they hear of it), not run twice.
    wait_for(lambda: {t["lastStatus"] for t in service.ecs.describe_tasks(tasks=list(in_b))[
        "tasks"]} == {"STOPPED"}, timeout=30)
    assert len([t for t in service.tasks() if t["lastStatus"] == "RUNNING"]) == 6


def test_an_agent_cut_off_or_killed_loses_nothing(cluster):
    service = ZonalService(cluster)
    wait_for(lambda: service.steady({"a": 2, "b": 2, "c": 2}), timeout=60)
    zones = service.zones()
    a1 = next(arn for arn, zone in zones.items() if zone == "a" and any(
        t["containerInstanceArn"] == arn for t in service.tasks()))
    started = {t["taskArn"] for t in service.tasks()}

    with Load(service.address, clients=4, port=80) as load:
        # a1's agent loses the control plane (only it: the load balancer still reaches
        # it) for longer than the control plane waits before calling it disconnected.
        host = agent_host(cluster, service, a1)
        cluster.network.partition(host, "control")
        wait_for(lambda: a1 not in service.connected(), timeout=30)
        time.sleep(3)
        # Its tasks serve on: healthy, not replaced.
        assert service.spread() == Counter({"a": 2, "b": 2, "c": 2})
        cluster.network.heal(host, "control")
        wait_for(lambda: a1 in service.connected(), timeout=60)
        time.sleep(2)
    assert load.failures == [] and load.total > 100
    # b1's agent killed: the next one adopts its tasks instead of starting them again.
    # (The simulated runtime's tasks live in its agent's process, so they stop answering
    # until then; Docker's containers run on: test_tasks_simulated, test_docker_runtime.)
    b1 = next(arn for arn, zone in zones.items() if zone == "b" and any(
        t["containerInstanceArn"] == arn for t in service.tasks()))
    host = agent_host(cluster, service, b1)
    cluster.kill_agent(host)
    cluster.start_agent(host)
    time.sleep(3)
    wait_for(lambda: service.steady({"a": 2, "b": 2, "c": 2}), timeout=30)
    # Nothing lost, nothing doubled: the same six tasks, and no other ever started.
    assert {t["taskArn"] for t in service.tasks()} == started
    assert service.tasks("STOPPED") == []


def agent_host(cluster: Cluster, service: ZonalService, instance_arn: str) -> str:
    """The test host whose agent registered `instance_arn` (by its address)."""
    (instance,) = service.cluster.client("ec2").describe_instances(InstanceIds=[
        service.ecs.describe_container_instances(containerInstances=[instance_arn])[
            "containerInstances"][0]["ec2InstanceId"]])["Reservations"][0]["Instances"]
    return next(name for name, host in cluster.network.hosts.items()
                if host.address == instance["PrivateIpAddress"])
