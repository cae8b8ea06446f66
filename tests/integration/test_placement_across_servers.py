"""Two `nozama server` processes on one PostgreSQL place tasks on one container instance
at once (RunTask on each): the instance is never over-committed. Each placement locks
its cluster's row (store/clusters.py `lock`) until its transaction ends, so the second
sees the first's task and fails with ECS's RESOURCE:CPU, as one server does. Without the
lock, both read the same free CPU and both place."""

from __future__ import annotations

import signal
import threading

import pytest

from support.agents import AgentProcess
from support.servers import NozamaServer, store_args
from support.waiting import wait_for

ROUNDS = 5
CPU = 3000   # of the simulated instance's 4096: room for exactly one such task


@pytest.fixture
def pair(tmp_path):
    args = store_args("postgres", tmp_path)
    first = NozamaServer(args, tmp_path / "first.log").start()
    second = NozamaServer(args, tmp_path / "second.log").start()
    agent = None
    try:
        agent = AgentProcess(first, "us-east-1", "us-east-1a", tmp_path / "agent").start()
        yield first, second
    finally:
        if agent is not None:
            agent.stop()
        for server in (first, second):
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)
                server.stop()


def _cpu_left(ecs, instance: str) -> int:
    described = ecs.describe_container_instances(containerInstances=[instance])
    remaining = described["containerInstances"][0]["remainingResources"]
    return next(r["integerValue"] for r in remaining if r["name"] == "CPU")


def test_two_servers_placing_at_once_never_over_commit_an_instance(pair):
    first, second = pair
    clients = [first.client("ecs"), second.client("ecs")]
    ecs = clients[0]
    ecs.create_cluster(clusterName="default")
    instance = wait_for(lambda: ecs.list_container_instances(
        filter="agentConnected == true")["containerInstanceArns"])[0]
    definition = ecs.register_task_definition(family="big", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 64, "cpu": CPU}])[
        "taskDefinition"]["taskDefinitionArn"]
    for _ in range(ROUNDS):
        barrier, answers = threading.Barrier(2), [None, None]

        def run(n: int) -> None:
            barrier.wait()
            answers[n] = clients[n].run_task(taskDefinition=definition)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        placed = [t for a in answers for t in a["tasks"]]
        failures = [f for a in answers for f in a["failures"]]
        assert len(placed) == 1, answers
        assert [f["reason"] for f in failures] == ["RESOURCE:CPU"]
        assert failures[0]["arn"] == instance
        assert _cpu_left(ecs, instance) == 4096 - CPU
        # Free the instance for the next round: the agent stops the task.
        ecs.stop_task(task=placed[0]["taskArn"])
        wait_for(lambda: _cpu_left(ecs, instance) == 4096, timeout=30)
