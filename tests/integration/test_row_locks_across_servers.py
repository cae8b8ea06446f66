"""Two `nozama server` processes on one PostgreSQL write the same rows at once, and no
write is lost: each ECS write locks its cluster's row, then the service or task it
rewrites (store/clusters.py `lock`, `services.get(lock=True)`), until it commits.

- RunTask on each server against one container instance with room for one task: one
  is placed, the other fails with ECS's RESOURCE:CPU, as on one server. Without the
  lock both read the same free CPU and both place.
- UpdateService of two different members of one service on the two servers: each
  update keeps the other's. Without the lock one rewrites the service from an old
  copy and undoes the other."""

from __future__ import annotations

import threading

import pytest

from support.agents import AgentProcess
from support.peers import peers
from support.waiting import wait_for

ROUNDS = 5
CPU = 3000   # of the simulated instance's 4096: room for exactly one such task


@pytest.fixture
def pair(tmp_path):
    with peers(tmp_path, "first", "second") as group:
        yield tuple(group.servers)


@pytest.fixture
def agent(pair, tmp_path):
    process = AgentProcess(pair[0], "us-east-1", "us-east-1a", tmp_path / "agent").start()
    yield process
    process.stop()


def _at_once(*calls) -> list:
    """Run the calls in threads released together; their answers, in order."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        answers[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def _cpu_left(ecs, instance: str) -> int:
    described = ecs.describe_container_instances(containerInstances=[instance])
    remaining = described["containerInstances"][0]["remainingResources"]
    return next(r["integerValue"] for r in remaining if r["name"] == "CPU")


def test_two_servers_placing_at_once_never_over_commit_an_instance(pair, agent):
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
        answers = _at_once(*(lambda c=c: c.run_task(taskDefinition=definition)
                             for c in clients))
        placed = [t for a in answers for t in a["tasks"]]
        failures = [f for a in answers for f in a["failures"]]
        assert len(placed) == 1, answers
        assert [f["reason"] for f in failures] == ["RESOURCE:CPU"]
        assert failures[0]["arn"] == instance
        assert _cpu_left(ecs, instance) == 4096 - CPU
        # Free the instance for the next round: the agent stops the task.
        ecs.stop_task(task=placed[0]["taskArn"])
        wait_for(lambda: _cpu_left(ecs, instance) == 4096, timeout=30)


def test_updates_of_one_service_on_two_servers_keep_each_other(pair):
    first, second = pair
    one, two = first.client("ecs"), second.client("ecs")
    one.create_cluster(clusterName="locks")
    definition = one.register_task_definition(family="small", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 64}])["taskDefinition"]
    one.create_service(cluster="locks", serviceName="web", desiredCount=0,
                       taskDefinition=definition["taskDefinitionArn"])

    def scale(count: int):
        return lambda: one.update_service(cluster="locks", service="web", desiredCount=count)

    def grace(seconds: int):
        return lambda: two.update_service(cluster="locks", service="web",
                                          healthCheckGracePeriodSeconds=seconds)

    for n in range(1, 21):
        _at_once(scale(n), grace(n))
        service = two.describe_services(cluster="locks", services=["web"])["services"][0]
        assert (service["desiredCount"], service["healthCheckGracePeriodSeconds"]) == (n, n)
