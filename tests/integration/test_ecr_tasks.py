"""Tasks whose image is in a Nozama ECR repository, end to end on real Docker: an image
built and pushed with the docker CLI to `nozama registry`, removed from the engine, then
run by real agents from its ECR-shaped URI (repositoryUri:tag or @digest), which they pull
with their own ECR token.

One SQLite server and one registry of their own: real containers and pushes are the slow
part. Every image name a test makes is removed by name at its end.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import docker
import pytest
import requests

from support.agents import AgentPool
from nozama.kernel.host_address import route_address
from support.registry import (RegistryProcess, build_image, docker_login, forget_images,
                              push_image, trust_registry)
from support.registry import docker as docker_cli
from support.servers import NozamaServer
from support.waiting import wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ecr-tasks-server")
    instance = NozamaServer(["--data-dir", str(tmp / "data")], tmp / "server.log").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def registry(server, tmp_path_factory):
    process = RegistryProcess(
        server, tmp_path_factory.mktemp("ecr-tasks-registry") / "registry.log").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def engine():
    return docker.from_env()


class Images:
    """Builds and pushes the test's images, each then removed from the engine so that a
    task must pull it; forgets every name it made or an agent gave them."""

    def __init__(self, engine, registry, ecr, repository: dict, config_dir: Path):
        self.engine, self.registry, self.ecr = engine, registry, ecr
        self.repository = repository
        self.uri = repository["repositoryUri"]
        region = ecr.meta.region_name
        self.pushed_name = f"{registry.address}/{region}/{repository['repositoryName']}"
        self.config_dir = config_dir
        self.names: set[str] = set()

    def push(self, tag: str, marker: str) -> str:
        """Build an image whose /marker holds `marker`, push it as `tag` and remove it from
        the engine; its digest."""
        name = f"{self.pushed_name}:{tag}"
        self.names |= {name, f"{self.uri}:{tag}"}
        build_image(name, self.config_dir.parent / f"context-{uuid.uuid4().hex[:8]}",
                    ["COPY marker /marker"], {"marker": f"{marker}\n".encode()})
        digest = push_image(self.config_dir, name)
        docker_cli(self.config_dir, "rmi", name)
        assert not self.present(name)
        return digest

    def present(self, name: str) -> bool:
        try:
            self.engine.images.get(name)
            return True
        except docker.errors.ImageNotFound:
            return False

    def remove(self) -> None:
        forget_images(*self.names)


@pytest.fixture
def ecr(server, region):
    return server.client("ecr", region)


@pytest.fixture
def images(server, engine, registry, ecr, tmp_path):
    repository = ecr.create_repository(repositoryName="team/web")["repository"]
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    docker_login(server, registry, config_dir, ecr=ecr)
    made = Images(engine, registry, ecr, repository, config_dir)
    yield made
    made.remove()


@pytest.fixture
def docker_agents(server, region, tmp_path, engine):
    pool = AgentPool(server, region, tmp_path / "agents")
    ecs = server.client("ecs", region)
    yield pool, ecs
    try:
        if _cluster_exists(ecs):
            instances = ecs.list_container_instances()["containerInstanceArns"]
            for service in ecs.list_services()["serviceArns"]:   # or they start new tasks
                ecs.delete_service(service=service, force=True)
            for arn in ecs.list_tasks()["taskArns"]:
                ecs.stop_task(task=arn)
            # No container of the test's instances may outlive it.
            wait_for(lambda: not any(engine.containers.list(all=True, sparse=True, filters={
                "label": f"io.nozama.container-instance-arn={arn}"}) for arn in instances),
                timeout=60)
    finally:
        pool.stop()


def _cluster_exists(ecs) -> bool:
    return bool(ecs.describe_clusters(clusters=["default"])["clusters"])


def _start_agents(pool, ecs, count: int, **kwargs) -> list[str]:
    pool(count, runtime="docker", **kwargs)
    return wait_for(lambda: len(arns := ecs.list_container_instances(
        filter="agentConnected == true")["containerInstanceArns"] if _cluster_exists(ecs)
        else []) >= count and arns, timeout=30)


def _definition(ecs, image: str) -> str:
    return ecs.register_task_definition(family="ecr-app", containerDefinitions=[{
        "name": "app", "image": image, "memory": 32, "essential": True, "stopTimeout": 1,
        "command": ["sh", "-c", "cat /marker; exec sleep 3600"]}])["taskDefinition"][
        "taskDefinitionArn"]


def _run(ecs, image: str) -> str:
    run = ecs.run_task(taskDefinition=_definition(ecs, image))
    assert run["failures"] == []
    return run["tasks"][0]["taskArn"]


def _settled(ecs, arn: str, timeout: float = 90) -> dict:
    return wait_for(lambda: (t := ecs.describe_tasks(tasks=[arn])["tasks"][0])[
        "lastStatus"] in ("RUNNING", "STOPPED") and t, timeout=timeout)


def _output(engine, task_arn: str) -> str:
    (container,) = engine.containers.list(all=True, filters={
        "label": f"com.amazonaws.ecs.task-arn={task_arn}"})
    return wait_for(lambda: container.logs().decode(), timeout=10)


def test_a_task_runs_an_ecr_image_the_engine_never_had(images, docker_agents, engine):
    pool, ecs = docker_agents
    (instance,) = _start_agents(pool, ecs, 1)
    attributes = {a["name"] for a in ecs.describe_container_instances(
        containerInstances=[instance])["containerInstances"][0]["attributes"]}
    assert "com.amazonaws.ecs.capability.ecr-auth" in attributes
    images.push("v1", "built-as-v1")
    task = _settled(ecs, _run(ecs, f"{images.uri}:v1"))
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    assert _output(engine, task["taskArn"]) == "built-as-v1\n"
    # The engine holds it under the name the task definition uses.
    assert images.present(f"{images.uri}:v1")


def test_the_registry_address_form_is_pulled_with_the_agent_token(images, docker_agents,
                                                                  engine):
    pool, ecs = docker_agents
    _start_agents(pool, ecs, 1)
    images.push("v1", "by-address")          # the docker login above is not the agent's
    task = _settled(ecs, _run(ecs, f"{images.pushed_name}:v1"))
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    assert _output(engine, task["taskArn"]) == "by-address\n"


def test_a_missing_tag_stops_the_task_with_the_registry_message(images, docker_agents):
    pool, ecs = docker_agents
    _start_agents(pool, ecs, 1)
    task = _settled(ecs, _run(ecs, f"{images.uri}:never-pushed"))
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"].startswith("CannotPullContainerError: ")
    assert "manifest unknown" in task["stoppedReason"]
    assert task["containers"][0]["reason"] == task["stoppedReason"]


def test_a_digest_reference_runs_that_image(images, docker_agents, engine):
    pool, ecs = docker_agents
    _start_agents(pool, ecs, 1)
    first = images.push("moving", "first-push")
    images.push("moving", "second-push")            # the tag moved; the digest did not
    task = _settled(ecs, _run(ecs, f"{images.uri}@{first}"))
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    assert _output(engine, task["taskArn"]) == "first-push\n"
    # A mutable tag is pulled again, not taken from the engine.
    task = _settled(ecs, _run(ecs, f"{images.uri}:moving"))
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    assert _output(engine, task["taskArn"]) == "second-push\n"


def test_a_service_update_to_a_new_tag_reaches_agents_in_two_zones(images, docker_agents,
                                                                   engine):
    pool, ecs = docker_agents
    instances = _start_agents(pool, ecs, 2)
    images.push("v1", "service-v1")
    ecs.create_service(serviceName="web", taskDefinition=_definition(ecs, f"{images.uri}:v1"),
                       desiredCount=2,
                       placementConstraints=[{"type": "distinctInstance"}],
                       # One task per instance: replace them one at a time.
                       deploymentConfiguration={"minimumHealthyPercent": 50,
                                                "maximumPercent": 100})
    images.push("v2", "service-v2")
    assert not images.present(f"{images.uri}:v2")
    ecs.update_service(service="web", taskDefinition=_definition(ecs, f"{images.uri}:v2"))

    def on_v2():
        arns = ecs.list_tasks(serviceName="web", desiredStatus="RUNNING")["taskArns"]
        tasks = ecs.describe_tasks(tasks=arns)["tasks"] if arns else []
        return len(tasks) == 2 and all(
            t["lastStatus"] == "RUNNING" and t["containers"][0]["image"] == f"{images.uri}:v2"
            for t in tasks) and tasks
    tasks = wait_for(on_v2, timeout=120)
    assert {t["containerInstanceArn"] for t in tasks} == set(instances)
    assert {_output(engine, t["taskArn"]) for t in tasks} == {"service-v2\n"}
    ecs.update_service(service="web", desiredCount=0)
    wait_for(lambda: not ecs.list_tasks(serviceName="web")["taskArns"], timeout=60)


def test_an_agent_whose_key_may_not_use_ecr_cannot_pull(server, images, docker_agents,
                                                        tmp_path):
    pool, ecs = docker_agents
    iam = server.client("iam")
    user = f"no-ecr-{ecs.meta.region_name}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="ecs-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "logs:*"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    credentials = tmp_path / "no-ecr-credentials"
    credentials.write_text(f"[default]\naws_access_key_id = {key['AccessKeyId']}\n"
                           f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    _start_agents(pool, ecs, 1, extra=["--credentials-file", str(credentials)])
    images.push("v1", "denied")
    task = _settled(ecs, _run(ecs, f"{images.uri}:v1"))
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"].startswith("CannotPullContainerError: AccessDeniedException")
    assert "ecr:GetAuthorizationToken" in task["stoppedReason"]


def test_an_https_registry_is_trusted_by_the_agent_itself(region, tmp_path, engine):
    """A registry on a routable address serves TLS from Nozama's CA: the agent puts the CA
    in certs.d (fetched from the control plane) before it pulls."""
    host = route_address("http://192.0.2.1:80")
    assert not host.startswith("127."), "this host has no routable address"
    server = NozamaServer(["--data-dir", str(tmp_path / "data")], tmp_path / "server.log")
    registry = RegistryProcess(server, tmp_path / "registry.log", host=host)
    certs = Path("/etc/docker/certs.d") / registry.address
    made = pool = None
    try:
        server.start()
        registry.start()
        ecr = server.client("ecr", region)
        repository = ecr.create_repository(repositoryName="secure")["repository"]
        config_dir = tmp_path / "docker-config"
        config_dir.mkdir()
        trust_registry(server, registry)                     # for the test's own push
        docker_login(server, registry, config_dir, ecr=ecr)
        made = Images(engine, registry, ecr, repository, config_dir)
        made.push("v1", "over-tls")
        shutil.rmtree(certs)                                 # the agent must trust it
        pool = AgentPool(server, region, tmp_path / "agents")
        ecs = server.client("ecs", region)
        _start_agents(pool, ecs, 1)
        task = _settled(ecs, _run(ecs, f"{made.uri}:v1"))
        assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
        assert _output(engine, task["taskArn"]) == "over-tls\n"
        assert (certs / "ca.crt").read_text() == requests.get(
            f"{server.endpoint}/_nozama/ca.pem", timeout=10).text
        ecs.stop_task(task=task["taskArn"])
        wait_for(lambda: not engine.containers.list(all=True, sparse=True, filters={
            "label": f"com.amazonaws.ecs.task-arn={task['taskArn']}"}), timeout=60)
    finally:
        if pool is not None:
            pool.stop()
        registry.stop()
        server.stop()
        shutil.rmtree(certs, ignore_errors=True)
        if made is not None:
            made.remove()
