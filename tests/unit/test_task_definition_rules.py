"""RegisterTaskDefinition semantics: each ECS rule and each normalization."""

from __future__ import annotations

import copy

import pytest

from nozama.kernel import errors
from nozama.model.task_definitions import (
    effective_network_mode,
    normalize_task_definition,
    parse_task_cpu,
    parse_task_memory,
)


def container(name="app", **fields):
    body = {"name": name, "image": "nginx:latest", "memory": 128}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def request(*containers, **fields):
    body = {"family": "web", "containerDefinitions": list(containers) or [container()]}
    body.update(fields)
    return body


def normalize(*containers, **fields):
    return normalize_task_definition(request(*containers, **fields))


def rejected(req) -> str:
    with pytest.raises(errors.ecs.ClientException) as info:
        normalize_task_definition(req)
    assert info.value.code == "ClientException"
    assert info.value.status == 400
    return info.value.message


def attribute_names(td):
    return [a["name"] for a in td.get("requiresAttributes", [])]


# --- parse_task_cpu / parse_task_memory --------------------------------------

@pytest.mark.parametrize("text, units", [
    ("1024", 1024), ("256", 256), (" 512 ", 512),
    ("1 vCPU", 1024), ("1 vcpu", 1024), ("1vCPU", 1024), ("2 vCPUs", 2048),
    ("0.5 vCPU", 512), (".25 vcpu", 256), ("0.125 vCPU", 128), ("4 VCPU", 4096),
    (2048, 2048),
])
def test_parse_task_cpu(text, units):
    assert parse_task_cpu(text) == units


@pytest.mark.parametrize("text", [
    "", " ", "abc", "1 cpu", "-1", "0", "0 vCPU", "1.5", "1024.0", "0.0001 vCPU",
    "1 vCPU extra", "1,024", None, True, 0, -5,
])
def test_parse_task_cpu_rejects_garbage(text):
    with pytest.raises(errors.ecs.ClientException, match=r"Invalid 'cpu' setting for task\."):
        parse_task_cpu(text)


@pytest.mark.parametrize("text, mib", [
    ("512", 512), ("2048", 2048), ("1GB", 1024), ("1 GB", 1024), ("2 gb", 2048),
    ("0.5 GB", 512), ("0.5GB", 512), (".5 gb", 512), (" 3 GB ", 3072), (4096, 4096),
])
def test_parse_task_memory(text, mib):
    assert parse_task_memory(text) == mib


@pytest.mark.parametrize("text", [
    "", "lots", "1 TB", "512 MB", "-512", "0", "0 GB", "512.5", "0.0001 GB", None,
])
def test_parse_task_memory_rejects_garbage(text):
    with pytest.raises(errors.ecs.ClientException, match=r"Invalid 'memory' setting for task\."):
        parse_task_memory(text)


# --- the body as DescribeTaskDefinition shows it --------------------------------

def test_minimal_definition_gets_ecs_defaults():
    td = normalize()
    assert td == {
        "containerDefinitions": [{
            "name": "app", "image": "nginx:latest", "cpu": 0, "memory": 128,
            "portMappings": [], "essential": True, "environment": [],
            "mountPoints": [], "volumesFrom": [], "systemControls": [],
        }],
        "family": "web",
        "volumes": [],
        "placementConstraints": [],
        "compatibilities": ["EXTERNAL", "EC2"],
    }


def test_store_assigned_fields_and_tags_are_left_out():
    td = normalize(tags=[{"key": "team", "value": "a"}])
    for key in ("taskDefinitionArn", "revision", "status", "registeredAt",
                "registeredBy", "deregisteredAt", "tags"):
        assert key not in td


def test_omitted_network_mode_is_omitted_and_means_bridge():
    td = normalize()
    assert "networkMode" not in td
    assert effective_network_mode(td) == "bridge"
    assert effective_network_mode(normalize(networkMode="host")) == "host"


def test_given_container_values_win_over_defaults():
    c = container(cpu=256, essential=False, environment=[{"name": "A", "value": "1"}],
                  systemControls=[{"namespace": "net.core.somaxconn", "value": "1024"}])
    td = normalize(container("main"), c)
    out = td["containerDefinitions"][1]
    assert out["cpu"] == 256
    assert out["essential"] is False
    assert out["environment"] == [{"name": "A", "value": "1"}]
    assert out["systemControls"] == [{"namespace": "net.core.somaxconn", "value": "1024"}]


