"""ECS task definitions through boto3: RegisterTaskDefinition, DescribeTaskDefinition,
ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition,
DeleteTaskDefinitions.

Expectations follow the Amazon ECS API reference, not Nozama's implementation.
"""

from __future__ import annotations

import base64
import concurrent.futures
import copy
import datetime
import json

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code
from support.roles import TASK_ROLE, task_role

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
# RegisterTaskDefinition reports a bad definition as one of these.
VALIDATION_ERRORS = ("ClientException", "InvalidParameterException")


# --- helpers -------------------------------------------------------------------

def td_arn(region: str, family: str, revision: int) -> str:
    return f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{family}:{revision}"


def container(name: str = "app", **fields) -> dict:
    body = {"name": name, "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def register(ecs, family: str = "web", *containers: dict, **fields) -> dict:
    return ecs.register_task_definition(
        family=family, containerDefinitions=list(containers) or [container()],
        **fields)["taskDefinition"]


def list_all(ecs, **params) -> list[str]:
    arns, token = [], None
    while True:
        page = ecs.list_task_definitions(**params, **({"nextToken": token} if token else {}))
        arns += page["taskDefinitionArns"]
        token = page.get("nextToken")
        if not token:
            return arns


def families_all(ecs, **params) -> list[str]:
    names, token = [], None
    while True:
        page = ecs.list_task_definition_families(
            **params, **({"nextToken": token} if token else {}))
        names += page["families"]
        token = page.get("nextToken")
        if not token:
            return names


def assert_contains(given, returned, path="") -> None:
    """Every member given comes back equal (ECS may add defaults around them)."""
    if isinstance(given, dict):
        assert isinstance(returned, dict), path
        for key, value in given.items():
            assert key in returned, f"{path}.{key} missing"
            assert_contains(value, returned[key], f"{path}.{key}")
    elif isinstance(given, list):
        assert isinstance(returned, list) and len(returned) == len(given), path
        for i, (a, b) in enumerate(zip(given, returned)):
            assert_contains(a, b, f"{path}[{i}]")
    else:
        assert returned == given, f"{path}: {returned!r} != {given!r}"


# --- RegisterTaskDefinition: revisions -------------------------------------------

def test_revisions_count_up_per_family(ecs, region):
    revisions = [register(ecs, "web")["revision"] for _ in range(3)]
    assert revisions == [1, 2, 3]
    other = register(ecs, "worker")
    assert other["revision"] == 1
    assert other["taskDefinitionArn"] == td_arn(region, "worker", 1)
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"][
        "taskDefinitionArn"] == td_arn(region, "web", 3)
    assert list_all(ecs) == [td_arn(region, "web", r) for r in (1, 2, 3)] + \
        [td_arn(region, "worker", 1)]


def test_revisions_are_not_reused_after_deregistration(ecs, region):
    register(ecs, "web")
    register(ecs, "web")
    ecs.deregister_task_definition(taskDefinition="web:2")
    assert register(ecs, "web")["revision"] == 3


