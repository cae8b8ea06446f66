"""Functions packaged as container images (PackageType Image), end to end on real Docker:
an image on AWS's Lambda base-image conventions (scripts/build-test-lambda-image.sh) is
pushed to an ECR repository of Nozama's registry with `docker login` + `docker push`,
then CreateFunction names it by its ECR URI, and Invoke runs it in a container pulled
from the registry, as Lambda runs an image function."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import docker
import pytest
from botocore.exceptions import ClientError

from nozama.functions.container_workers import LABEL
from support.ecr import open_store, push
from support.errors import error_of
from support.roles import LAMBDA_ROLE, lambda_role
from support.registry import (RegistryProcess, build_image, build_lambda_image,
                              docker_login, forget_images, push_image, repository_ref)
from support.registry import docker as docker_cli
from support.servers import NozamaServer, store_args
from support.waiting import wait_for

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own: the registry it runs beside is the store's."""
    tmp = tmp_path_factory.mktemp("image-functions")
    instance = NozamaServer(store_args("sqlite", tmp), tmp / "server.log").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def registry(server, tmp_path_factory):
    """`nozama registry` on the server's store."""
    process = RegistryProcess(server, tmp_path_factory.mktemp("registry") / "registry.log")
    yield process.start()
    process.stop()


class Pusher:
    """Pushes the Lambda test image (or a variant of it) to ECR repositories, logged in
    with GetAuthorizationToken's password; what it tags is forgotten at the end."""

    def __init__(self, server, registry: RegistryProcess, tmp_path: Path):
        self.ecr = server.client("ecr", REGION)
        self.registry = registry
        self.config_dir = tmp_path / "docker-config"
        self.tmp_path = tmp_path
        self.references: list[str] = []
        docker_login(server, registry, self.config_dir, REGION, ecr=self.ecr)

    def repository(self, name: str) -> str:
        return self.ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]

    def variant(self, release: str) -> str:
        """The Lambda image with RELEASE=`release`: another image, another digest."""
        tag = f"nozama-test/lambda-python:{release}-{uuid.uuid4().hex[:8]}"
        self.references.append(tag)
        return build_image(tag, self.tmp_path / f"build-{release}",
                           [f"ENV RELEASE={release}"], base=build_lambda_image())

    def push(self, source: str, name: str, tag: str) -> str:
        """Push `source` as NAME:TAG; its digest."""
        target = repository_ref(self.registry, name, tag, REGION)
        docker_cli(self.config_dir, "tag", source, target)
        self.references.append(target)
        return push_image(self.config_dir, target)


@pytest.fixture
def pusher(server, registry, tmp_path):
    build_lambda_image()
    instance = Pusher(server, registry, tmp_path)
    yield instance
    # The functions' warm containers hold the images: delete the functions first.
    lam = server.client("lambda", REGION)
    for function in lam.list_functions()["Functions"]:
        lam.delete_function(FunctionName=function["FunctionName"])
    # sparse: no inspect of each container, which one removed meanwhile would fail.
    wait_for(lambda: not docker.from_env().containers.list(
        all=True, sparse=True, filters={"label": LABEL}), timeout=15)
    forget_images(*instance.references)


@pytest.fixture
def lam(server):
    lambda_role(server)
    return server.client("lambda", REGION)


def create(lam, name: str, image_uri: str, **params) -> dict:
    return lam.create_function(FunctionName=name, Role=LAMBDA_ROLE, PackageType="Image",
                               Code={"ImageUri": image_uri}, **params)


def invoke(lam, name: str, payload: dict | None = None, **params) -> tuple[dict, dict]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(),
                        **params)
    return json.loads(answer["Payload"].read()), answer