def test_container_members_pass_through():
    extras = {
        "entryPoint": ["sh", "-c"], "command": ["echo hi"], "hostname": "h", "user": "1000",
        "workingDirectory": "/srv", "dnsServers": ["10.0.0.2"], "ulimits": [
            {"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "linuxParameters": {"initProcessEnabled": True}, "stopTimeout": 10,
        "restartPolicy": {"enabled": True}, "versionConsistency": "disabled",
    }
    out = normalize(container(**extras))["containerDefinitions"][0]
    for key, value in extras.items():
        assert out[key] == value


def test_container_keys_follow_ecs_member_order():
    c = {"healthCheck": {"command": ["CMD", "true"]}, "memory": 64, "image": "i", "name": "z"}
    out = normalize(c)["containerDefinitions"][0]
    assert list(out)[:4] == ["name", "image", "cpu", "memory"]
    assert list(out["healthCheck"]) == ["command", "interval", "timeout", "retries"]


def test_task_members_pass_through():
    fields = {
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "networkMode": "host", "pidMode": "task", "ipcMode": "none",
        "proxyConfiguration": {"type": "APPMESH", "containerName": "app"},
        "inferenceAccelerators": [{"deviceName": "d", "deviceType": "t"}],
        "ephemeralStorage": {"sizeInGiB": 30},
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "enableFaultInjection": True,
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:x == y"}],
        "volumes": [{"name": "data", "host": {"sourcePath": "/data"}}],
        "requiresCompatibilities": ["EC2", "EXTERNAL"],
    }
    td = normalize(**fields)
    for key, value in fields.items():
        assert td[key] == value


def test_unknown_future_members_pass_through():
    td = normalize(someNewMember={"x": 1})
    assert td["someNewMember"] == {"x": 1}


def test_requires_compatibilities_is_omitted_unless_given():
    assert "requiresCompatibilities" not in normalize()
    assert "requiresCompatibilities" not in normalize(requiresCompatibilities=[])
    assert normalize(requiresCompatibilities=["EC2"])["requiresCompatibilities"] == ["EC2"]


def test_requires_attributes_is_omitted_when_nothing_is_required():
    assert "requiresAttributes" not in normalize()


@pytest.mark.parametrize("cpu, memory, out_cpu, out_memory", [
    ("1 vCPU", "2 GB", "1024", "2048"),
    ("0.5 vCPU", "1GB", "512", "1024"),
    ("512", "512", "512", "512"),
])
def test_task_cpu_and_memory_become_integer_strings(cpu, memory, out_cpu, out_memory):
    td = normalize(cpu=cpu, memory=memory)
    assert (td["cpu"], td["memory"]) == (out_cpu, out_memory)


def test_task_cpu_and_memory_are_omitted_when_not_given():
    td = normalize()
    assert "cpu" not in td and "memory" not in td


def test_request_is_never_mutated():
    req = request(
        container(portMappings=[{"containerPort": 80}], healthCheck={"command": ["CMD", "true"]}),
        cpu="1 vCPU", memory="1 GB", tags=[{"key": "a", "value": "b"}])
    before = copy.deepcopy(req)
    td = normalize_task_definition(req)
    assert req == before
    # What normalizing fills in is the result's own, not written through to the request.
    td["containerDefinitions"][0]["portMappings"][0]["hostPort"] = 1
    td["containerDefinitions"][0]["healthCheck"]["interval"] = 5
    assert req == before


def test_rejected_request_is_not_mutated():
    req = request(container(memory=None))
    before = copy.deepcopy(req)
    rejected(req)
    assert req == before


# --- compatibilities ------------------------------------------------------------

@pytest.mark.parametrize("mode, compatibilities", [
    (None, ["EXTERNAL", "EC2"]),
    ("bridge", ["EXTERNAL", "EC2"]),
    ("host", ["EXTERNAL", "EC2"]),
    ("none", ["EXTERNAL", "EC2"]),
    ("awsvpc", ["EC2"]),
])
def test_compatibilities_by_network_mode(mode, compatibilities):
    fields = {"networkMode": mode} if mode else {}
    assert normalize(**fields)["compatibilities"] == compatibilities


@pytest.mark.parametrize("launch_type", ["FARGATE", "MANAGED_INSTANCES"])
def test_unsupported_launch_types_are_refused(launch_type):
    message = rejected(request(requiresCompatibilities=["EC2", launch_type], networkMode="awsvpc"))
    assert "EC2 and EXTERNAL" in message and launch_type in message


def test_external_cannot_use_awsvpc():
    message = rejected(request(requiresCompatibilities=["EXTERNAL"], networkMode="awsvpc"))
    assert "awsvpc" in message
    assert normalize(requiresCompatibilities=["EC2"], networkMode="awsvpc")


# --- family -------------------------------------------------------------------

@pytest.mark.parametrize("family", ["web", "Web_App-2", "a" * 255, "0"])
def test_valid_families(family):
    assert normalize(family=family)["family"] == family


@pytest.mark.parametrize("family, message", [
    ("", "Family should not be null or empty."),
    ("web app", "Family contains invalid characters."),
    ("web.app", "Family contains invalid characters."),
    ("web/app", "Family contains invalid characters."),
    ("wéb", "Family contains invalid characters."),
    ("a" * 256, "Family name cannot be longer than 255 characters."),
])
def test_invalid_families(family, message):
    assert rejected(request(family=family)) == message


# --- containers: count, names, image, essential -----------------------------------

def test_container_list_cannot_be_empty():
    assert rejected({"family": "web", "containerDefinitions": []}) == "Container list cannot be empty."


def test_at_most_ten_containers():
    ten = [container(f"c{i}") for i in range(10)]
    assert len(normalize(*ten)["containerDefinitions"]) == 10
    assert rejected(request(*ten, container("c10"))) == "Too many containers."


@pytest.mark.parametrize("name, message", [
    (None, "Container.name should not be null or empty."),
    ("", "Container.name should not be null or empty."),
    ("my app", "Container.name contains invalid characters."),
    ("app:1", "Container.name contains invalid characters."),
    ("a" * 256, "Container.name contains invalid characters."),
])
def test_invalid_container_names(name, message):
    assert rejected(request(container(name))) == message


def test_longest_container_name_is_accepted():
    assert normalize(container("a" * 255))


def test_container_names_must_be_unique():
    message = rejected(request(container("app"), container("app")))
    assert message == "Container names must be unique within a Task Definition."


@pytest.mark.parametrize("image", [None, "", "   "])
def test_image_is_required(image):
    c = container()
    c["image"] = image
    if image is None:
        del c["image"]
    assert rejected(request(c)) == "Container.image should not be null or empty."


def test_at_least_one_essential_container():
    message = rejected(request(container("a", essential=False), container("b", essential=False)))
    assert message == "Task definition doesn't have any essential container."
    # omitted essential means essential
    assert normalize(container("a", essential=False), container("b"))


# --- memory and cpu -------------------------------------------------------------

def test_container_needs_memory_without_task_memory():
    message = rejected(request(container(memory=None)))
    assert message == ("Invalid setting for container 'app'. "
                       "At least one of 'memory' or 'memoryReservation' must be specified.")


def test_memory_reservation_alone_is_enough():
    out = normalize(container(memory=None, memoryReservation=128))["containerDefinitions"][0]
    assert out["memoryReservation"] == 128 and "memory" not in out


def test_task_memory_makes_container_memory_optional():
    td = normalize(container(memory=None), memory="512")
    assert "memory" not in td["containerDefinitions"][0]


@pytest.mark.parametrize("setting", ["memory", "memoryReservation"])
def test_container_memory_minimum_is_6_mib(setting):
    assert normalize(container(**{"memory": None, setting: 6}))
    message = rejected(request(container(**{"memory": None, setting: 5})))
    assert message.startswith(f"Invalid '{setting}' setting for container 'app'.")
    assert "6 MiB" in message


def test_memory_reservation_cannot_exceed_memory():
    assert normalize(container(memory=256, memoryReservation=256))
    assert normalize(container(memory=256, memoryReservation=128))
    message = rejected(request(container(memory=128, memoryReservation=256)))
    assert message.startswith("Invalid 'memoryReservation' setting for container 'app'.")


def test_container_memory_cannot_exceed_task_memory():
    assert normalize(container(memory=512), memory="512")
    message = rejected(request(container(memory=1024), memory="512"))
    assert message == "The 'memory' setting for container 'app' is greater than for the task."


def test_sum_of_reservations_cannot_exceed_task_memory():
    containers = [container("a", memory=400), container("b", memory=400)]
    assert normalize(*containers, memory="800")
    message = rejected(request(*containers, memory="700"))
    assert message == ("The sum of all container 'memory' values cannot be greater than "
                       "the value of the task 'memory'.")


def test_soft_limits_are_what_counts_against_task_memory():
    # hard limits may oversubscribe the task; reservations may not
    containers = [container("a", memory=512, memoryReservation=256),
                  container("b", memory=512, memoryReservation=256)]
    assert normalize(*containers, memory="512")
    containers[1]["memoryReservation"] = 300
    message = rejected(request(*containers, memory="512"))
    assert message == ("The sum of all container 'memoryReservation' values cannot be greater "
                       "than the value of the task 'memory'.")


def test_sum_of_container_cpu_cannot_exceed_task_cpu():
    containers = [container("a", cpu=512), container("b", cpu=512)]
    assert normalize(*containers, cpu="1 vCPU")
    message = rejected(request(*containers, cpu="512"))
    assert message == ("The sum of all container 'cpu' values cannot be greater than "
                       "the value of the task 'cpu'.")


@pytest.mark.parametrize("cpu", ["64", "127", "196609", "200 vCPU", "lots"])
def test_task_cpu_out_of_range_or_garbage(cpu):
    assert rejected(request(cpu=cpu)) == "Invalid 'cpu' setting for task."


@pytest.mark.parametrize("cpu", ["128", "196608", "0.125 vCPU", "192 vCPU"])
def test_task_cpu_range_bounds(cpu):
    assert normalize(cpu=cpu)


@pytest.mark.parametrize("memory", ["", "big", "0", "1.5"])
def test_task_memory_garbage(memory):
    assert rejected(request(memory=memory)) == "Invalid 'memory' setting for task."


# --- port mappings ------------------------------------------------------------------

def ports(td, index=0):
    return td["containerDefinitions"][index]["portMappings"]


def test_protocol_defaults_to_tcp_and_udp_is_kept():
    td = normalize(container(portMappings=[{"containerPort": 53, "protocol": "udp"},
                                           {"containerPort": 80}]))
    assert [m["protocol"] for m in ports(td)] == ["udp", "tcp"]


@pytest.mark.parametrize("mode", [None, "bridge"])
def test_bridge_omitted_host_port_is_zero(mode):
    fields = {"networkMode": mode} if mode else {}
    td = normalize(container(portMappings=[{"containerPort": 80}]), **fields)
    assert ports(td) == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]


def test_bridge_static_host_port_is_kept():
    td = normalize(container(portMappings=[{"containerPort": 80, "hostPort": 8080}]))
    assert ports(td)[0]["hostPort"] == 8080


@pytest.mark.parametrize("mode", ["host", "awsvpc"])
@pytest.mark.parametrize("host_port", [None, 0, 80])
def test_host_and_awsvpc_host_port_equals_container_port(mode, host_port):
    mapping = {"containerPort": 80}
    if host_port is not None:
        mapping["hostPort"] = host_port
    td = normalize(container(portMappings=[mapping]), networkMode=mode)
    assert ports(td)[0]["hostPort"] == 80


@pytest.mark.parametrize("mode", ["host", "awsvpc"])
def test_host_and_awsvpc_host_port_must_match(mode):
    message = rejected(request(container(portMappings=[{"containerPort": 80, "hostPort": 8080}]),
                               networkMode=mode))
    assert message == (f"When networkMode={mode}, the host ports and container ports "
                       "in port mappings must match.")


def test_port_mapping_keeps_name_and_app_protocol():
    mapping = {"containerPort": 80, "name": "web", "appProtocol": "http"}
    assert ports(normalize(container(portMappings=[mapping])))[0] == {
        "containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "web", "appProtocol": "http"}


@pytest.mark.parametrize("mapping", [{}, {"containerPort": 0}, {"containerPort": 65536},
                                     {"containerPort": -1}, {"hostPort": 80}])
def test_invalid_container_port(mapping):
    message = rejected(request(container(portMappings=[mapping])))
    assert message == "Invalid 'containerPort' setting for container 'app'."


@pytest.mark.parametrize("port", [1, 65535])
def test_container_port_bounds(port):
    assert normalize(container(portMappings=[{"containerPort": port}]))


@pytest.mark.parametrize("host_port", [-1, 65536])
def test_invalid_host_port(host_port):
    message = rejected(request(container(portMappings=[{"containerPort": 80, "hostPort": host_port}])))
    assert message == "Invalid 'hostPort' setting for container 'app'."


def test_none_mode_refuses_port_mappings():
    message = rejected(request(container(portMappings=[{"containerPort": 80}]), networkMode="none"))
    assert message == "Port mappings are not supported when networkMode=none."
    assert normalize(container(), networkMode="none")


@pytest.mark.parametrize("mode", [None, "host", "awsvpc"])
def test_static_host_port_mapped_twice_in_task(mode):
    fields = {"networkMode": mode} if mode else {}
    a = container("a", portMappings=[{"containerPort": 80, "hostPort": 80}])
    b = container("b", portMappings=[{"containerPort": 80, "hostPort": 80}])
    assert rejected(request(a, b, **fields)) == "TCP host port '80' is mapped multiple times in task."


def test_same_host_port_twice_in_one_container():
    c = container(portMappings=[{"containerPort": 80, "hostPort": 8080},
                                {"containerPort": 81, "hostPort": 8080}])
    assert rejected(request(c)) == "TCP host port '8080' is mapped multiple times in task."


def test_same_port_with_different_protocols_is_fine():
    c = container(portMappings=[{"containerPort": 53, "hostPort": 53, "protocol": "tcp"},
                                {"containerPort": 53, "hostPort": 53, "protocol": "udp"}])
    assert normalize(c)
    udp = [container(n, portMappings=[{"containerPort": 53, "protocol": "udp"}]) for n in "ab"]
    assert rejected(request(*udp, networkMode="host")) == "UDP host port '53' is mapped multiple times in task."


def test_dynamic_bridge_ports_never_conflict():
    a = container("a", portMappings=[{"containerPort": 80}])
    b = container("b", portMappings=[{"containerPort": 80, "hostPort": 0}])
    assert normalize(a, b)


@pytest.mark.parametrize("mode", ["bridge", "awsvpc"])
def test_container_port_range_in_bridge_and_awsvpc(mode):
    td = normalize(container(portMappings=[{"containerPortRange": "8000-8010"}]), networkMode=mode)
    assert ports(td) == [{"protocol": "tcp", "containerPortRange": "8000-8010"}]


@pytest.mark.parametrize("mode", ["host", "none"])
def test_container_port_range_refused_in_other_modes(mode):
    message = rejected(request(container(portMappings=[{"containerPortRange": "8000-8010"}]),
                               networkMode=mode))
    assert "networkMode=" + mode in message


@pytest.mark.parametrize("text", ["8000", "8010-8000", "8000-8000", "0-10", "1-65536", "a-b"])
def test_invalid_container_port_range(text):
    message = rejected(request(container(portMappings=[{"containerPortRange": text}]),
                               networkMode="awsvpc"))
    assert message == "Invalid 'containerPortRange' setting for container 'app'."


@pytest.mark.parametrize("extra", [{"containerPort": 8000}, {"hostPort": 8000}])
def test_container_port_range_excludes_single_ports(extra):
    mapping = {"containerPortRange": "8000-8010", **extra}
    message = rejected(request(container(portMappings=[mapping]), networkMode="awsvpc"))
    assert message.startswith("Invalid port mapping for container 'app'.")


# --- links and dependencies ---------------------------------------------------------

def test_links_in_bridge_mode():
    td = normalize(container("db"), container("web", links=["db:database"]))
    assert td["containerDefinitions"][1]["links"] == ["db:database"]
    assert normalize(container("db"), container("web", links=["db"]), networkMode="bridge")


@pytest.mark.parametrize("mode", ["host", "awsvpc", "none"])
def test_links_only_in_bridge_mode(mode):
    message = rejected(request(container("db"), container("web", links=["db"]), networkMode=mode))
    assert message == f"Links are not supported when networkMode={mode}."


def test_link_to_unknown_container():
    message = rejected(request(container("web", links=["cache:c"])))
    assert message == "Invalid 'links' setting. Unknown container: 'cache'."


def test_depends_on_known_container():
    web = container("web", dependsOn=[{"containerName": "db", "condition": "START"}])
    td = normalize(container("db"), web)
    assert td["containerDefinitions"][1]["dependsOn"] == [{"containerName": "db", "condition": "START"}]


def test_depends_on_unknown_container():
    web = container("web", dependsOn=[{"containerName": "db", "condition": "START"}])
    assert rejected(request(web)) == "Cannot depend on container + 'db' because it does not exist"


def test_depends_on_itself():
    web = container("web", dependsOn=[{"containerName": "web", "condition": "START"}])
    assert rejected(request(web)) == "Container 'web' cannot depend on itself."


@pytest.mark.parametrize("condition", ["SUCCESS", "COMPLETE"])
def test_exit_conditions_need_a_non_essential_dependency(condition):
    web = container("web", dependsOn=[{"containerName": "init", "condition": condition}])
    message = rejected(request(container("init"), web))
    assert message == ("A dependency container with SUCCESS or COMPLETE condition "
                       "cannot be an essential container")
    assert normalize(container("init", essential=False), web)


def test_healthy_condition_is_accepted():
    web = container("web", dependsOn=[{"containerName": "db", "condition": "HEALTHY"}])
    db = container("db", healthCheck={"command": ["CMD", "pg_isready"]})
    assert normalize(db, web)


def test_dependency_cycle_is_refused():
    a = container("a", dependsOn=[{"containerName": "b", "condition": "START"}])
    b = container("b", dependsOn=[{"containerName": "c", "condition": "START"}])
    c = container("c", dependsOn=[{"containerName": "a", "condition": "START"}])
    message = rejected(request(a, b, c))
    assert message.startswith("Container dependencies contain a cycle: ")
    assert "a -> b -> c -> a" in message


def test_diamond_dependencies_are_not_a_cycle():
    top = container("top", dependsOn=[{"containerName": "l", "condition": "START"},
                                      {"containerName": "r", "condition": "START"}])
    left = container("l", dependsOn=[{"containerName": "base", "condition": "START"}])
    right = container("r", dependsOn=[{"containerName": "base", "condition": "START"}])
    assert normalize(top, left, right, container("base"))


# --- volumes ---------------------------------------------------------------------------

def test_mount_point_names_a_declared_volume():
    c = container(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}])
    td = normalize(c, volumes=[{"name": "data", "host": {"sourcePath": "/srv/data"}}])
    assert td["containerDefinitions"][0]["mountPoints"] == [
        {"sourceVolume": "data", "containerPath": "/data"}]
    assert td["volumes"] == [{"name": "data", "host": {"sourcePath": "/srv/data"}}]


