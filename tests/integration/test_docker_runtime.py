"""The Docker runtime against the real Docker Engine, driven directly (no control plane).

Each test runs tasks of `nozama-test/busybox:latest` under a container-instance
ARN of its own and asserts what the agent would report: task and container
states, exit codes, reasons, network bindings, health. A fixture fails any
test that leaves a container or volume labelled with its instance behind.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import socket
import time
import uuid
from pathlib import Path

import docker
from botocore.credentials import Credentials
import pytest
import requests

from support.servers import free_port
from nozama.agent.runtimes import create as create_runtime  # noqa: E402
from nozama.agent.runtimes.base import (  # noqa: E402
    LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_INSTANCE, LABEL_REVISION,
    LABEL_TASK_ARN, TaskStatus,
)

IMAGE = "nozama-test/busybox:latest"
ACCOUNT = "000000000000"
REGION = "us-east-1"
WAIT = 20          # seconds any single expected state may take


def docker_client():
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(IMAGE)
        return client
    except Exception as error:  # noqa: BLE001
        # make test sets the engine and image up; without them this suite cannot pass.
        pytest.fail(f"Docker Engine with {IMAGE} not available: {error}")


@pytest.fixture
def engine():
    client = docker_client()
    yield client
    client.close()


@pytest.fixture
def instance_arn(engine):
    """A container instance of the test's own; fails the test if it leaves orphans."""
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/test/{uuid.uuid4().hex}"
    yield arn
    label = {"label": [f"{LABEL_INSTANCE}={arn}"]}
    orphans = engine.containers.list(all=True, sparse=True, filters=label)
    volumes = engine.volumes.list(filters=label)
    for container in orphans:
        container.remove(force=True)
    for volume in volumes:
        volume.remove(force=True)
    assert not orphans, f"containers left behind: {[c.name for c in orphans]}"
    assert not volumes, f"volumes left behind: {[v.name for v in volumes]}"