def test_concurrent_registrations_get_distinct_revisions(server, ecs, region):
    clients = [server.client("ecs", region) for _ in range(8)]

    def register_three(i: int) -> list[int]:
        return [register(clients[i], "busy")["revision"] for _ in range(3)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        revisions = [r for batch in pool.map(register_three, range(8)) for r in batch]
    assert sorted(revisions) == list(range(1, 25))
    assert list_all(ecs) == [td_arn(region, "busy", r) for r in range(1, 25)]


# --- RegisterTaskDefinition: round trip and defaults ------------------------------

RICH_CONTAINERS = [
    {
        "name": "web",
        "image": "public.ecr.aws/nginx/nginx:1.25",
        "cpu": 256,
        "memory": 512,
        "memoryReservation": 256,
        "links": ["sidecar:side"],
        "portMappings": [
            {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
            {"containerPort": 8125, "hostPort": 8125, "protocol": "udp"},
            {"containerPort": 443},
            {"containerPort": 9090, "hostPort": 9090, "protocol": "tcp", "name": "metrics",
             "appProtocol": "http"},
        ],
        "essential": True,
        "entryPoint": ["/docker-entrypoint.sh"],
        "command": ["nginx", "-g", "daemon off;"],
        "environment": [{"name": "MODE", "value": "production"},
                        {"name": "EMPTY", "value": ""}],
        "environmentFiles": [{"value": "arn:aws:s3:::config-bucket/web.env", "type": "s3"}],
        "secrets": [{"name": "DB_PASSWORD",
                     "valueFrom": f"arn:aws:ssm:za-southwest-1:{ACCOUNT}:parameter/db"}],
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False},
                        {"sourceVolume": "config", "containerPath": "/etc/app",
                         "readOnly": True},
                        {"sourceVolume": "cache", "containerPath": "/cache"}],
        "volumesFrom": [{"sourceContainer": "sidecar", "readOnly": True}],
        "dependsOn": [{"containerName": "sidecar", "condition": "HEALTHY"},
                      {"containerName": "init", "condition": "SUCCESS"}],
        "startTimeout": 60,
        "stopTimeout": 45,
        "hostname": "web-host",
        "user": "nginx",
        "workingDirectory": "/srv",
        "disableNetworking": False,
        "privileged": False,
        "readonlyRootFilesystem": True,
        "dnsServers": ["10.0.0.2"],
        "dnsSearchDomains": ["example.internal"],
        "extraHosts": [{"hostname": "db.local", "ipAddress": "10.0.0.10"}],
        "dockerSecurityOptions": ["no-new-privileges"],
        "interactive": False,
        "pseudoTerminal": False,
        "dockerLabels": {"com.example.team": "web", "tier": "frontend"},
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        "logConfiguration": {"logDriver": "json-file",
                             "options": {"max-size": "10m", "max-file": "3"}},
        "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
                        "interval": 10, "timeout": 3, "retries": 4, "startPeriod": 20},
        "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
        "linuxParameters": {"initProcessEnabled": True,
                            "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                            "sharedMemorySize": 64,
                            "tmpfs": [{"containerPath": "/run", "size": 32,
                                       "mountOptions": ["rw", "noexec"]}]},
        "versionConsistency": "disabled",
    },
    {
        "name": "sidecar",
        "image": "busybox:1.36",
        "memory": 64,
        "essential": False,
        "command": ["sh", "-c", "sleep 3600"],
        "restartPolicy": {"enabled": True, "ignoredExitCodes": [0],
                          "restartAttemptPeriod": 60},
        "healthCheck": {"command": ["CMD", "true"]},
    },
    {
        "name": "init",
        "image": "busybox:1.36",
        "memoryReservation": 32,
        "essential": False,
        "command": ["true"],
    },
]
RICH_TASK = {
    "family": "rich",
    "networkMode": "bridge",
    "taskRoleArn": TASK_ROLE,
    "executionRoleArn": TASK_ROLE,
    "cpu": "1024",
    "memory": "2048",
    "volumes": [
        {"name": "data", "host": {"sourcePath": "/var/lib/app"}},
        {"name": "config"},
        {"name": "cache", "dockerVolumeConfiguration": {
            "scope": "shared", "autoprovision": True, "driver": "local",
            "driverOpts": {"type": "tmpfs", "device": "tmpfs"},
            "labels": {"purpose": "cache"}}},
    ],
    "placementConstraints": [{"type": "memberOf",
                              "expression": "attribute:ecs.instance-type =~ t3.*"}],
    "requiresCompatibilities": ["EC2"],
    "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    "pidMode": "task",
    "ipcMode": "task",
}


