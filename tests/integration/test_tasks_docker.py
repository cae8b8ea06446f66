"""Tasks on real Docker containers, end to end: ECS API → control plane → agent → Docker.

These run against one SQLite-backed server of their own: the store backends are
covered elsewhere, and real containers are the slow part.
"""

from __future__ import annotations

import time
import urllib.request

import docker
import pytest

from support.servers import NozamaServer
from support.waiting import wait_for

IMAGE = "nozama-test/busybox:latest"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docker-server")
    instance = NozamaServer(["--data-dir", str(tmp / "data")], tmp / "server.log").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def engine():
    return docker.from_env()


@pytest.fixture
def docker_agent(agents, ecs, engine):
    (agent,) = agents(1, runtime="docker")
    arns = wait_for(lambda: ecs.list_container_instances(filter="agentConnected == true")[
        "containerInstanceArns"] if _cluster_exists(ecs) else [], timeout=30)
    yield agent, arns[0]
    # Whatever a test did, no container of its instance may outlive it.
    for arn in ecs.list_tasks()["taskArns"]:
        ecs.stop_task(task=arn)
    wait_for(lambda: not _containers(engine, arns[0]), timeout=60)


def _cluster_exists(ecs) -> bool:
    return bool(ecs.describe_clusters(clusters=["default"])["clusters"])


def _containers(engine, instance_arn: str) -> list:
    # sparse: no inspect per container, which races with the agent removing them.
    return engine.containers.list(all=True, sparse=True, filters={
        "label": f"io.nozama.container-instance-arn={instance_arn}"})


def _task(ecs, arn: str) -> dict:
    return ecs.describe_tasks(tasks=[arn])["tasks"][0]


def _run(ecs, containers: list[dict], family: str = "web", **kwargs) -> str:
    definition = ecs.register_task_definition(family=family, containerDefinitions=containers,
                                              **kwargs)["taskDefinition"]
    run = ecs.run_task(taskDefinition=definition["taskDefinitionArn"])
    assert run["failures"] == []
    return run["tasks"][0]["taskArn"]


def _until(ecs, arn: str, status: str, timeout: float = 60) -> dict:
    return wait_for(lambda: (t := _task(ecs, arn))["lastStatus"] == status and t, timeout)


def test_a_web_task_serves_on_its_dynamic_port_and_stops(ecs, docker_agent, engine):
    _, instance = docker_agent
    arn = _run(ecs, [{"name": "web", "image": IMAGE, "memory": 64, "essential": True,
                      "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                      "portMappings": [{"containerPort": 8080}], "stopTimeout": 2}])
    task = _until(ecs, arn, "RUNNING")
    binding = task["containers"][0]["networkBindings"][0]
    assert 49153 <= binding["hostPort"] <= 65535
    with urllib.request.urlopen(f"http://127.0.0.1:{binding['hostPort']}/health",
                                timeout=5) as response:
        assert response.status == 200
    runtime_id = task["containers"][0]["runtimeId"]
    assert engine.containers.get(runtime_id).status == "running"

    ecs.stop_task(task=arn, reason="test over")
    stopped = _until(ecs, arn, "STOPPED")
    assert stopped["stoppedReason"] == "test over"
    assert stopped["containers"][0]["exitCode"] is not None
    # The agent removes a stopped task's containers after the cleanup wait.
    wait_for(lambda: not _containers(engine, instance), timeout=30)


def test_an_image_that_does_not_exist_fails_to_start(ecs, docker_agent):
    arn = _run(ecs, [{"name": "app", "image": "nozama-test/does-not-exist:1", "memory": 32}],
               family="missing")
    stopped = _until(ecs, arn, "STOPPED")
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith("CannotPullContainerError")


def test_an_essential_container_that_exits_stops_the_task(ecs, docker_agent):
    arn = _run(ecs, [{"name": "app", "image": IMAGE, "memory": 32,
                      "command": ["sh", "-c", "exit 7"]}], family="exits")
    stopped = _until(ecs, arn, "STOPPED")
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["containers"][0]["exitCode"] == 7


def test_a_killed_agent_adopts_its_running_task_without_restarting_it(
        ecs, docker_agent, engine):
    agent, instance = docker_agent
    arn = _run(ecs, [{"name": "app", "image": IMAGE, "memory": 32,
                      "command": ["sleep", "600"], "stopTimeout": 2}], family="sleeper")
    before = _until(ecs, arn, "RUNNING")
    container = engine.containers.get(before["containers"][0]["runtimeId"])
    started_at = container.attrs["State"]["StartedAt"]
    agent.kill()
    time.sleep(0.5)
    assert engine.containers.get(container.id).status == "running"  # tasks keep running
    agent.start()
    wait_for(lambda: ecs.describe_container_instances(containerInstances=[instance])[
        "containerInstances"][0]["agentConnected"], timeout=30)
    time.sleep(1.0)
    after = _task(ecs, arn)
    assert after["lastStatus"] == "RUNNING"
    assert after["containers"][0]["runtimeId"] == container.id
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started_at
    assert len(_containers(engine, instance)) == 1  # adopted, not duplicated


def test_awslogs_output_reaches_cloudwatch_logs(ecs, docker_agent, server, region):
    arn = _run(ecs, [{"name": "app", "image": IMAGE, "memory": 32,
                      "command": ["sh", "-c", "echo hello from nozama; sleep 1"],
                      "logConfiguration": {"logDriver": "awslogs", "options": {
                          "awslogs-group": "/ecs/hello", "awslogs-region": region,
                          "awslogs-stream-prefix": "web", "awslogs-create-group": "true"}}}],
               family="hello")
    _until(ecs, arn, "STOPPED")
    logs = server.client("logs", region)
    stream = f"web/app/{arn.rsplit('/', 1)[1]}"
    events = wait_for(lambda: logs.get_log_events(logGroupName="/ecs/hello",
                                                  logStreamName=stream,
                                                  startFromHead=True)["events"], timeout=30)
    assert [e["message"] for e in events] == ["hello from nozama"]


def test_a_service_whose_tasks_exit_at_once_rolls_back_by_itself(ecs, docker_agent):
    good = ecs.register_task_definition(family="svc", containerDefinitions=[{
        "name": "app", "image": IMAGE, "memory": 32, "command": ["sleep", "600"],
        "stopTimeout": 1}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(serviceName="svc", taskDefinition=good, desiredCount=1,
                       deploymentConfiguration={"deploymentCircuitBreaker": {
                           "enable": True, "rollback": True}})
    wait_for(lambda: ecs.describe_services(services=["svc"])["services"][0][
        "deployments"][0]["rolloutState"] == "COMPLETED", timeout=60)
    bad = ecs.register_task_definition(family="svc", containerDefinitions=[{
        "name": "app", "image": IMAGE, "memory": 32, "command": ["sh", "-c", "exit 1"]}])[
        "taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(service="svc", taskDefinition=bad)

    def back_on_good():
        svc = ecs.describe_services(services=["svc"])["services"][0]
        done = svc["taskDefinition"] == good and len(svc["deployments"]) == 1 and \
            svc["deployments"][0]["rolloutState"] == "COMPLETED"
        return done and svc
    svc = wait_for(back_on_good, timeout=180)
    messages = [e["message"] for e in svc["events"]]
    assert any("deployment failed" in m and "rolling back" in m for m in messages)
    ecs.delete_service(service="svc", force=True)
    wait_for(lambda: ecs.describe_services(services=["svc"])["services"][0]["status"] ==
             "INACTIVE", timeout=60)
