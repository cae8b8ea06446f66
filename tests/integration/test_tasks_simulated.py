"""Tasks through the ECS API, run by real agent processes on the simulated runtime.

The same flows run on real Docker in test_tasks_docker.py; the simulated
runtime makes the control plane's side cheap to test on both store backends.
"""

from __future__ import annotations

import time

import pytest

from support.agents import AgentProcess
from support.servers import NozamaServer
from support.waiting import wait_for


def connected_instances(ecs, cluster="default") -> list[str]:
    try:
        return ecs.list_container_instances(cluster=cluster,
                                            filter="agentConnected == true")[
            "containerInstanceArns"]
    except ecs.exceptions.ClusterNotFoundException:
        return []


def register(ecs, family="web", memory=128, labels=None, essential=True, extra=None):
    container = {"name": "app", "image": "busybox", "memory": memory, "essential": essential,
                 "portMappings": [{"containerPort": 8080, "hostPort": 0}],
                 "dockerLabels": labels or {}}
    containers = [container] + (extra or [])
    return ecs.register_task_definition(family=family, containerDefinitions=containers)[
        "taskDefinition"]["taskDefinitionArn"]


def task(ecs, arn, cluster="default") -> dict:
    return ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]


def test_agent_registers_with_its_zone_resources_and_attributes(ecs, agents, region):
    agents(1)
    arns = wait_for(lambda: connected_instances(ecs))
    instance = ecs.describe_container_instances(containerInstances=arns)["containerInstances"][0]
    assert instance["agentConnected"] is True
    attributes = {a["name"]: a.get("value") for a in instance["attributes"]}
    assert attributes["ecs.availability-zone"] == f"{region}a"
    assert attributes["ecs.os-type"] == "linux"
    assert "ecs.capability.container-health-check" in attributes
    resources = {r["name"]: r for r in instance["registeredResources"]}
    assert resources["CPU"]["integerValue"] == 4096
    assert set(resources["PORTS"]["stringSetValue"]) == {"22", "2375", "2376", "51678", "51679"}


def test_run_task_reaches_running_and_stop_task_stops_it(ecs, agents):
    agents(1)
    wait_for(lambda: connected_instances(ecs))
    definition = register(ecs)
    run = ecs.run_task(taskDefinition=definition, startedBy="tester")
    assert run["failures"] == []
    arn = run["tasks"][0]["taskArn"]
    running = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "RUNNING" and t)
    container = running["containers"][0]
    assert container["lastStatus"] == "RUNNING" and container["runtimeId"]
    binding = container["networkBindings"][0]
    assert binding["containerPort"] == 8080 and 49153 <= binding["hostPort"] <= 65535
    assert running["startedAt"] and running["pullStartedAt"] and running["pullStoppedAt"]
    instance = ecs.describe_container_instances(
        containerInstances=[running["containerInstanceArn"]])["containerInstances"][0]
    assert instance["runningTasksCount"] == 1
    memory = {r["name"]: r for r in instance["remainingResources"]}["MEMORY"]["integerValue"]
    assert memory == 8192 - 128
    assert ecs.list_tasks(startedBy="tester")["taskArns"] == [arn]

    stopped = ecs.stop_task(task=arn, reason="done here")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    final = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert final["stoppedReason"] == "done here"
    assert final["stopCode"] == "UserInitiated"
    assert final["containers"][0]["exitCode"] == 143
    assert ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] == [arn]
    instance = ecs.describe_container_instances(
        containerInstances=[final["containerInstanceArn"]])["containerInstances"][0]
    assert instance["runningTasksCount"] == 0
    assert {r["name"]: r for r in instance["remainingResources"]}["MEMORY"][
        "integerValue"] == 8192
    # StopTask on a stopped task changes nothing.
    again = ecs.stop_task(task=arn, reason="twice")["task"]
    assert again["stoppedReason"] == "done here"


def test_essential_container_exit_stops_the_task_with_its_exit_code(ecs, agents):
    agents(1)
    wait_for(lambda: connected_instances(ecs))
    definition = register(ecs, labels={"nozama.simulated.exit-after": "0.2",
                                       "nozama.simulated.exit-code": "3"})
    arn = ecs.run_task(taskDefinition=definition)["tasks"][0]["taskArn"]
    final = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert final["stopCode"] == "EssentialContainerExited"
    assert final["stoppedReason"] == "Essential container in task exited"
    assert final["containers"][0]["exitCode"] == 3


def test_pull_failure_is_a_task_failed_to_start(ecs, agents):
    agents(1)
    wait_for(lambda: connected_instances(ecs))
    definition = register(ecs, labels={"nozama.simulated.fail": "pull"})
    arn = ecs.run_task(taskDefinition=definition)["tasks"][0]["taskArn"]
    final = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert final["stopCode"] == "TaskFailedToStart"
    assert final["stoppedReason"].startswith("CannotPullContainerError")