def test_rich_definition_round_trips(server, ecs, region):
    task_role(server)
    request = {**copy.deepcopy(RICH_TASK), "containerDefinitions": copy.deepcopy(RICH_CONTAINERS)}
    registered = ecs.register_task_definition(**request)["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition="rich:1")["taskDefinition"]
    assert described == registered

    assert described["taskDefinitionArn"] == td_arn(region, "rich", 1)
    assert described["revision"] == 1
    assert described["status"] == "ACTIVE"
    for key, value in RICH_TASK.items():
        assert described[key] == value, key
    assert [c["name"] for c in described["containerDefinitions"]] == ["web", "sidecar", "init"]
    for given, returned in zip(RICH_CONTAINERS, described["containerDefinitions"]):
        assert_contains(given, returned, given["name"])
    # ECS fills in what the request left out.
    web, sidecar, init = described["containerDefinitions"]
    assert web["portMappings"][2]["protocol"] == "tcp"
    assert sidecar["healthCheck"]["command"] == ["CMD", "true"]
    assert (sidecar["healthCheck"]["interval"], sidecar["healthCheck"]["timeout"],
            sidecar["healthCheck"]["retries"]) == (30, 5, 3)
    assert sidecar["cpu"] == 0 and init["cpu"] == 0
    assert init["essential"] is False


def test_round_trip_in_awsvpc_and_host_modes(ecs):
    awsvpc = register(ecs, "vpc", container(portMappings=[{"containerPort": 8080}]),
                      networkMode="awsvpc")
    assert awsvpc["networkMode"] == "awsvpc"
    assert awsvpc["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]

    host = register(ecs, "hostnet", container(portMappings=[{"containerPort": 9000,
                                                              "protocol": "udp"}]),
                    networkMode="host")
    assert host["networkMode"] == "host"
    assert host["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 9000, "hostPort": 9000, "protocol": "udp"}]


def test_defaults_as_ecs_fills_them(ecs, region):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    td = ecs.register_task_definition(
        family="minimal",
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}],
    )["taskDefinition"]
    assert td["taskDefinitionArn"] == td_arn(region, "minimal", 1)
    assert td["family"] == "minimal"
    assert td["revision"] == 1
    assert td["status"] == "ACTIVE"
    assert td["volumes"] == []
    assert td["placementConstraints"] == []
    assert "EC2" in td["compatibilities"]
    assert td.get("networkMode", "bridge") == "bridge"
    assert "deregisteredAt" not in td
    assert isinstance(td["registeredAt"], datetime.datetime)
    assert td["registeredAt"] >= before
    assert td["registeredBy"].startswith(f"arn:aws:iam::{ACCOUNT}:")

    [app] = td["containerDefinitions"]
    assert app["name"] == "app" and app["image"] == "nginx" and app["memory"] == 128
    assert app["cpu"] == 0
    assert app["essential"] is True
    assert app["portMappings"] == []
    assert app["environment"] == []
    assert app["mountPoints"] == []
    assert app["volumesFrom"] == []


def test_port_mapping_and_health_check_defaults(ecs):
    td = register(ecs, "defaults", container(
        portMappings=[{"containerPort": 80}],
        healthCheck={"command": ["CMD-SHELL", "exit 0"]}))
    [mapping] = td["containerDefinitions"][0]["portMappings"]
    assert mapping["containerPort"] == 80
    assert mapping["protocol"] == "tcp"
    assert mapping.get("hostPort", 0) == 0  # bridge: an ephemeral host port
    check = td["containerDefinitions"][0]["healthCheck"]
    assert check["command"] == ["CMD-SHELL", "exit 0"]
    assert (check["interval"], check["timeout"], check["retries"]) == (30, 5, 3)


@pytest.mark.parametrize("cpu, memory, want_cpu, want_memory", [
    ("1 vCPU", "2 GB", "1024", "2048"),
    ("512", "1024", "512", "1024"),
    ("0.5 vcpu", "1GB", "512", "1024"),
])
def test_task_size_strings_are_normalized(ecs, cpu, memory, want_cpu, want_memory):
    td = register(ecs, "sized", container(memory=None), cpu=cpu, memory=memory)
    assert (td["cpu"], td["memory"]) == (want_cpu, want_memory)


def test_register_returns_tags(ecs, region):
    result = ecs.register_task_definition(
        family="tagged", containerDefinitions=[container()],
        tags=[{"key": "owner", "value": "alice"}])
    assert result["tags"] == [{"key": "owner", "value": "alice"}]
    described = ecs.describe_task_definition(taskDefinition="tagged", include=["TAGS"])
    assert described["tags"] == [{"key": "owner", "value": "alice"}]
    assert "tags" not in described["taskDefinition"]


# --- RegisterTaskDefinition: validation ------------------------------------------------

INVALID = {
    "no-containers": dict(containerDefinitions=[]),
    "eleven-containers": dict(containerDefinitions=[container(f"c{i}") for i in range(11)]),
    "duplicate-names": dict(containerDefinitions=[container("app"), container("app")]),
    "no-essential": dict(containerDefinitions=[container("a", essential=False),
                                               container("b", essential=False)]),
    "reservation-above-memory": dict(containerDefinitions=[
        container(memory=128, memoryReservation=256)]),
    "no-memory-for-ec2": dict(containerDefinitions=[container(memory=None)],
                              requiresCompatibilities=["EC2"]),
    "no-memory-at-all": dict(containerDefinitions=[container(memory=None)]),
    "task-cpu-garbage": dict(containerDefinitions=[container()], cpu="lots"),
    "task-cpu-zero": dict(containerDefinitions=[container()], cpu="0"),
    "task-memory-garbage": dict(containerDefinitions=[container()], memory="12 parsecs"),
    "task-memory-negative": dict(containerDefinitions=[container()], memory="-512"),
    "container-memory-above-task": dict(containerDefinitions=[container(memory=4096)],
                                        memory="1024"),
    "unknown-network-mode": dict(containerDefinitions=[container()], networkMode="overlay"),
    "host-port-conflict-host-mode": dict(
        networkMode="host",
        containerDefinitions=[container("a", portMappings=[{"containerPort": 80}]),
                              container("b", portMappings=[{"containerPort": 80}])]),
    "host-port-conflict-bridge": dict(containerDefinitions=[
        container("a", portMappings=[{"containerPort": 80, "hostPort": 8080}]),
        container("b", portMappings=[{"containerPort": 81, "hostPort": 8080}])]),
    "awsvpc-host-port-differs": dict(
        networkMode="awsvpc",
        containerDefinitions=[container(portMappings=[{"containerPort": 80,
                                                       "hostPort": 8080}])]),
    "container-port-out-of-range": dict(containerDefinitions=[
        container(portMappings=[{"containerPort": 70000}])]),
    "link-to-unknown-container": dict(containerDefinitions=[container(links=["db"])]),
    "mount-of-unknown-volume": dict(containerDefinitions=[
        container(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}])]),
    "depends-on-unknown-container": dict(containerDefinitions=[
        container(dependsOn=[{"containerName": "db", "condition": "START"}])]),
    "bad-family-characters": dict(family="bad family!", containerDefinitions=[container()]),
    "family-256-chars": dict(family="f" * 256, containerDefinitions=[container()]),
    "bad-container-name": dict(containerDefinitions=[container("bad name")]),
    "container-memory-2-mib": dict(containerDefinitions=[container(memory=2)]),
    "links-in-awsvpc": dict(networkMode="awsvpc", containerDefinitions=[
        container("a", links=["b"]), container("b")]),
    "success-dependency-on-essential": dict(containerDefinitions=[
        container("a", dependsOn=[{"containerName": "b", "condition": "SUCCESS"}]),
        container("b")]),
    "duplicate-volume-names": dict(volumes=[{"name": "v"}, {"name": "v"}],
                                   containerDefinitions=[container()]),
    "health-check-interval-too-long": dict(containerDefinitions=[
        container(healthCheck={"command": ["CMD", "true"], "interval": 301})]),
    "health-check-zero-retries": dict(containerDefinitions=[
        container(healthCheck={"command": ["CMD", "true"], "retries": 0})]),
    "health-check-command-without-cmd": dict(containerDefinitions=[
        container(healthCheck={"command": ["curl", "-f", "http://localhost/"]})]),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_definitions_are_refused_and_register_nothing(ecs, region, case):
    request = {"family": "bad", **INVALID[case]}
    with pytest.raises(ClientError) as info:
        ecs.register_task_definition(**request)
    assert error_code(info) in VALIDATION_ERRORS
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert list_all(ecs) == []
    assert families_all(ecs) == []
    # Nothing was taken: the first good registration is revision 1.
    assert register(ecs, "bad")["taskDefinitionArn"] == td_arn(region, "bad", 1)


