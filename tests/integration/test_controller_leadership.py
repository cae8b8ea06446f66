"""Two `nozama server` processes on one PostgreSQL store: both serve the API, exactly one
leads the controllers. Killing the leader hands the lease to the other, with a higher
epoch, within 5 s, and its controllers act (an alarm moves, which only the leader's
evaluator does). A leader stopped past its lease (SIGSTOP) finds on SIGCONT that the
other leads: it says it lost the lease and stopped its controllers, and stays a
follower."""

from __future__ import annotations

import signal
import time

import pytest
import requests

from support.peers import peers
from support.servers import NozamaServer
from support.waiting import wait_for


def health(server: NozamaServer) -> dict:
    return requests.get(f"{server.endpoint}/_nozama/health", timeout=2).json()


@pytest.fixture
def pair(tmp_path):
    with peers(tmp_path, "first", "second", kill=True) as group:
        yield tuple(group.servers)


def test_one_leader_and_a_takeover_after_kill_9(pair):
    first, second = pair
    # The first server led from its start; the second follows and both see both.
    states = wait_for(lambda: (hs := [health(first), health(second)]) and
                      all(len(h["peers"]) == 2 for h in hs) and hs, timeout=5)
    assert [h["leader"] for h in states] == [True, False]
    assert {h["leaderId"] for h in states} == {states[0]["serverId"]}
    assert {h["epoch"] for h in states} == {states[0]["epoch"]}
    epoch = states[0]["epoch"]
    assert sorted(p["address"] for p in states[1]["peers"]) == sorted(
        [first.endpoint, second.endpoint])

    # (On one host a server whose pid is gone loses its lease at once; across hosts the
    # lease runs out first: the SIGSTOP test below.)
    first.kill()
    killed = time.monotonic()
    after = wait_for(lambda: (h := health(second))["leader"] and h, timeout=5, interval=0.1)
    assert time.monotonic() - killed < 5
    assert after["epoch"] > epoch and after["leaderId"] == after["serverId"]

    # The new leader's alarm evaluator runs: a breaching datapoint moves the alarm.
    cloudwatch = second.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="errors", Namespace="Shop", MetricName="Errors", Statistic="Sum",
        Period=1, EvaluationPeriods=3, DatapointsToAlarm=1, Threshold=5,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Errors", "Value": 9, "StorageResolution": 1}])
    wait_for(lambda: cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"][0]
             ["StateValue"] == "ALARM", timeout=10)


def test_a_leader_stopped_past_its_lease_is_fenced_and_stays_a_follower(pair):
    first, second = pair
    old = wait_for(lambda: (h := health(first))["leader"] and h, timeout=5)
    first.process.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    new = wait_for(lambda: (h := health(second))["leader"] and h, timeout=5, interval=0.1)
    assert time.monotonic() - stopped < 5   # the lease (3 s) ran out, plus one try (1 s)
    assert new["epoch"] > old["epoch"]
    time.sleep(1)
    first.process.send_signal(signal.SIGCONT)
    stepped_down = (f"server {old['serverId']} no longer leads (epoch {old['epoch']}): "
                    "its lease passed its local deadline; its controllers stopped")
    wait_for(lambda: stepped_down in first.log_path.read_text(), timeout=5)
    # No flip-flop: for several lease periods the old leader follows and the new one leads.
    for _ in range(8):
        a, b = health(first), health(second)
        assert (a["leader"], b["leader"]) == (False, True)
        assert a["leaderId"] == b["serverId"] and b["epoch"] == new["epoch"]
        time.sleep(0.5)
    assert first.log_path.read_text().count("leads the controllers") == 1