class Agent:
    """A DockerRuntime plus everything it reported, the way the agent would see it."""

    def __init__(self, instance_arn: str, region: str = REGION, **options):
        self.reports: dict[str, list[TaskStatus]] = {}
        self.runtime = create_runtime(
            "docker", self._on_change, instance_arn=instance_arn, cluster="test",
            region=region, logs_endpoint=options.pop("logs_endpoint", None), **options)

    def _on_change(self, status: TaskStatus) -> None:
        self.reports.setdefault(status.task_arn, []).append(status)

    def latest(self, task_arn: str) -> TaskStatus:
        return self.reports[task_arn][-1]

    def container(self, task_arn: str, name: str):
        return next(c for c in self.latest(task_arn).containers if c.name == name)

    async def wait_for(self, task_arn: str, predicate, timeout: float = WAIT) -> TaskStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reports = self.reports.get(task_arn)
            if reports and predicate(reports[-1]):
                return reports[-1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out; last report: {self.reports.get(task_arn, [None])[-1]}")

    async def wait_status(self, task_arn: str, last_status: str, timeout: float = WAIT):
        return await self.wait_for(task_arn, lambda s: s.last_status == last_status, timeout)


def run(test):
    """Run an async test body with a started runtime, cleaning up its tasks afterwards.
    The test takes the Agent first, then any fixtures it names."""
    fixtures = [p for name, p in inspect.signature(test).parameters.items() if name != "agent"]

    @functools.wraps(test)
    def wrapper(instance_arn, **kwargs):
        async def main():
            agent = Agent(instance_arn)
            await agent.runtime.start()
            try:
                await test(agent, **kwargs)
            finally:
                for arn in list(agent.reports):
                    await agent.runtime.cleanup_task(arn)
                await agent.runtime.close()
        asyncio.run(main())

    wrapper.__signature__ = inspect.Signature(
        [inspect.Parameter("instance_arn", inspect.Parameter.POSITIONAL_OR_KEYWORD), *fixtures])
    return wrapper


def new_task(family: str = "web", overrides: dict | None = None) -> dict:
    task_id = uuid.uuid4().hex
    return {"taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/test/{task_id}",
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/test",
            "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:1",
            "overrides": overrides or {"containerOverrides": []}}


def definition(*containers: dict, family: str = "web", **task_level) -> dict:
    return {"family": family, "revision": 1, "containerDefinitions": list(containers),
            **task_level}


def container(name: str, *command: str, **settings) -> dict:
    body = {"name": name, "image": IMAGE, "essential": True, "stopTimeout": 1}
    if command:
        body["command"] = list(command)
    body.update(settings)
    return body


SLEEP = ("sleep", "600")      # PID 1 ignores SIGTERM: docker stop ends in SIGKILL


# --- running and stopping -------------------------------------------------------

@run
async def test_task_runs_and_stops_with_stop_timeout(agent: Agent, engine):
    task = new_task(overrides={"containerOverrides": [
        {"name": "app", "environment": [{"name": "COLOR", "value": "blue"}]}]})
    td = definition(
        container("app", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
                  environment=[{"name": "COLOR", "value": "red"}, {"name": "SIZE", "value": "L"}],
                  cpu=128, memory=64, memoryReservation=32, workingDirectory="/www",
                  ulimits=[{"name": "nofile", "softLimit": 1000, "hardLimit": 2000}],
                  dockerLabels={"team": "blue"}),
        container("sidecar", *SLEEP, essential=False, stopTimeout=2))
    await agent.runtime.run_task(task, td)
    running = agent.latest(task["taskArn"])
    assert running.last_status == "RUNNING"
    assert running.started_at and running.pull_started_at and running.pull_stopped_at
    assert [c.last_status for c in running.containers] == ["RUNNING", "RUNNING"]

    app = engine.containers.get(agent.container(task["taskArn"], "app").runtime_id)
    assert app.name.startswith("ecs-web-1-app-")
    assert app.labels[LABEL_TASK_ARN] == task["taskArn"]
    assert app.labels[LABEL_CONTAINER_NAME] == "app"
    assert app.labels[LABEL_CLUSTER] == "test"
    assert app.labels[LABEL_FAMILY] == "web" and app.labels[LABEL_REVISION] == "1"
    assert app.labels["team"] == "blue"
    assert "COLOR=blue" in app.attrs["Config"]["Env"] and "SIZE=L" in app.attrs["Config"]["Env"]
    assert app.attrs["Config"]["WorkingDir"] == "/www"
    host = app.attrs["HostConfig"]
    assert (host["CpuShares"], host["Memory"], host["MemoryReservation"]) == \
        (128, 64 * 2**20, 32 * 2**20)
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1000, "Hard": 2000}]

    started = time.monotonic()
    await agent.runtime.stop_task(task["taskArn"], "Task stopped by test")
    elapsed = time.monotonic() - started
    stopped = agent.latest(task["taskArn"])
    assert stopped.last_status == "STOPPED"
    assert stopped.stopped_reason == "Task stopped by test"
    assert stopped.stopping_at and stopped.stopped_at
    assert {c.name: c.exit_code for c in stopped.containers} == {"app": 0, "sidecar": 137}
    assert 2 <= elapsed < 10, "sidecar ignores SIGTERM: SIGKILL after its 2 s stopTimeout"
    assert any(r.last_status == "STOPPING" for r in agent.reports[task["taskArn"]])


@run
async def test_essential_container_exit_stops_the_task(agent: Agent, engine):
    task = new_task()
    td = definition(container("main", "sh", "-c", "sleep 0.5; exit 3"),
                    container("helper", *SLEEP, essential=False))
    await agent.runtime.run_task(task, td)
    stopped = await agent.wait_status(task["taskArn"], "STOPPED")
    assert stopped.stop_code == "EssentialContainerExited"
    assert stopped.stopped_reason == "Essential container in task exited"
    assert {c.name: c.exit_code for c in stopped.containers} == {"main": 3, "helper": 137}