def test_a_refused_registration_leaves_existing_revisions_alone(ecs, region):
    register(ecs, "keep")
    with pytest.raises(ClientError) as info:
        register(ecs, "keep", container("x"), container("x"))
    assert error_code(info) in VALIDATION_ERRORS
    assert list_all(ecs) == [td_arn(region, "keep", 1)]
    assert register(ecs, "keep")["revision"] == 2


def test_ten_containers_are_allowed(ecs):
    td = register(ecs, "ten", *[container(f"c{i}") for i in range(10)])
    assert len(td["containerDefinitions"]) == 10


def test_family_of_255_characters_is_allowed(ecs, region):
    family = "f" * 255
    assert register(ecs, family)["taskDefinitionArn"] == td_arn(region, family, 1)


def test_memory_reservation_equal_to_memory_is_allowed(ecs):
    td = register(ecs, "equal", container(memory=256, memoryReservation=256))
    assert td["containerDefinitions"][0]["memoryReservation"] == 256


def test_memory_reservation_alone_is_enough(ecs):
    td = register(ecs, "soft", container(memory=None, memoryReservation=128))
    assert td["containerDefinitions"][0]["memoryReservation"] == 128
    assert "memory" not in td["containerDefinitions"][0]


# --- DescribeTaskDefinition -------------------------------------------------------------