def test_placement_failures_name_the_missing_resource(ecs, agents):
    agents(1)
    arns = wait_for(lambda: connected_instances(ecs))
    too_big = register(ecs, family="huge", memory=100_000)
    run = ecs.run_task(taskDefinition=too_big)
    assert run["tasks"] == []
    assert run["failures"] == [{"arn": arns[0], "reason": "RESOURCE:MEMORY"}]
    fixed = ecs.register_task_definition(family="fixed", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 64,
        "portMappings": [{"containerPort": 80, "hostPort": 8081}]}])["taskDefinition"]
    first = ecs.run_task(taskDefinition=fixed["taskDefinitionArn"], count=2)
    assert len(first["tasks"]) == 1
    assert first["failures"] == [{"arn": arns[0], "reason": "RESOURCE:PORTS"}]


def test_start_task_places_one_task_on_each_named_instance_that_can_take_it(ecs, agents):
    agents(2)
    first, second = wait_for(lambda: len(found := connected_instances(ecs)) == 2 and found)
    big = register(ecs, family="big", memory=6000)   # an agent has 8192 MiB
    started = ecs.start_task(taskDefinition=big, containerInstances=[first],
                             startedBy="tester")
    assert [t["containerInstanceArn"] for t in started["tasks"]] == [first]
    assert started["failures"] == []
    assert wait_for(lambda: task(ecs, started["tasks"][0]["taskArn"])["lastStatus"]
                    == "RUNNING")
    # Named twice, the instance takes one: the first task leaves no room for the second.
    twice = ecs.start_task(taskDefinition=big, containerInstances=[second, second])
    assert [t["containerInstanceArn"] for t in twice["tasks"]] == [second]
    assert twice["failures"] == [{"arn": second, "reason": "RESOURCE:MEMORY"}]
    # One of another cluster or none at all is MISSING; a draining one takes nothing.
    unknown = first.rsplit("/", 1)[0] + "/" + "0" * 32
    small = register(ecs)
    missing = ecs.start_task(taskDefinition=small, containerInstances=[unknown])
    assert missing["tasks"] == [] and missing["failures"] == [
        {"arn": unknown, "reason": "MISSING"}]
    ecs.update_container_instances_state(containerInstances=[first], status="DRAINING")
    draining = ecs.start_task(taskDefinition=small, containerInstances=[first])
    assert draining["tasks"] == [] and draining["failures"] == [
        {"arn": first, "reason": "DRAINING"}]
    assert len(ecs.list_tasks()["taskArns"]) == 2
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.start_task(taskDefinition=small, containerInstances=[first] * 11)
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.start_task(taskDefinition=small, containerInstances=[first], cluster="nowhere")


def test_run_task_bad_input(ecs, agents):
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.run_task(taskDefinition=register(ecs))  # no `default` cluster yet
    ecs.create_cluster(clusterName="default")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(taskDefinition=register(ecs))  # no instances in the cluster
    agents(1)
    wait_for(lambda: connected_instances(ecs))
    definition = register(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(taskDefinition=definition, count=11)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(taskDefinition=definition, launchType="FARGATE")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.run_task(taskDefinition="no-such-family")
    ecs.deregister_task_definition(taskDefinition=definition)
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.run_task(taskDefinition=definition)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.stop_task(task="0123456789abcdef0123456789abcdef")
    assert ecs.list_tasks()["taskArns"] == []


def test_killed_agent_comes_back_and_adopts_its_running_task(ecs, agents):
    (agent,) = agents(1)
    wait_for(lambda: connected_instances(ecs))
    arn = ecs.run_task(taskDefinition=register(ecs))["tasks"][0]["taskArn"]
    before = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "RUNNING" and t)
    agent.kill()
    agent.start()
    time.sleep(1.0)
    after = task(ecs, arn)
    assert after["lastStatus"] == "RUNNING"
    assert after["containers"][0]["runtimeId"] == before["containers"][0]["runtimeId"]
    instances = ecs.list_container_instances()["containerInstanceArns"]
    assert instances == [before["containerInstanceArn"]]  # same instance, not a new one
    assert len(ecs.list_tasks()["taskArns"]) == 1


def test_delete_cluster_refuses_while_tasks_are_live(ecs, agents):
    ecs.create_cluster(clusterName="busy")
    agents(1, cluster="busy")
    arns = wait_for(lambda: connected_instances(ecs, "busy"))
    arn = ecs.run_task(cluster="busy", taskDefinition=register(ecs))["tasks"][0]["taskArn"]
    cluster = ecs.describe_clusters(clusters=["busy"])["clusters"][0]
    assert cluster["runningTasksCount"] + cluster["pendingTasksCount"] == 1
    with pytest.raises(ecs.exceptions.ClusterContainsTasksException):
        ecs.delete_cluster(cluster="busy")
    ecs.stop_task(cluster="busy", task=arn)
    wait_for(lambda: task(ecs, arn, "busy")["lastStatus"] == "STOPPED")
    assert arns