@run
async def test_non_essential_exit_keeps_the_task_running(agent: Agent, engine):
    task = new_task()
    td = definition(container("main", *SLEEP), container("once", "sh", "-c", "exit 5",
                                                         essential=False))
    await agent.runtime.run_task(task, td)
    status = await agent.wait_for(
        task["taskArn"], lambda s: s.containers[1].last_status == "STOPPED")
    assert status.last_status == "RUNNING"
    assert status.containers[1].exit_code == 5
    assert status.containers[0].last_status == "RUNNING"
    await asyncio.sleep(0.3)
    assert agent.latest(task["taskArn"]).last_status == "RUNNING"
    await agent.runtime.stop_task(task["taskArn"], "done")


# --- failures to start ------------------------------------------------------------

@run
async def test_missing_image_fails_with_cannot_pull(agent: Agent, engine):
    task = new_task()
    td = definition(container("main", *SLEEP, image="nozama-test/no-such-image:latest"))
    await agent.runtime.run_task(task, td)
    stopped = agent.latest(task["taskArn"])
    assert stopped.last_status == "STOPPED"
    assert stopped.stop_code == "TaskFailedToStart"
    assert stopped.stopped_reason.startswith("CannotPullContainerError: ")
    assert stopped.pull_started_at <= stopped.pull_stopped_at
    assert stopped.containers[0].last_status == "STOPPED"


@run
async def test_command_not_found_fails_with_cannot_start(agent: Agent, engine):
    task = new_task()
    td = definition(container("main", "no-such-command"))
    await agent.runtime.run_task(task, td)
    stopped = agent.latest(task["taskArn"])
    assert stopped.last_status == "STOPPED"
    assert stopped.stop_code == "TaskFailedToStart"
    assert stopped.stopped_reason.startswith("CannotStartContainerError: ")
    assert "no-such-command" in stopped.stopped_reason
    assert stopped.containers[0].reason == stopped.stopped_reason
    assert stopped.containers[0].exit_code is None


@run
async def test_out_of_memory_is_reported(agent: Agent, engine):
    task = new_task()
    td = definition(container(
        "hog", "sh", "-c", "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo ${#x}",
        memory=6))
    await agent.runtime.run_task(task, td)
    stopped = await agent.wait_status(task["taskArn"], "STOPPED")
    hog = stopped.containers[0]
    assert hog.reason == "OutOfMemoryError: Container killed due to memory usage"
    assert hog.exit_code == 137
    assert stopped.stop_code == "EssentialContainerExited"
    assert "OutOfMemoryError" in stopped.stopped_reason


@run
async def test_host_port_conflict_fails_with_cannot_start(agent: Agent, engine):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        task = new_task()
        td = definition(container("web", *SLEEP, portMappings=[
            {"containerPort": 8080, "hostPort": port, "protocol": "tcp"}]))
        await agent.runtime.run_task(task, td)
    stopped = agent.latest(task["taskArn"])
    assert stopped.stop_code == "TaskFailedToStart"
    assert stopped.stopped_reason.startswith("CannotStartContainerError: ")
    assert "address already in use" in stopped.stopped_reason or \
        "already allocated" in stopped.stopped_reason


# --- networking -----------------------------------------------------------------

HTTPD = ("httpd", "-f", "-p", "8080", "-h", "/www")


def http_get(url: str, timeout: float = 10) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=1)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@run
async def test_dynamic_host_port_is_published_and_reachable(agent: Agent, engine):
    task = new_task()
    td = definition(container("web", *HTTPD, portMappings=[{"containerPort": 8080}]))
    await agent.runtime.run_task(task, td)
    web = agent.container(task["taskArn"], "web")
    [binding] = web.network_bindings
    assert binding.container_port == 8080 and binding.protocol == "tcp"
    assert 49153 <= binding.host_port <= 65535
    response = await asyncio.to_thread(http_get, f"http://127.0.0.1:{binding.host_port}/health")
    assert response.status_code == 200 and response.text.strip() == "ok"
    await agent.runtime.stop_task(task["taskArn"], "done")