def test_describe_by_family_revision_and_arn(ecs, region):
    for image in ("img:1", "img:2", "img:3"):
        register(ecs, "app", container(image=image))

    latest = ecs.describe_task_definition(taskDefinition="app")["taskDefinition"]
    assert latest["revision"] == 3
    assert latest["containerDefinitions"][0]["image"] == "img:3"

    second = ecs.describe_task_definition(taskDefinition="app:2")["taskDefinition"]
    assert second["revision"] == 2
    assert second["containerDefinitions"][0]["image"] == "img:2"

    by_arn = ecs.describe_task_definition(taskDefinition=td_arn(region, "app", 1))
    assert by_arn["taskDefinition"]["revision"] == 1
    assert by_arn["taskDefinition"]["containerDefinitions"][0]["image"] == "img:1"
    assert "tags" not in by_arn or by_arn["tags"] == []

    # The family alone means the latest ACTIVE revision.
    ecs.deregister_task_definition(taskDefinition="app:3")
    latest = ecs.describe_task_definition(taskDefinition="app")["taskDefinition"]
    assert latest["revision"] == 2
    assert latest["status"] == "ACTIVE"
    # An INACTIVE revision can still be described by revision.
    third = ecs.describe_task_definition(taskDefinition="app:3")["taskDefinition"]
    assert third["status"] == "INACTIVE"