def test_a_deregistered_instance_s_agent_stops(ecs, agents):
    (agent,) = agents(1)
    (arn,) = wait_for(lambda: connected_instances(ecs))
    ecs.deregister_container_instance(containerInstance=arn)
    assert agent.process.wait(timeout=30) == 5
    described = ecs.describe_container_instances(containerInstances=[arn])["containerInstances"]
    assert described[0]["status"] == "INACTIVE"
    # Started again on the same host, it registers as a new instance.
    agent.start()
    (new,) = wait_for(lambda: connected_instances(ecs))
    assert new != arn


def test_an_unknown_cluster_makes_the_agent_exit_with_an_error(ecs, agents):
    (agent,) = agents(1, cluster="no-such-cluster")
    assert agent.process.wait(timeout=30) == 1


def test_tasks_survive_a_control_plane_killed_and_restarted(tmp_path, region):
    server = NozamaServer(["--data-dir", str(tmp_path / "cp")], tmp_path / "cp.log").start()
    agent = AgentProcess(server, region, f"{region}a", tmp_path / "agent")
    try:
        ecs = server.client("ecs", region)
        agent.start()
        wait_for(lambda: connected_instances(ecs))
        arn = ecs.run_task(taskDefinition=register(ecs))["tasks"][0]["taskArn"]
        running = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "RUNNING" and t)
        server.kill()
        time.sleep(0.5)
        server.start()
        ecs = server.client("ecs", region)
        assert task(ecs, arn)["containers"][0]["runtimeId"] == \
            running["containers"][0]["runtimeId"]
        wait_for(lambda: connected_instances(ecs), timeout=30)
        ecs.stop_task(task=arn)
        wait_for(lambda: task(ecs, arn)["lastStatus"] == "STOPPED", timeout=30)
    finally:
        agent.stop()
        server.stop()


def test_run_task_honours_placement_constraints_and_strategies(ecs, agents, region):
    agents(3)
    arns = wait_for(lambda: len(found := connected_instances(ecs)) == 3 and found)
    definition = register(ecs, family="placed", memory=64)

    distinct = ecs.run_task(taskDefinition=definition, count=3, placementConstraints=[
        {"type": "distinctInstance"}])
    assert len({t["containerInstanceArn"] for t in distinct["tasks"]}) == 3
    crowded = ecs.run_task(taskDefinition=definition, count=1, group="family:placed",
                           placementConstraints=[{"type": "distinctInstance"}])
    assert crowded["tasks"] == []
    assert {f["reason"] for f in crowded["failures"]} == {"DistinctInstance"}

    zone_a = ecs.run_task(taskDefinition=definition, count=4, placementConstraints=[{
        "type": "memberOf", "expression": f"attribute:ecs.availability-zone == {region}a"}])
    assert {t["availabilityZone"] for t in zone_a["tasks"]} == {f"{region}a"}
    nowhere = ecs.run_task(taskDefinition=definition, placementConstraints=[{
        "type": "memberOf", "expression": "attribute:color == purple"}])
    assert nowhere["tasks"] == [] and {f["reason"] for f in nowhere["failures"]} == {"MemberOf"}

    packed = ecs.run_task(taskDefinition=definition, count=5, group="packed",
                          placementStrategy=[{"type": "binpack", "field": "memory"}])
    assert len({t["containerInstanceArn"] for t in packed["tasks"]}) == 1
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(taskDefinition=definition, placementConstraints=[{
            "type": "memberOf", "expression": "attribute:color ==="}])
    assert arns


def test_an_agent_that_disables_privileged_containers_never_runs_one(ecs, agents):
    agents(1, extra=["--disable-privileged"])
    (arn,) = wait_for(lambda: connected_instances(ecs))
    attributes = ecs.describe_container_instances(containerInstances=[arn])[
        "containerInstances"][0]["attributes"]
    assert {"name": "com.amazonaws.ecs.capability.privileged-container"} not in attributes
    privileged = ecs.register_task_definition(family="root", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 64, "privileged": True}])[
        "taskDefinition"]["taskDefinitionArn"]
    run = ecs.run_task(taskDefinition=privileged)
    assert run["tasks"] == [] and run["failures"] == [{"arn": arn, "reason": "ATTRIBUTE"}]
    # Placed anyway (the capability put back by hand): the agent refuses it.
    ecs.put_attributes(attributes=[{"name": "com.amazonaws.ecs.capability.privileged-container",
                                    "targetId": arn}])
    (placed,) = ecs.run_task(taskDefinition=privileged)["tasks"]
    stopped = wait_for(lambda: (t := task(ecs, placed["taskArn"]))["lastStatus"] == "STOPPED"
                       and t)
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert "privileged containers are disabled" in stopped["stoppedReason"]