@run
async def test_host_network_mode_binds_the_container_port(agent: Agent, engine):
    port = free_port("0.0.0.0")
    task = new_task()
    td = definition(container("web", "httpd", "-f", "-p", str(port), "-h", "/www",
                              portMappings=[{"containerPort": port}]), networkMode="host")
    await agent.runtime.run_task(task, td)
    [binding] = agent.container(task["taskArn"], "web").network_bindings
    assert (binding.container_port, binding.host_port) == (port, port)
    response = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/health")
    assert response.status_code == 200
    await agent.runtime.stop_task(task["taskArn"], "done")


@run
async def test_links_reach_a_container_by_alias(agent: Agent, engine):
    task = new_task()
    td = definition(
        container("server", *HTTPD),
        container("client", "sh", "-c",
                  "for i in $(seq 50); do wget -q -O- http://api:8080/health && exit 0;"
                  " sleep 0.1; done; exit 1", essential=False, links=["server:api"]))
    await agent.runtime.run_task(task, td)
    status = await agent.wait_for(task["taskArn"],
                                  lambda s: s.containers[1].last_status == "STOPPED")
    assert status.containers[1].exit_code == 0
    await agent.runtime.stop_task(task["taskArn"], "done")


# --- dependencies and health ---------------------------------------------------------

@run
async def test_depends_on_success_orders_the_start(agent: Agent, engine):
    task = new_task()
    td = definition(
        container("app", *SLEEP, dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
        container("init", "sh", "-c", "sleep 0.5", essential=False))
    await agent.runtime.run_task(task, td)
    status = agent.latest(task["taskArn"])
    assert status.last_status == "RUNNING"
    init = engine.containers.get(status.containers[1].runtime_id).attrs["State"]
    app = engine.containers.get(status.containers[0].runtime_id).attrs["State"]
    assert status.containers[1].exit_code == 0
    assert app["StartedAt"] > init["FinishedAt"]
    await agent.runtime.stop_task(task["taskArn"], "done")


@run
async def test_depends_on_success_fails_when_the_dependency_fails(agent: Agent, engine):
    task = new_task()
    td = definition(
        container("app", *SLEEP, dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
        container("init", "sh", "-c", "exit 2", essential=False))
    await agent.runtime.run_task(task, td)
    stopped = agent.latest(task["taskArn"])
    assert stopped.last_status == "STOPPED"
    assert stopped.stop_code == "TaskFailedToStart"
    assert "init" in stopped.stopped_reason and "exited with code 2" in stopped.stopped_reason
    assert stopped.containers[0].exit_code is None     # app never ran


HEALTHY_CHECK = {"command": ["CMD-SHELL", "test -f /www/health"], "interval": 1,
                 "timeout": 1, "retries": 2, "startPeriod": 0}


@run
async def test_depends_on_healthy_and_task_health(agent: Agent, engine):
    task = new_task()
    td = definition(
        container("db", *HTTPD, healthCheck=HEALTHY_CHECK),
        container("app", *SLEEP, dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]))
    await agent.runtime.run_task(task, td)
    status = agent.latest(task["taskArn"])
    assert status.last_status == "RUNNING"
    assert status.containers[0].health_status == "HEALTHY"
    assert status.health_status == "HEALTHY"
    db = engine.containers.get(status.containers[0].runtime_id).attrs
    assert db["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -f /www/health"], "Interval": 10**9, "Timeout": 10**9,
        "Retries": 2}
    await agent.runtime.stop_task(task["taskArn"], "done")


@run
async def test_unhealthy_essential_container_makes_the_task_unhealthy(agent: Agent, engine):
    task = new_task()
    td = definition(container("app", *SLEEP, healthCheck={
        "command": ["CMD-SHELL", "exit 1"], "interval": 1, "timeout": 1, "retries": 1}))
    await agent.runtime.run_task(task, td)
    status = await agent.wait_for(task["taskArn"], lambda s: s.health_status != "UNKNOWN")
    assert status.health_status == "UNHEALTHY"
    assert status.containers[0].health_status == "UNHEALTHY"
    assert status.last_status == "RUNNING"     # ECS leaves replacing it to the scheduler
    await agent.runtime.stop_task(task["taskArn"], "done")