def test_mount_point_of_unknown_volume():
    c = container(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}])
    assert rejected(request(c)) == "Unknown volume 'data'."
    assert rejected(request(container(mountPoints=[{"containerPath": "/x"}]))) == "Unknown volume 'null'."


def test_duplicate_volume_names():
    volumes = [{"name": "data"}, {"name": "data", "host": {"sourcePath": "/x"}}]
    message = rejected(request(volumes=volumes))
    assert message.startswith("Volume names must be unique within a Task Definition")


@pytest.mark.parametrize("volume, message", [
    ({}, "Volume.name should not be null or empty."),
    ({"name": "my data"}, "Volume.name contains invalid characters."),
])
def test_invalid_volume_names(volume, message):
    assert rejected(request(volumes=[volume])) == message


def test_volumes_from_known_container():
    reader = container("reader", volumesFrom=[{"sourceContainer": "writer", "readOnly": True}])
    td = normalize(container("writer"), reader)
    assert td["containerDefinitions"][1]["volumesFrom"] == [{"sourceContainer": "writer", "readOnly": True}]


@pytest.mark.parametrize("source", ["ghost", "reader"])
def test_volumes_from_unknown_container(source):
    reader = container("reader", volumesFrom=[{"sourceContainer": source}])
    message = rejected(request(reader))
    assert message == f"Invalid 'volumesFrom' setting. Unknown container: '{source}'."