def test_an_image_function_runs_its_image_from_the_registry(lam, pusher):
    uri = pusher.repository("fn/app")
    digest = pusher.push(build_lambda_image(), "fn/app", "v1")
    created = create(lam, "boxed", f"{uri}:v1",
                     Environment={"Variables": {"RELEASE": "from-config"}},
                     ImageConfig={"WorkingDirectory": "/var/task"})
    assert created["PackageType"] == "Image" and created["CodeSha256"] == digest[7:]
    assert "Runtime" not in created and "Handler" not in created
    assert created["ImageConfigResponse"] == {"ImageConfig": {"WorkingDirectory": "/var/task"}}

    got = lam.get_function(FunctionName="boxed")
    assert got["Code"] == {"RepositoryType": "ECR", "ImageUri": f"{uri}:v1",
                           "ResolvedImageUri": f"{uri}@{digest}"}
    assert got["Configuration"]["PackageType"] == "Image"

    answer, response = invoke(lam, "boxed", {"greeting": "hello"}, LogType="Tail")
    assert "FunctionError" not in response
    assert answer["greeting"] == "hello" and answer["function_name"] == "boxed"
    assert answer["env_function_name"] == "boxed" and answer["task_root"] == "/var/task"
    assert answer["cwd"] == "/var/task" and answer["memory_limit_in_mb"] == "128"
    assert answer["release"] == "from-config"  # the function's Environment
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "handling " in tail and "REPORT RequestId:" in tail and "Init Duration" in tail
    assert "INIT_START" not in tail  # no managed runtime to name