@run
async def test_stop_task_while_waiting_for_a_dependency(agent: Agent, engine):
    task = new_task()
    td = definition(
        container("db", *SLEEP, healthCheck={"command": ["CMD-SHELL", "exit 1"], "interval": 1,
                                             "timeout": 1, "retries": 30}),
        container("app", *SLEEP, dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]))
    starting = asyncio.create_task(agent.runtime.run_task(task, td))
    await agent.wait_for(task["taskArn"], lambda s: s.containers[0].last_status == "RUNNING")
    await agent.runtime.stop_task(task["taskArn"], "Scaled in")
    await asyncio.wait_for(starting, 5)
    stopped = agent.latest(task["taskArn"])
    assert stopped.last_status == "STOPPED" and stopped.stopped_reason == "Scaled in"
    assert stopped.containers[0].exit_code == 137
    assert stopped.containers[1].exit_code is None      # never started
    assert not any(r.last_status == "RUNNING" for r in agent.reports[task["taskArn"]])


# --- storage ---------------------------------------------------------------------------

@run
async def test_volumes_mount_points_and_volumes_from(agent: Agent, engine, tmp_path: Path):
    shared = f"nozama-test-shared-{uuid.uuid4().hex[:8]}"
    task = new_task()
    td = definition(
        container("writer", "sh", "-c",
                  "echo hello > /host/out.txt; echo private > /data/x; echo s > /shared/y;"
                  " touch /ro/z 2>/dev/null || echo denied > /host/ro.txt",
                  essential=False, mountPoints=[
                      {"sourceVolume": "host", "containerPath": "/host"},
                      {"sourceVolume": "host", "containerPath": "/ro", "readOnly": True},
                      {"sourceVolume": "data", "containerPath": "/data"},
                      {"sourceVolume": shared, "containerPath": "/shared"}]),
        container("reader", "sh", "-c", "cat /data/x /shared/y > /host/read.txt; exec sleep 600",
                  volumesFrom=[{"sourceContainer": "writer"}],
                  dependsOn=[{"containerName": "writer", "condition": "SUCCESS"}]),
        volumes=[{"name": "host", "host": {"sourcePath": str(tmp_path)}},
                 {"name": "data"},
                 {"name": shared, "dockerVolumeConfiguration": {
                     "scope": "shared", "autoprovision": True, "driver": "local"}}])
    try:
        await agent.runtime.run_task(task, td)
        assert agent.latest(task["taskArn"]).last_status == "RUNNING"
        deadline = time.monotonic() + 5
        while not (tmp_path / "read.txt").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert (tmp_path / "out.txt").read_text() == "hello\n"
        assert (tmp_path / "ro.txt").read_text() == "denied\n"
        assert (tmp_path / "read.txt").read_text() == "private\ns\n"
        private = engine.volumes.list(filters={"label": [f"{LABEL_TASK_ARN}={task['taskArn']}"]})
        assert len(private) == 1 and private[0].name.startswith("ecs-web-1-data-")
        await agent.runtime.stop_task(task["taskArn"], "done")
        await agent.runtime.cleanup_task(task["taskArn"])
        assert not engine.volumes.list(
            filters={"label": [f"{LABEL_TASK_ARN}={task['taskArn']}"]})
        assert engine.volumes.get(shared)      # shared volumes outlive their tasks
    finally:
        try:
            engine.volumes.get(shared).remove(force=True)
        except docker.errors.NotFound:
            pass


# --- adoption, cleanup, reconnection -----------------------------------------------------