# --- health checks ---------------------------------------------------------------------

def test_health_check_gets_ecs_defaults():
    out = normalize(container(healthCheck={"command": ["CMD-SHELL", "curl -f localhost"]}))
    assert out["containerDefinitions"][0]["healthCheck"] == {
        "command": ["CMD-SHELL", "curl -f localhost"], "interval": 30, "timeout": 5, "retries": 3}


def test_health_check_values_are_kept():
    check = {"command": ["CMD", "true"], "interval": 10, "timeout": 3, "retries": 5, "startPeriod": 60}
    assert normalize(container(healthCheck=check))["containerDefinitions"][0]["healthCheck"] == check


@pytest.mark.parametrize("command", [[], ["CMD"], ["CMD-SHELL"], ["curl", "-f", "x"],
                                     ["NONE"], ["cmd", "true"]])
def test_health_check_command_form(command):
    message = rejected(request(container(healthCheck={"command": command})))
    assert message.startswith("Invalid 'healthCheck' setting for container 'app'.")


@pytest.mark.parametrize("setting, low, high", [
    ("interval", 5, 300), ("timeout", 2, 60), ("retries", 1, 10), ("startPeriod", 0, 300),
])
def test_health_check_ranges(setting, low, high):
    def check(value):
        return container(healthCheck={"command": ["CMD", "true"], setting: value})

    assert normalize(check(low)) and normalize(check(high))
    assert rejected(request(check(high + 1))) == (
        f"Health check {setting} must be less than or equal to the maximum allowed value "
        f"{high} for container 'app'")
    assert rejected(request(check(low - 1))) == (
        f"Health check {setting} must be greater than or equal to the minimum allowed value "
        f"{low} for container 'app'")