def test_timeouts_and_memory_are_the_containers(lam, pusher):
    uri = pusher.repository("fn/limits")
    pusher.push(build_lambda_image(), "fn/limits", "v1")
    create(lam, "slow", f"{uri}:v1", Timeout=1)
    create(lam, "greedy", f"{uri}:v1", MemorySize=128)

    answer, response = invoke(lam, "slow", {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Sandbox.Timedout"
    assert answer["errorMessage"].endswith("Task timed out after 1.00 seconds")

    answer, response = invoke(lam, "greedy", {"allocate_mb": 400})
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Runtime.OutOfMemory"
    # A new container takes the next invocation.
    assert invoke(lam, "greedy", {"allocate_mb": 10})[0]["held_mb"] == 10


def test_images_lambda_cannot_resolve_are_refused(lam, pusher):
    uri = pusher.repository("fn/refused")
    pusher.push(build_lambda_image(), "fn/refused", "v1")

    def refused(image_uri: str, **params) -> tuple[str, str]:
        with pytest.raises(ClientError) as info:
            create(lam, "refused", image_uri, **params)
        return error_of(info)

    assert refused(f"{uri}:nope") == (
        "InvalidParameterValueException",
        f"Source image {uri}:nope does not exist. Provide a valid source image.")
    other_region = uri.replace(f".{REGION}.", ".eu-west-1.")
    assert refused(f"{other_region}:v1") == (
        "InvalidParameterValueException",
        f"Source image {other_region}:v1 is not valid. Provide a valid source image.")
    assert refused(uri) == (
        "InvalidParameterValueException",
        f"Source image {uri} is not valid. Provide a valid source image.")
    assert refused(f"{uri}:v1", Handler="app.handler", Runtime="python3.11") == (
        "InvalidParameterValueException",
        "Please don't provide Handler or Runtime or Layer when the intended function "
        "PackageType is Image.")
    assert lam.list_functions()["Functions"] == [] or all(
        f["FunctionName"] != "refused" for f in lam.list_functions()["Functions"])


def test_a_published_version_keeps_the_digest_it_was_published_with(lam, pusher):
    uri = pusher.repository("fn/releases")
    first = pusher.push(build_lambda_image(), "fn/releases", "v1")
    second = pusher.push(pusher.variant("v2"), "fn/releases", "v2")
    create(lam, "released", f"{uri}:v1", Publish=True)

    with pytest.raises(ClientError) as info:
        lam.update_function_code(FunctionName="released", ZipFile=b"PK")
    assert error_of(info) == (
        "InvalidParameterValueException",
        "Please provide ImageUri when updating a function with packageType Image.")
    updated = lam.update_function_code(FunctionName="released", ImageUri=f"{uri}:v2",
                                       Publish=True)
    assert updated["Version"] == "2" and updated["CodeSha256"] == second[7:]

    assert lam.get_function(FunctionName="released", Qualifier="1")["Code"][
        "ResolvedImageUri"] == f"{uri}@{first}"
    assert lam.get_function(FunctionName="released")["Code"] == {
        "RepositoryType": "ECR", "ImageUri": f"{uri}:v2", "ResolvedImageUri": f"{uri}@{second}"}
    assert invoke(lam, "released", Qualifier="1")[0]["release"] == "v1"
    assert invoke(lam, "released", Qualifier="2")[0]["release"] == "v2"
    assert invoke(lam, "released")[0]["release"] == "v2"


def test_image_config_is_the_function_configuration_of_an_image(lam, pusher):
    uri = pusher.repository("fn/configured")
    pusher.push(build_lambda_image(), "fn/configured", "v1")
    create(lam, "configured", f"{uri}:v1")
    assert invoke(lam, "configured")[0]["function_name"] == "configured"

    updated = lam.update_function_configuration(
        FunctionName="configured", ImageConfig={"Command": ["app.other"]})
    assert updated["ImageConfigResponse"] == {"ImageConfig": {"Command": ["app.other"]}}
    assert invoke(lam, "configured")[0] == {"handler": "other", "argv_handler": "app.other"}

    with pytest.raises(ClientError) as info:
        lam.update_function_configuration(FunctionName="configured", Handler="app.handler")
    assert error_of(info) == (
        "InvalidParameterValueException",
        "Please don't provide Handler or Runtime or Layer when the intended function "
        "PackageType is Image.")
    with pytest.raises(ClientError) as info:
        lam.create_function(FunctionName="zipped", Role=LAMBDA_ROLE, Runtime="python3.11",
                            Handler="app.handler", Code={"ImageUri": f"{uri}:v1"})
    assert error_of(info) == (
        "InvalidParameterValueException",
        "Please don't provide ImageUri when the intended function PackageType is Zip.")


def test_without_a_docker_engine_invoke_says_so(tmp_path):
    server = NozamaServer(store_args("sqlite", tmp_path), tmp_path / "server.log",
                          env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}).start()
    try:
        lambda_role(server)
        lam = server.client("lambda", REGION)
        uri = server.client("ecr", REGION).create_repository(repositoryName="fn/nowhere")[
            "repository"]["repositoryUri"]
        store = open_store(server)
        try:
            push(store, REGION, "fn/nowhere", "seed", "v1")
        finally:
            store.close()
        create(lam, "nowhere", f"{uri}:v1")
        with pytest.raises(ClientError) as info:
            invoke(lam, "nowhere")
        code, message = error_of(info)
        assert code == "ResourceConflictException"
        assert message.startswith("The function cannot start: functions of PackageType Image "
                                  "run in containers, and the control plane has no Docker "
                                  "Engine")
    finally:
        server.stop()


def test_without_a_static_busybox_invoke_says_so(tmp_path):
    missing = tmp_path / "no-busybox"
    server = NozamaServer(store_args("sqlite", tmp_path), tmp_path / "server.log",
                          env={"NOZAMA_BUSYBOX": str(missing)}).start()
    try:
        lambda_role(server)
        lam = server.client("lambda", REGION)
        uri = server.client("ecr", REGION).create_repository(repositoryName="fn/boxless")[
            "repository"]["repositoryUri"]
        store = open_store(server)
        try:
            push(store, REGION, "fn/boxless", "seed", "v1")
        finally:
            store.close()
        create(lam, "boxless", f"{uri}:v1")
        with pytest.raises(ClientError) as info:
            invoke(lam, "boxless")
        assert error_of(info) == (
            "ResourceConflictException",
            "The function cannot start: functions of PackageType Image start in their "
            "container through a statically linked busybox, and the control plane has none "
            f"at {missing} (install Debian's package busybox-static).")
    finally:
        server.stop()