def test_new_runtime_adopts_a_running_task_without_restarting_it(instance_arn, engine):
    async def main():
        first = Agent(instance_arn)
        await first.runtime.start()
        task = new_task()
        td = definition(container("main", *SLEEP),
                        container("side", "sh", "-c", "exit 4", essential=False))
        await first.runtime.run_task(task, td)
        await first.wait_for(task["taskArn"], lambda s: s.containers[1].last_status == "STOPPED")
        before = engine.containers.get(first.container(task["taskArn"], "main").runtime_id)
        await first.runtime.close()

        second = Agent(instance_arn)
        await second.runtime.start()
        try:
            [adopted] = await second.runtime.adopt(instance_arn)
            assert adopted.task_arn == task["taskArn"]
            assert adopted.last_status == "RUNNING"
            main, side = sorted(adopted.containers, key=lambda c: c.name)
            assert (main.last_status, main.runtime_id) == ("RUNNING", before.id)
            assert (side.last_status, side.exit_code) == ("STOPPED", 4)
            after = engine.containers.get(before.id)
            assert after.attrs["State"]["StartedAt"] == before.attrs["State"]["StartedAt"]
            # Still watched: an essential exit after the restart is reported.
            await asyncio.to_thread(after.kill)
            stopped = await second.wait_status(task["taskArn"], "STOPPED")
            assert stopped.stop_code == "EssentialContainerExited"
            assert {c.name: c.exit_code for c in stopped.containers} == {"main": 137, "side": 4}
        finally:
            await second.runtime.cleanup_task(task["taskArn"])
            await second.runtime.close()
    asyncio.run(main())


def test_cleanup_removes_the_task_containers(instance_arn, engine):
    async def main():
        # As the agent does: the runtime exists before registration tells the instance
        # ARN, which then comes with each task.
        agent = Agent(None)
        await agent.runtime.start()
        task = {**new_task(), "containerInstanceArn": instance_arn}
        label = {"label": [f"{LABEL_TASK_ARN}={task['taskArn']}"]}
        try:
            await agent.runtime.run_task(task, definition(
                container("main", *SLEEP), container("b", *SLEEP, essential=False),
                volumes=[{"name": "scratch"}]))
            running = engine.containers.list(filters=label)
            assert len(running) == 2
            assert {c.labels[LABEL_INSTANCE] for c in running} == {instance_arn}
            assert len(engine.volumes.list(filters=label)) == 1
            await agent.runtime.stop_task(task["taskArn"], "done")
        finally:
            await agent.runtime.cleanup_task(task["taskArn"])
            await agent.runtime.close()
        assert not engine.containers.list(all=True, sparse=True, filters=label)
        assert not engine.volumes.list(filters=label)
    asyncio.run(main())


@run
async def test_missed_exits_are_found_when_the_event_stream_reconnects(agent: Agent, engine):
    task = new_task()
    await agent.runtime.run_task(task, definition(container("main", *SLEEP)))
    main = engine.containers.get(agent.container(task["taskArn"], "main").runtime_id)
    # The engine drops the event stream (as when dockerd restarts), and the container
    # dies before the watcher is back: only re-reading the containers can tell.
    agent.runtime._watcher._stream.close()
    await asyncio.to_thread(main.kill)
    stopped = await agent.wait_status(task["taskArn"], "STOPPED")
    assert stopped.containers[0].exit_code == 137
    assert stopped.stop_code == "EssentialContainerExited"


def test_resources_reflect_the_host(instance_arn, engine):
    agent = Agent(instance_arn, memory_reserve_mib=100)
    resources = agent.runtime.resources()
    info = engine.info()
    assert resources.cpu == 1024 * info["NCPU"]
    assert resources.memory == info["MemTotal"] // 2**20 - 100


# --- awslogs ------------------------------------------------------------------------------

def awslogs(group: str, region: str) -> dict:
    return {"logDriver": "awslogs", "options": {
        "awslogs-group": group, "awslogs-stream-prefix": "ecs", "awslogs-region": region,
        "awslogs-create-group": "true"}}