# --- log configuration -------------------------------------------------------------------

@pytest.mark.parametrize("options", [None, {}, {"awslogs-group": "g"}, {"awslogs-region": "r"}])
def test_awslogs_needs_group_and_region(options):
    config = {"logDriver": "awslogs"}
    if options is not None:
        config["options"] = options
    message = rejected(request(container(logConfiguration=config)))
    assert message == "Log driver awslogs requires options: awslogs-region, awslogs-group"


def test_other_log_drivers_need_no_options():
    assert normalize(container(logConfiguration={"logDriver": "json-file"}))


# --- requiresAttributes ------------------------------------------------------------------

ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"
API = "com.amazonaws.ecs.capability.docker-remote-api."
AWSLOGS = {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r"}}


@pytest.mark.parametrize("fields, task_fields, expected", [
    ({"healthCheck": {"command": ["CMD", "true"]}}, {},
     ["ecs.capability.container-health-check", API + "1.24"]),
    ({"healthCheck": {"command": ["CMD", "true"], "startPeriod": 10}}, {},
     ["ecs.capability.container-health-check", API + "1.24", API + "1.29"]),
    ({"logConfiguration": AWSLOGS}, {},
     ["com.amazonaws.ecs.capability.logging-driver.awslogs", API + "1.18", API + "1.19"]),
    ({"logConfiguration": AWSLOGS}, {"executionRoleArn": "arn:aws:iam::1:role/x"},
     ["com.amazonaws.ecs.capability.logging-driver.awslogs", API + "1.18", API + "1.19",
      "ecs.capability.execution-role-awslogs"]),
    ({"logConfiguration": {"logDriver": "syslog"}}, {},
     ["com.amazonaws.ecs.capability.logging-driver.syslog", API + "1.18"]),
    ({"logConfiguration": {"logDriver": "splunk", "secretOptions": [
        {"name": "splunk-token", "valueFrom": "arn:aws:secretsmanager:r:1:secret:t"}]}}, {},
     ["com.amazonaws.ecs.capability.logging-driver.splunk", API + "1.18",
      "ecs.capability.secrets.asm.bootstrap.log-driver"]),
    ({"dependsOn": [{"containerName": "side", "condition": "START"}]}, {},
     ["ecs.capability.container-ordering"]),
    ({"startTimeout": 30}, {}, ["ecs.capability.container-ordering"]),
    ({"stopTimeout": 30}, {}, ["ecs.capability.container-ordering"]),
    ({"dockerLabels": {"a": "b"}}, {}, [API + "1.18"]),
    ({"ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 2}]}, {}, [API + "1.18"]),
    ({"privileged": True}, {}, ["com.amazonaws.ecs.capability.privileged-container"]),
    ({"privileged": False}, {}, []),
    ({"memoryReservation": 64}, {}, [API + "1.21"]),
    ({"readonlyRootFilesystem": True}, {}, [API + "1.17"]),
    ({"linuxParameters": {"initProcessEnabled": True}}, {}, [API + "1.25"]),
    ({"linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}}}, {}, [API + "1.18"]),
    ({"image": ECR_IMAGE}, {}, ["com.amazonaws.ecs.capability.ecr-auth"]),
    ({"image": ECR_IMAGE}, {"executionRoleArn": "arn:aws:iam::1:role/x"},
     ["com.amazonaws.ecs.capability.ecr-auth", "ecs.capability.execution-role-ecr-pull"]),
    ({"image": "public.ecr.aws/nginx/nginx:latest"}, {}, []),
    ({"secrets": [{"name": "A", "valueFrom": "arn:aws:ssm:r:1:parameter/a"}]}, {},
     ["ecs.capability.secrets.ssm.environment-variables"]),
    ({"secrets": [{"name": "A", "valueFrom": "plain-parameter-name"},
                  {"name": "B", "valueFrom": "arn:aws:secretsmanager:r:1:secret:b"}]}, {},
     ["ecs.capability.secrets.asm.environment-variables",
      "ecs.capability.secrets.ssm.environment-variables"]),
    ({"environmentFiles": [{"value": "arn:aws:s3:::b/x.env", "type": "s3"}]}, {},
     ["ecs.capability.env-files.s3"]),
    ({"repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:r:1:secret:c"}}, {},
     ["com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager"]),
    ({"firelensConfiguration": {"type": "fluentbit"}}, {}, ["ecs.capability.firelens.fluentbit"]),
    ({"dockerSecurityOptions": ["label:type:svirt_apache_t", "apparmor:p", "no-new-privileges"]}, {},
     ["com.amazonaws.ecs.capability.selinux", "com.amazonaws.ecs.capability.apparmor"]),
    ({}, {"taskRoleArn": "arn:aws:iam::1:role/t"}, ["com.amazonaws.ecs.capability.task-iam-role"]),
    ({}, {"taskRoleArn": "arn:aws:iam::1:role/t", "networkMode": "host"},
     ["com.amazonaws.ecs.capability.task-iam-role",
      "com.amazonaws.ecs.capability.task-iam-role-network-host"]),
    ({}, {"networkMode": "awsvpc"}, ["ecs.capability.task-eni"]),
    ({}, {"pidMode": "host"}, ["ecs.capability.pid-ipc-namespace-sharing"]),
    ({}, {"ipcMode": "task"}, ["ecs.capability.pid-ipc-namespace-sharing"]),
    ({}, {"proxyConfiguration": {"type": "APPMESH", "containerName": "app"}},
     ["ecs.capability.aws-appmesh"]),
    ({}, {"volumes": [{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]},
     ["ecs.capability.efs"]),
    ({}, {"volumes": [{"name": "v", "efsVolumeConfiguration": {
        "fileSystemId": "fs-1", "transitEncryption": "ENABLED"}}]},
     ["ecs.capability.efs", "ecs.capability.efsAuth"]),
    ({}, {"volumes": [{"name": "v", "dockerVolumeConfiguration": {"scope": "task"}}]},
     ["ecs.capability.docker-plugin.local", API + "1.25"]),
    ({}, {"volumes": [{"name": "v", "dockerVolumeConfiguration": {"driver": "rexray/ebs"}}]},
     ["ecs.capability.docker-plugin.rexray/ebs", API + "1.25"]),
    ({}, {"volumes": [{"name": "v", "host": {"sourcePath": "/x"}}]}, []),
])
def test_requires_attributes(fields, task_fields, expected):
    c = container(**fields)
    others = [container("side", essential=False)] if "dependsOn" in fields else []
    td = normalize(c, *others, **task_fields)
    assert attribute_names(td) == expected


def test_requires_attributes_are_deduplicated_across_containers():
    a = container("a", healthCheck={"command": ["CMD", "true"]}, dockerLabels={"x": "y"})
    b = container("b", healthCheck={"command": ["CMD", "true"]}, logConfiguration={"logDriver": "json-file"})
    td = normalize(a, b)
    names = attribute_names(td)
    assert len(names) == len(set(names))
    assert set(names) == {"ecs.capability.container-health-check", API + "1.24", API + "1.18",
                          "com.amazonaws.ecs.capability.logging-driver.json-file"}
    assert all(set(a) == {"name"} for a in td["requiresAttributes"])


# --- a realistic definition end to end ----------------------------------------------------

def test_realistic_bridge_definition():
    req = {
        "family": "shop",
        "taskRoleArn": "arn:aws:iam::123456789012:role/shop",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "cpu": "1 vCPU",
        "memory": "1 GB",
        "volumes": [{"name": "static", "host": {"sourcePath": "/srv/static"}}],
        "containerDefinitions": [
            {"name": "web", "image": ECR_IMAGE, "memoryReservation": 256,
             "portMappings": [{"containerPort": 8080, "name": "http", "appProtocol": "http"}],
             "links": ["cache"],
             "mountPoints": [{"sourceVolume": "static", "containerPath": "/static", "readOnly": True}],
             "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"},
                           {"containerName": "cache", "condition": "HEALTHY"}],
             "logConfiguration": AWSLOGS},
            {"name": "cache", "image": "redis:7", "memory": 128, "cpu": 128,
             "healthCheck": {"command": ["CMD", "redis-cli", "ping"]}},
            {"name": "migrate", "image": ECR_IMAGE, "memory": 128, "essential": False,
             "command": ["migrate"]},
        ],
        "tags": [{"key": "team", "value": "shop"}],
    }
    td = normalize_task_definition(req)
    web, cache, migrate = td["containerDefinitions"]
    assert web["portMappings"] == [
        {"containerPort": 8080, "hostPort": 0, "protocol": "tcp", "name": "http", "appProtocol": "http"}]
    assert web["cpu"] == 0 and web["essential"] is True
    assert cache["healthCheck"]["interval"] == 30
    assert migrate["essential"] is False
    assert (td["cpu"], td["memory"]) == ("1024", "1024")
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]
    assert "networkMode" not in td and "tags" not in td
    assert set(attribute_names(td)) == {
        "com.amazonaws.ecs.capability.ecr-auth", "ecs.capability.execution-role-ecr-pull",
        API + "1.21", API + "1.18", API + "1.19", API + "1.24",
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "ecs.capability.execution-role-awslogs", "ecs.capability.container-ordering",
        "ecs.capability.container-health-check", "com.amazonaws.ecs.capability.task-iam-role",
    }