def test_describe_with_tags(ecs, region):
    ecs.register_task_definition(family="t", containerDefinitions=[container()],
                                 tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    described = ecs.describe_task_definition(taskDefinition=td_arn(region, "t", 1),
                                             include=["TAGS"])
    assert sorted((t["key"], t["value"]) for t in described["tags"]) == [("a", "1"), ("b", "2")]


@pytest.mark.parametrize("reference", [
    "nothing", "app:9", "app:0", "nothing:1",
])
def test_describe_unknown_task_definition(ecs, reference):
    register(ecs, "app")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.describe_task_definition(taskDefinition=reference)


def test_describe_unknown_task_definition_arn(ecs, region):
    register(ecs, "app")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.describe_task_definition(taskDefinition=td_arn(region, "app", 2))


def test_describe_family_with_only_inactive_revisions(ecs):
    register(ecs, "retired")
    ecs.deregister_task_definition(taskDefinition="retired:1")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.describe_task_definition(taskDefinition="retired")


def test_task_definitions_are_isolated_by_region(server, ecs, region):
    register(ecs, "local")
    other = server.client("ecs", f"{region[:-2]}-9")
    assert other.list_task_definitions()["taskDefinitionArns"] == []
    with pytest.raises(other.exceptions.ClientException):
        other.describe_task_definition(taskDefinition="local")


# --- ListTaskDefinitions ------------------------------------------------------------------

@pytest.fixture
def catalogue(ecs, region):
    """web:1-3, webapp:1-2, api:1; web:2 deregistered."""
    for family, count in (("web", 3), ("webapp", 2), ("api", 1)):
        for _ in range(count):
            register(ecs, family)
    ecs.deregister_task_definition(taskDefinition="web:2")
    return lambda family, revision: td_arn(region, family, revision)


def test_list_task_definitions_active_sorted_ascending(ecs, catalogue):
    arn = catalogue
    expected = [arn("api", 1), arn("web", 1), arn("web", 3), arn("webapp", 1), arn("webapp", 2)]
    assert ecs.list_task_definitions()["taskDefinitionArns"] == expected
    assert ecs.list_task_definitions(sort="ASC")["taskDefinitionArns"] == expected
    assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == expected


def test_list_task_definitions_descending(ecs, catalogue):
    arn = catalogue
    assert ecs.list_task_definitions(sort="DESC")["taskDefinitionArns"] == [
        arn("webapp", 2), arn("webapp", 1), arn("web", 3), arn("web", 1), arn("api", 1)]


def test_list_task_definitions_by_family(ecs, catalogue):
    arn = catalogue
    # familyPrefix names a whole family: "web" does not list "webapp".
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == [
        arn("web", 1), arn("web", 3)]
    assert ecs.list_task_definitions(familyPrefix="web", sort="DESC")["taskDefinitionArns"] == [
        arn("web", 3), arn("web", 1)]
    assert ecs.list_task_definitions(familyPrefix="nothing")["taskDefinitionArns"] == []


def test_list_task_definitions_by_status(ecs, catalogue):
    arn = catalogue
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [arn("web", 2)]
    assert ecs.list_task_definitions(status="INACTIVE", familyPrefix="api")[
        "taskDefinitionArns"] == []


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
@pytest.mark.parametrize("max_results", [1, 2, 4])
def test_list_task_definitions_pagination(ecs, catalogue, sort, max_results):
    everything = ecs.list_task_definitions(sort=sort)["taskDefinitionArns"]
    pages, token = [], None
    while True:
        params = {"sort": sort, "maxResults": max_results}
        if token:
            params["nextToken"] = token
        page = ecs.list_task_definitions(**params)
        assert len(page["taskDefinitionArns"]) <= max_results
        pages += page["taskDefinitionArns"]
        token = page.get("nextToken")
        if not token:
            break
        assert len(pages) <= len(everything)
    assert pages == everything


def test_list_task_definitions_pagination_with_family_and_new_revisions(ecs, catalogue):
    arn = catalogue
    first = ecs.list_task_definitions(familyPrefix="web", maxResults=1)
    assert first["taskDefinitionArns"] == [arn("web", 1)]
    register(ecs, "web")  # web:4 arrives mid-walk
    rest = list_all(ecs, familyPrefix="web", nextToken=first["nextToken"])
    assert rest == [arn("web", 3), arn("web", 4)]


@pytest.mark.parametrize("token", [
    "garbage token",
    base64.urlsafe_b64encode(b"42").decode(),
    base64.urlsafe_b64encode(json.dumps({"family": "x"}).encode()).decode(),
], ids=["text", "number", "object"])
def test_list_task_definitions_rejects_an_invalid_token(ecs, catalogue, token):
    with pytest.raises(ClientError) as info:
        ecs.list_task_definitions(nextToken=token)
    assert error_code(info) in VALIDATION_ERRORS


# --- ListTaskDefinitionFamilies -----------------------------------------------------------

@pytest.mark.parametrize("token", [
    "garbage token",
    base64.urlsafe_b64encode(b"[1, 2]").decode(),
    base64.urlsafe_b64encode(b"{}").decode(),
], ids=["text", "list", "object"])
def test_list_families_rejects_an_invalid_token(ecs, token):
    register(ecs, "one")
    with pytest.raises(ClientError) as info:
        ecs.list_task_definition_families(nextToken=token)
    assert error_code(info) in VALIDATION_ERRORS


@pytest.fixture
def families(ecs):
    """alpha (ACTIVE), alpine (INACTIVE only), alps (one ACTIVE, one INACTIVE), beta."""
    register(ecs, "alpha")
    register(ecs, "alpine")
    ecs.deregister_task_definition(taskDefinition="alpine:1")
    register(ecs, "alps")
    register(ecs, "alps")
    ecs.deregister_task_definition(taskDefinition="alps:1")
    register(ecs, "beta")


def test_list_families_default_lists_all(ecs, families):
    assert ecs.list_task_definition_families()["families"] == ["alpha", "alpine", "alps", "beta"]
    assert ecs.list_task_definition_families(status="ALL")["families"] == \
        ["alpha", "alpine", "alps", "beta"]


def test_list_families_by_status(ecs, families):
    assert ecs.list_task_definition_families(status="ACTIVE")["families"] == \
        ["alpha", "alps", "beta"]
    # INACTIVE: families without any ACTIVE revision.
    assert ecs.list_task_definition_families(status="INACTIVE")["families"] == ["alpine"]


def test_list_families_prefix_is_a_prefix(ecs, families):
    assert ecs.list_task_definition_families(familyPrefix="al")["families"] == \
        ["alpha", "alpine", "alps"]
    assert ecs.list_task_definition_families(familyPrefix="alp")["families"] == \
        ["alpha", "alpine", "alps"]
    assert ecs.list_task_definition_families(familyPrefix="alpha")["families"] == ["alpha"]
    assert ecs.list_task_definition_families(familyPrefix="al", status="ACTIVE")["families"] \
        == ["alpha", "alps"]
    assert ecs.list_task_definition_families(familyPrefix="z")["families"] == []


def test_list_families_prefix_is_literal(ecs):
    register(ecs, "a_b")
    register(ecs, "axb")
    # "_" is a literal character, not a wildcard.
    assert ecs.list_task_definition_families(familyPrefix="a_")["families"] == ["a_b"]


def test_list_families_pagination(ecs, families):
    assert families_all(ecs, maxResults=1) == ["alpha", "alpine", "alps", "beta"]
    assert families_all(ecs, maxResults=2, status="ACTIVE") == ["alpha", "alps", "beta"]
    first = ecs.list_task_definition_families(maxResults=3)
    assert first["families"] == ["alpha", "alpine", "alps"]
    assert "nextToken" in first


def test_list_families_one_entry_per_family(ecs):
    for _ in range(4):
        register(ecs, "many")
    assert ecs.list_task_definition_families()["families"] == ["many"]


# --- DeregisterTaskDefinition ---------------------------------------------------------------

def test_deregister_task_definition(ecs, region):
    register(ecs, "dereg")
    register(ecs, "dereg")
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    result = ecs.deregister_task_definition(taskDefinition="dereg:1")["taskDefinition"]
    assert result["taskDefinitionArn"] == td_arn(region, "dereg", 1)
    assert result["status"] == "INACTIVE"
    assert isinstance(result["deregisteredAt"], datetime.datetime)
    assert result["deregisteredAt"] >= before

    described = ecs.describe_task_definition(taskDefinition="dereg:1")["taskDefinition"]
    assert described["status"] == "INACTIVE"
    assert "deregisteredAt" in described
    assert ecs.list_task_definitions()["taskDefinitionArns"] == [td_arn(region, "dereg", 2)]

    by_arn = ecs.deregister_task_definition(
        taskDefinition=td_arn(region, "dereg", 2))["taskDefinition"]
    assert by_arn["status"] == "INACTIVE"
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [
        td_arn(region, "dereg", 1), td_arn(region, "dereg", 2)]


def test_deregister_requires_a_revision(ecs):
    register(ecs, "whole")
    with pytest.raises(ClientError) as info:
        ecs.deregister_task_definition(taskDefinition="whole")
    assert error_code(info) in VALIDATION_ERRORS
    assert ecs.describe_task_definition(taskDefinition="whole:1")["taskDefinition"][
        "status"] == "ACTIVE"


def test_deregister_unknown_revision(ecs):
    register(ecs, "whole")
    with pytest.raises(ClientError) as info:
        ecs.deregister_task_definition(taskDefinition="whole:5")
    assert error_code(info) in VALIDATION_ERRORS


# --- DeleteTaskDefinitions --------------------------------------------------------------------

def test_delete_task_definitions(ecs, region):
    for _ in range(3):
        register(ecs, "del")
    ecs.deregister_task_definition(taskDefinition="del:1")
    ecs.deregister_task_definition(taskDefinition="del:2")

    result = ecs.delete_task_definitions(
        taskDefinitions=["del:1", td_arn(region, "del", 2), "del:3", "del:99"])
    deleted = result["taskDefinitions"]
    assert sorted(d["taskDefinitionArn"] for d in deleted) == \
        [td_arn(region, "del", 1), td_arn(region, "del", 2)]
    assert all(d["status"] == "DELETE_IN_PROGRESS" for d in deleted)

    failures = {f["arn"]: f for f in result["failures"]}
    assert len(failures) == 2
    active = next(f for arn, f in failures.items() if arn.endswith("del:3"))
    assert active["reason"]
    assert "ACTIVE" in active["reason"]
    assert any(arn.endswith("del:99") for arn in failures)

    # The ACTIVE one is untouched; the deleted ones show their new status.
    assert ecs.describe_task_definition(taskDefinition="del:3")["taskDefinition"][
        "status"] == "ACTIVE"
    assert ecs.describe_task_definition(taskDefinition="del:1")["taskDefinition"][
        "status"] == "DELETE_IN_PROGRESS"
    assert ecs.list_task_definitions(status="DELETE_IN_PROGRESS")["taskDefinitionArns"] == \
        [td_arn(region, "del", 1), td_arn(region, "del", 2)]
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == []
    # Revisions are never reused.
    assert register(ecs, "del")["revision"] == 4


def test_delete_task_definitions_limits(ecs):
    register(ecs, "lim")
    with pytest.raises(ClientError) as info:
        ecs.delete_task_definitions(taskDefinitions=[f"lim:{i}" for i in range(1, 12)])
    assert error_code(info) in VALIDATION_ERRORS