def read_events(logs, group: str, stream: str, count: int, timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    events: list[dict] = []
    while time.monotonic() < deadline:
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                         startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if len(events) >= count:
            return events
        time.sleep(0.2)
    raise AssertionError(f"expected {count} events in {group}/{stream}, got {events}")


def test_awslogs_output_is_shipped_to_the_logs_api(instance_arn, engine, server, region):
    logs = server.client("logs", region)
    group = f"/ecs/test-{uuid.uuid4().hex[:8]}"
    task = new_task()
    td = definition(container(
        "app", "sh", "-c", "echo out-1; echo err-1 >&2; sleep 0.2; echo out-2",
        logConfiguration=awslogs(group, region)))

    async def main():
        agent = Agent(instance_arn, region=region, logs_endpoint=server.endpoint,
                      logs_credentials=Credentials(*server.credentials))
        await agent.runtime.start()
        started = int(time.time() * 1000)
        try:
            await agent.runtime.run_task(task, td)
            stopped = await agent.wait_status(task["taskArn"], "STOPPED")
            assert stopped.containers[0].exit_code == 0
            stream = f"ecs/app/{task['taskArn'].rsplit('/', 1)[1]}"
            events = await asyncio.to_thread(read_events, logs, group, stream, 3)
            assert sorted(e["message"] for e in events) == ["err-1", "out-1", "out-2"]
            assert events[-1]["message"] == "out-2"
            assert all(started - 1000 <= e["timestamp"] <= time.time() * 1000 for e in events)
        finally:
            await agent.runtime.cleanup_task(task["taskArn"])
            await agent.runtime.close()
    asyncio.run(main())


def test_adopted_containers_resume_shipping_where_they_left_off(instance_arn, engine, server,
                                                               region):
    logs = server.client("logs", region)
    group = f"/ecs/test-{uuid.uuid4().hex[:8]}"
    task = new_task()
    stream = f"ecs/app/{task['taskArn'].rsplit('/', 1)[1]}"
    td = definition(container(
        "app", "sh", "-c", "echo one; sleep 1.5; echo two; sleep 1.5; echo three",
        logConfiguration=awslogs(group, region)))

    async def main():
        first = Agent(instance_arn, region=region, logs_endpoint=server.endpoint,
                      logs_credentials=Credentials(*server.credentials))
        await first.runtime.start()
        await first.runtime.run_task(task, td)
        await asyncio.to_thread(read_events, logs, group, stream, 1)
        await first.runtime.close()          # "two" is written while no agent runs
        await asyncio.sleep(1.5)
        second = Agent(instance_arn, region=region, logs_endpoint=server.endpoint,
                      logs_credentials=Credentials(*server.credentials))
        await second.runtime.start()
        try:
            await second.runtime.adopt(instance_arn)
            await second.wait_status(task["taskArn"], "STOPPED")
            events = await asyncio.to_thread(read_events, logs, group, stream, 3)
            await asyncio.sleep(1.2)             # a duplicate would have arrived by now
            events = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                         startFromHead=True)["events"]
            assert [e["message"] for e in events] == ["one", "two", "three"]
        finally:
            await second.runtime.cleanup_task(task["taskArn"])
            await second.runtime.close()
    asyncio.run(main())


def test_an_unreachable_logs_api_does_not_disturb_the_task(instance_arn, engine):
    task = new_task()
    td = definition(container("app", "sh", "-c", "echo hello; sleep 0.3; exit 0",
                              logConfiguration=awslogs("/ecs/nowhere", REGION)))

    async def main():
        agent = Agent(instance_arn, logs_endpoint=f"http://127.0.0.1:{free_port('0.0.0.0')}")
        await agent.runtime.start()
        try:
            await agent.runtime.run_task(task, td)
            stopped = await agent.wait_status(task["taskArn"], "STOPPED")
            assert stopped.containers[0].exit_code == 0
            assert stopped.stop_code == "EssentialContainerExited"
        finally:
            await agent.runtime.cleanup_task(task["taskArn"])
            await agent.runtime.close()
    asyncio.run(main())
