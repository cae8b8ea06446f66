"""A service deployment of a new ECR tag reaches agents on two hosts in two zones, each of
which pulls the image itself from `nozama registry`.

Topology (tests/support/netns.py, multihost.py): the control plane runs on the `control`
host and two agents with the Docker runtime on `a1` (zone a) and `b1` (zone b), each in a
network namespace of its own; the test's API calls come from the `client` host. There is
one Docker Engine on this machine, in the root network namespace: the agents drive it
through its Unix socket (a file, which no network namespace hides), and it cannot reach
the test network (198.18.0.0/15). So the registry runs where the engine reaches it: on
127.0.0.1 of the root namespace, plain HTTP, on the control plane's store (the SQLite
data dir is a file the two namespaces share). It announces that address in the store,
and GetAuthorizationToken gives it to every caller as its proxyEndpoint: each agent asks
the control plane (over the test network) for its own token and hands the engine
`127.0.0.1:<port>/<region>/<name>` with it. The agents never connect to the registry
themselves (plain HTTP: no CA to fetch), only the engine does.

One engine means one image cache: the test removes every name of the new image before the
update, so that the v2 image exists only in the registry; each agent logs the pull it made.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from support.multihost import Cluster
from support.registry import RegistryProcess, ecr_password, forget_images, login_with
from support.waiting import wait_for

REGION = "us-east-1"
BASE = "nozama-test/busybox:latest"
AGENT_HOSTS = {"a": "a1", "b": "b1"}     # zone -> the host of its one agent


@pytest.fixture
def engine():
    return docker.from_env()


class Pusher:
    """Builds images on the base image and pushes them with the Docker CLI, logged in with
    the test's own DOCKER_CONFIG; remembers every name it made, to remove them by name."""

    def __init__(self, registry: RegistryProcess, repository: dict, tmp_path: Path):
        self.name = f"{registry.address}/{REGION}/{repository['repositoryName']}"
        self.uri = repository["repositoryUri"]
        self.env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config"),
                    "DOCKER_BUILDKIT": "0"}
        self.context = tmp_path / "context"
        self.context.mkdir()
        self.names: set[str] = set()

    def docker(self, *args: str) -> str:
        done = subprocess.run(["docker", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def push(self, tag: str) -> None:
        """An image whose /marker says `tag`, pushed as `tag`, then untagged here."""
        (self.context / "marker").write_text(f"built as {tag}\n")
        (self.context / "Dockerfile").write_text(f"FROM {BASE}\nCOPY marker /marker\n")
        reference = f"{self.name}:{tag}"
        self.names |= {reference, f"{self.uri}:{tag}"}
        self.docker("build", "-q", "-t", reference, str(self.context))
        self.docker("push", reference)
        forget_images(reference)                # with the name@digest the push left
        assert self.docker("images", "-q", reference).strip() == ""

    def forget(self) -> None:
        forget_images(*self.names)


def _definition(ecs, image: str) -> str:
    return ecs.register_task_definition(family="ecr-hosts-app", containerDefinitions=[{
        "name": "app", "image": image, "memory": 32, "essential": True, "stopTimeout": 1,
        "command": ["sh", "-c", "cat /marker; exec sleep 3600"]}])["taskDefinition"][
        "taskDefinitionArn"]


def _zone_of(ecs) -> dict[str, str]:
    """container instance ARN -> its zone's letter."""
    arns = ecs.list_container_instances()["containerInstanceArns"]
    return {i["containerInstanceArn"]: next(a["value"] for a in i["attributes"]
                                            if a["name"] == "ecs.availability-zone")[-1]
            for i in ecs.describe_container_instances(containerInstances=arns)[
                "containerInstances"]}


def _running(ecs, image: str) -> list[dict] | None:
    """The service's two tasks, once both run `image`."""
    arns = ecs.list_tasks(serviceName="web", desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(tasks=arns)["tasks"] if arns else []
    done = len(tasks) == 2 and all(t["lastStatus"] == "RUNNING" and
                                   t["containers"][0]["image"] == image for t in tasks)
    return tasks if done else None


def _output(engine, task_arn: str) -> str:
    (container,) = engine.containers.list(filters={
        "label": f"com.amazonaws.ecs.task-arn={task_arn}"})
    return wait_for(lambda: container.logs().decode(), timeout=10)


def _pulls(cluster: Cluster, host: str, reference: str) -> int:
    """How many times the agent on `host` logged pulling `reference`."""
    return (cluster.tmp / f"agent-{host}.log").read_text().count(f"pulled {reference}\n")


def test_a_new_tag_reaches_agents_on_two_hosts(hosts, tmp_path, engine):
    cluster = Cluster(hosts, tmp_path, REGION)
    registry = pusher = None
    try:
        with hosts.inside("client"):
            cluster.start_control()
            for host in AGENT_HOSTS.values():
                cluster.start_agent(host, runtime="docker")
        # In the root namespace (a child process inherits its starter thread's network).
        registry = RegistryProcess(SimpleNamespace(
            store_args=["--data-dir", str(cluster.data_dir)], env=None),
            tmp_path / "registry.log").start()
        with hosts.inside("client"):
            ecr, ecs = cluster.client("ecr"), cluster.client("ecs")
            assert ecr.get_authorization_token()["authorizationData"][0][
                "proxyEndpoint"] == registry.url
            repository = ecr.create_repository(repositoryName="team/web")["repository"]
            pusher = Pusher(registry, repository, tmp_path)
            login_with(registry, tmp_path / "docker-config", ecr_password(ecr))
            pusher.push("v1")
            wait_for(lambda: len(ecs.list_container_instances(
                filter="agentConnected == true")["containerInstanceArns"]) == 2, timeout=60)
            ecs.create_service(
                serviceName="web", taskDefinition=_definition(ecs, f"{pusher.uri}:v1"),
                desiredCount=2, placementConstraints=[{"type": "distinctInstance"}],
                placementStrategy=[{"type": "spread",
                                    "field": "attribute:ecs.availability-zone"}],
                # One task per instance: replaced one at a time.
                deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 100})
            first = wait_for(lambda: _running(ecs, f"{pusher.uri}:v1"), timeout=120)
            assert {_output(engine, t["taskArn"]) for t in first} == {"built as v1\n"}

            pusher.push("v2")          # and gone from the engine: only the registry has it
            ecs.update_service(service="web",
                               taskDefinition=_definition(ecs, f"{pusher.uri}:v2"))
            tasks = wait_for(lambda: _running(ecs, f"{pusher.uri}:v2"), timeout=120)

            zones = _zone_of(ecs)
            assert sorted(zones[t["containerInstanceArn"]] for t in tasks) == ["a", "b"]
            for task in tasks:
                assert _output(engine, task["taskArn"]) == "built as v2\n"
                assert task["pullStartedAt"] <= task["pullStoppedAt"] <= task["startedAt"]
            # Each host's agent pulled v2 itself, with its own token, once.
            for host in AGENT_HOSTS.values():
                assert _pulls(cluster, host, f"{pusher.name}:v2") == 1, host
            assert not {t["taskArn"] for t in first} & {t["taskArn"] for t in tasks}
    finally:
        try:
            _clean_up(cluster, engine)
        finally:
            if registry is not None:
                registry.stop()
            if pusher is not None:
                pusher.forget()


def _clean_up(cluster: Cluster, engine) -> None:
    """Stop the service's tasks through the agents (the hosts fixture then kills them);
    remove by force whatever container of the test's cluster is left."""
    def leftovers():
        # sparse: no inspect of each, which races with the agents' removals.
        return engine.containers.list(all=True, sparse=True, filters={
            "label": "com.amazonaws.ecs.task-definition-family=ecr-hosts-app"})
    try:
        with cluster.network.inside("client"):
            ecs = cluster.client("ecs")
            if ecs.describe_clusters(clusters=["default"])["clusters"]:
                for service in ecs.list_services()["serviceArns"]:
                    ecs.delete_service(service=service, force=True)
                for arn in ecs.list_tasks()["taskArns"]:
                    ecs.stop_task(task=arn)
                wait_for(lambda: not leftovers(), timeout=60)
    finally:
        for container in leftovers():
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
