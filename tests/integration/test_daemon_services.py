"""DAEMON services with simulated agents: a task on every instance, started as instances
join and stopped as they drain (after the replicas on them), deployments instance by
instance, and the REPLICA-only parameters refused as ECS refuses them."""

from __future__ import annotations

import time

import pytest

from support.services import connected, definition, running_tasks, service
from support.waiting import wait_for


def create_daemon(ecs, td: str, **extra) -> dict:
    return ecs.create_service(serviceName="log", taskDefinition=td,
                              schedulingStrategy="DAEMON", **extra)["service"]


def instances_of(tasks: list[dict]) -> list[str]:
    return sorted(t["containerInstanceArn"] for t in tasks)


def on_every(ecs, instances: list[str], revision: str | None = None) -> list[dict]:
    """The daemon's running tasks once there is one on each of `instances` and no other."""
    def check():
        tasks = running_tasks(ecs, "log")
        s = service(ecs, "log")
        done = instances_of(tasks) == sorted(instances) and \
            s["desiredCount"] == len(instances) and \
            (revision is None or {t["taskDefinitionArn"] for t in tasks} == {revision})
        return done and tasks
    return wait_for(check, timeout=30)


def test_a_daemon_runs_on_every_instance_as_they_join_and_drain(ecs, agents):
    agents(3)
    first = wait_for(lambda: len(found := connected(ecs)) == 3 and found)
    created = create_daemon(ecs, definition(ecs, "log"))
    assert created["schedulingStrategy"] == "DAEMON"
    assert created["deploymentConfiguration"]["maximumPercent"] == 100
    assert created["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert created["availabilityZoneRebalancing"] == "DISABLED"
    on_every(ecs, first)
    # A fourth instance joins: it gets the daemon too.
    agents(1)
    four = wait_for(lambda: len(found := connected(ecs)) == 4 and found)
    on_every(ecs, four)
    # A replica service beside it; the instance to drain runs one of its tasks.
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=2)
    web = wait_for(lambda: len(found := running_tasks(ecs, "web")) == 2 and found)
    drained = web[0]["containerInstanceArn"]
    daemon_there = next(t for t in running_tasks(ecs, "log")
                        if t["containerInstanceArn"] == drained)
    ecs.update_container_instances_state(containerInstances=[drained], status="DRAINING")
    on_every(ecs, [i for i in four if i != drained])
    stopped = ecs.describe_tasks(tasks=[daemon_there["taskArn"], web[0]["taskArn"]])["tasks"]
    daemon_task, replica = sorted(stopped, key=lambda t: t["group"])
    assert daemon_task["desiredStatus"] == replica["desiredStatus"] == "STOPPED"
    # The daemon went last: asked to stop only once the replica had stopped.
    assert daemon_task["stoppingAt"] >= replica["stoppedAt"]
    # ACTIVE again: it gets its daemon back.
    ecs.update_container_instances_state(containerInstances=[drained], status="ACTIVE")
    on_every(ecs, four)
    s = service(ecs, "log")
    assert s["desiredCount"] == 4 and s["runningCount"] == 4


def test_a_daemon_deployment_replaces_instance_by_instance(ecs, agents):
    agents(3)
    three = wait_for(lambda: len(found := connected(ecs)) == 3 and found)
    create_daemon(ecs, definition(ecs, "log"),
                  deploymentConfiguration={"minimumHealthyPercent": 50})
    on_every(ecs, three)
    second = definition(ecs, "log")
    ecs.update_service(service="log", taskDefinition=second)
    fewest, deadline = 3, time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = running_tasks(ecs, "log")
        fewest = min(fewest, len(tasks))
        # Never two tasks on one instance (maximumPercent 100).
        assert len(set(instances_of(tasks))) == len(tasks)
        s = service(ecs, "log")
        if len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert fewest >= 2  # 50% of 3, rounded up: one instance at a time
    on_every(ecs, three, second)


def refused(call, **params) -> str:
    with pytest.raises(Exception) as info:
        call(**params)
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidParameterException", error
    return error["Message"]


def test_replica_only_parameters_are_refused_for_a_daemon(ecs):
    ecs.create_cluster(clusterName="default")
    td = definition(ecs, "log")
    base = {"serviceName": "log", "taskDefinition": td, "schedulingStrategy": "DAEMON"}
    for extra, message in [
        ({"desiredCount": 1}, "does not support a desired count for services"),
        ({"placementStrategy": [{"type": "spread", "field": "instanceId"}]},
         "does not support placement strategies"),
        ({"deploymentConfiguration": {"maximumPercent": 200}},
         "does not support values above 100 for maximumPercent"),
        ({"deploymentController": {"type": "CODE_DEPLOY"}}, "CODE_DEPLOY deployment controller"),
        ({"capacityProviderStrategy": [{"capacityProvider": "cp"}]},
         "capacity provider strategy is not supported"),
        ({"availabilityZoneRebalancing": "ENABLED"}, "Availability Zone rebalancing"),
        ({"deploymentConfiguration": {"strategy": "BLUE_GREEN"}}, "BLUE_GREEN"),
    ]:
        assert message in refused(ecs.create_service, **base, **extra)
    assert ecs.list_services()["serviceArns"] == []
    create_daemon(ecs, td)
    for extra, message in [
        ({"desiredCount": 2}, "does not support a desired count for services"),
        ({"placementStrategy": [{"type": "random"}]}, "does not support placement strategies"),
        ({"deploymentConfiguration": {"maximumPercent": 150}}, "maximumPercent"),
    ]:
        assert message in refused(ecs.update_service, service="log", **extra)
    s = service(ecs, "log")
    assert s["placementStrategy"] == [] and s["deploymentConfiguration"]["maximumPercent"] == 100
    assert len(s["deployments"]) == 1
    # A daemon is deleted without scaling it down first (it has no count to scale).
    assert ecs.delete_service(service="log")["service"]["status"] == "DRAINING"
