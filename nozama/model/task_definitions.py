"""RegisterTaskDefinition semantics: the rules ECS applies beyond the request shape.

By the time a request reaches `normalize_task_definition` it has been checked
against botocore's ECS model (types, required members, enum values). What is
left is what ECS itself enforces and fills in:

- validation: family and container names, container count, memory and CPU
  settings, port mappings per network mode, links, container dependencies,
  volumes and mount points, health checks, launch types. A violation raises
  ClientException, the error ECS returns for task-definition mistakes, with
  ECS's own wording where it is known (see the notes by each message);
- normalization: the `taskDefinition` body as DescribeTaskDefinition shows it,
  with ECS's defaults (container `cpu` 0, `essential` true, empty lists for
  `environment`/`mountPoints`/`volumesFrom`/..., port-mapping protocol and
  host port, health-check timings), task `cpu`/`memory` converted to plain
  integer strings, the computed `compatibilities` and `requiresAttributes`,
  and every other member passed through as given.

The fields the store assigns (taskDefinitionArn, revision, status,
registeredAt, registeredBy, deregisteredAt) are left to the caller, and so are
`tags`, which ECS keeps apart from the definition.

Nozama runs tasks on machines it manages, the way ECS runs the EC2 and
EXTERNAL launch types; FARGATE and MANAGED_INSTANCES are refused.

`parse_task_cpu` and `parse_task_memory` are the one place that reads the
task-level size strings ("1 vCPU", "0.5 GB", "1024"); the scheduler uses them
too.
"""

from __future__ import annotations

from nozama.kernel import errors
import re
from collections.abc import Callable, Iterable
from typing import NoReturn


__all__ = [
    "normalize_task_definition",
    "parse_task_cpu",
    "parse_task_memory",
    "effective_network_mode",
]

# --- limits ----------------------------------------------------------------

MAX_CONTAINERS = 10
# Families, container names and volume names: up to 255 letters, numbers,
# hyphens and underscores (ECS API reference).
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Docker 20.10+ refuses containers with less than 6 MiB; the ECS docs say not
# to go below it, and catching it here beats a task that never starts.
MIN_CONTAINER_MEMORY_MIB = 6
# Task-level CPU for the EC2 and EXTERNAL launch types: 0.125 to 192 vCPUs.
MIN_TASK_CPU = 128
MAX_TASK_CPU = 196608
CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024
MAX_PORT = 65535

SUPPORTED_LAUNCH_TYPES = ("EC2", "EXTERNAL")
DEFAULT_NETWORK_MODE = "bridge"  # what ECS uses on Linux when networkMode is omitted
# Network modes in which a container port is published on the same host port.
_STATIC_PORT_MODES = ("host", "awsvpc")
# containerPortRange needs the agent to pick (bridge) or mirror (awsvpc) ports.
_PORT_RANGE_MODES = ("bridge", "awsvpc")

# ECS fills these into a health check it returns when they are omitted.
_HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}
# Accepted ranges, seconds (retries: a count), from the HealthCheck reference.
_HEALTH_CHECK_LIMITS = {
    "interval": (5, 300),
    "timeout": (2, 60),
    "retries": (1, 10),
    "startPeriod": (0, 300),
}
_HEALTH_CHECK_PREFIXES = ("CMD", "CMD-SHELL")

# Container members ECS returns even when the request left them out.
_CONTAINER_DEFAULTS: dict[str, Callable[[], object]] = {
    "cpu": lambda: 0,
    "portMappings": list,
    "essential": lambda: True,
    "environment": list,
    "mountPoints": list,
    "volumesFrom": list,
    "systemControls": list,
}

# Member order of the botocore shapes, so bodies serialize the way ECS lists
# them; members not named here (newer API revisions) follow in request order.
_TASK_DEFINITION_ORDER = (
    "taskDefinitionArn", "containerDefinitions", "family", "taskRoleArn",
    "executionRoleArn", "networkMode", "revision", "volumes", "status",
    "requiresAttributes", "placementConstraints", "compatibilities",
    "runtimePlatform", "requiresCompatibilities", "cpu", "memory",
    "inferenceAccelerators", "pidMode", "ipcMode", "proxyConfiguration",
    "registeredAt", "deregisteredAt", "deleteRequestedAt", "registeredBy",
    "ephemeralStorage", "enableFaultInjection",
)
_CONTAINER_ORDER = (
    "name", "image", "repositoryCredentials", "cpu", "memory",
    "memoryReservation", "links", "portMappings", "essential", "restartPolicy",
    "entryPoint", "command", "environment", "environmentFiles", "mountPoints",
    "volumesFrom", "linuxParameters", "secrets", "dependsOn", "startTimeout",
    "stopTimeout", "versionConsistency", "hostname", "user",
    "workingDirectory", "disableNetworking", "privileged",
    "readonlyRootFilesystem", "dnsServers", "dnsSearchDomains", "extraHosts",
    "dockerSecurityOptions", "interactive", "pseudoTerminal", "dockerLabels",
    "ulimits", "logConfiguration", "healthCheck", "systemControls",
    "resourceRequirements", "firelensConfiguration", "credentialSpecs",
)
_PORT_MAPPING_ORDER = (
    "containerPort", "hostPort", "protocol", "name", "appProtocol",
    "containerPortRange",
)
_HEALTH_CHECK_ORDER = ("command", "interval", "timeout", "retries", "startPeriod")

# Request members that are not part of the stored definition body.
_NOT_IN_BODY = ("tags",)


def _fail(message: str) -> NoReturn:
    raise errors.ecs.ClientException(message)


# --- task-level size strings -----------------------------------------------

_CPU_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(vcpus?)?", re.IGNORECASE)
_MEMORY_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(gb)?", re.IGNORECASE)


def _scaled_integer(number: str, unit: str | None, scale: int) -> int | None:
    """The integer a '<number> [unit]' string stands for, or None.

    A bare number is already in the base unit and must be whole; with a unit
    the number may be fractional ("0.5 vCPU") as long as the result is whole.
    """
    if unit is None:
        return int(number) if number.isdigit() else None
    value = float(number) * scale
    return int(value) if value.is_integer() else None


def _parse_size(value, pattern: re.Pattern, scale: int, setting: str) -> int:
    message = f"Invalid '{setting}' setting for task."
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, str) and (match := pattern.fullmatch(value.strip())):
        result = _scaled_integer(match.group(1), match.group(2), scale)
    else:
        result = None
    if result is None or result <= 0:
        _fail(message)
    return result


def parse_task_cpu(value: str) -> int:
    """Task-level CPU in CPU units: "1024" -> 1024, "1 vCPU" / "0.5 vcpu" -> 1024 / 512."""
    return _parse_size(value, _CPU_RE, CPU_UNITS_PER_VCPU, "cpu")


def parse_task_memory(value: str) -> int:
    """Task-level memory in MiB: "2048" -> 2048, "2 GB" / "1GB" / "0.5 gb" -> 2048 / 1024 / 512."""
    return _parse_size(value, _MEMORY_RE, MIB_PER_GB, "memory")


def effective_network_mode(task_definition: dict) -> str:
    """The network mode a definition runs with; DescribeTaskDefinition omits the default."""
    return task_definition.get("networkMode") or DEFAULT_NETWORK_MODE


# --- task-level rules --------------------------------------------------------

def _check_family(family) -> None:
    if not family:
        _fail("Family should not be null or empty.")
    if len(family) > 255:
        _fail("Family name cannot be longer than 255 characters.")
    if not _NAME_RE.fullmatch(family):
        _fail("Family contains invalid characters.")  # ECS's wording


def _check_launch_types(required: list[str], mode: str) -> None:
    for launch_type in required:
        if launch_type not in SUPPORTED_LAUNCH_TYPES:
            _fail(f"Nozama supports the EC2 and EXTERNAL launch types only; "
                  f"'{launch_type}' is not available.")
    # ECS Anywhere (EXTERNAL) runs bridge, host and none tasks, never awsvpc.
    if "EXTERNAL" in required and mode == "awsvpc":
        _fail("Task definitions that require EXTERNAL compatibility cannot use "
              "networkMode=awsvpc.")


def _check_container_count(containers: list) -> None:
    if not containers:
        _fail("Container list cannot be empty.")  # ECS's wording
    if len(containers) > MAX_CONTAINERS:
        _fail("Too many containers.")  # ECS's wording


def _task_cpu(request: dict) -> int | None:
    if request.get("cpu") is None:
        return None
    cpu = parse_task_cpu(request["cpu"])
    if not MIN_TASK_CPU <= cpu <= MAX_TASK_CPU:
        _fail("Invalid 'cpu' setting for task.")
    return cpu


def _task_memory(request: dict) -> int | None:
    if request.get("memory") is None:
        return None
    return parse_task_memory(request["memory"])


# --- per-container rules -----------------------------------------------------

def _check_container_name(container: dict) -> None:
    name = container.get("name")
    if not name:
        _fail("Container.name should not be null or empty.")  # ECS's wording
    if not _NAME_RE.fullmatch(name):
        _fail("Container.name contains invalid characters.")  # ECS's wording


def _check_image(container: dict) -> None:
    if not (container.get("image") or "").strip():
        _fail("Container.image should not be null or empty.")  # ECS's wording


def _check_unique_names(containers: list[dict]) -> None:
    seen = set()
    for container in containers:
        if container["name"] in seen:
            _fail("Container names must be unique within a Task Definition.")  # ECS's wording
        seen.add(container["name"])


def _is_essential(container: dict) -> bool:
    return container.get("essential", True) is not False


def _check_some_essential(containers: list[dict]) -> None:
    if not any(_is_essential(c) for c in containers):
        _fail("Task definition doesn't have any essential container.")


def _check_container_memory(container: dict, task_memory: int | None) -> None:
    name = container["name"]
    memory = container.get("memory")
    reservation = container.get("memoryReservation")
    # Without a task-level size, EC2 and EXTERNAL have nothing else to place by.
    if task_memory is None and memory is None and reservation is None:
        _fail(f"Invalid setting for container '{name}'. "
              "At least one of 'memory' or 'memoryReservation' must be specified.")
    for setting, value in (("memory", memory), ("memoryReservation", reservation)):
        if value is not None and value < MIN_CONTAINER_MEMORY_MIB:
            _fail(f"Invalid '{setting}' setting for container '{name}'. "
                  f"The value must be at least {MIN_CONTAINER_MEMORY_MIB} MiB.")
    # ECS accepts a reservation equal to the hard limit.
    if memory is not None and reservation is not None and reservation > memory:
        _fail(f"Invalid 'memoryReservation' setting for container '{name}'. "
              "'memoryReservation' must be less than or equal to 'memory'.")
    if task_memory is not None and memory is not None and memory > task_memory:
        _fail(f"The 'memory' setting for container '{name}' is greater than for the task.")


def _check_links(container: dict, mode: str, names: set[str]) -> None:
    links = container.get("links") or []
    if links and mode != "bridge":
        _fail(f"Links are not supported when networkMode={mode}.")
    for link in links:
        target = link.split(":", 1)[0]
        if target not in names:
            _fail(f"Invalid 'links' setting. Unknown container: '{target}'.")


def _check_port_range(name: str, mapping: dict, mode: str) -> None:
    """containerPortRange: 'first-last', bridge or awsvpc only, no host port."""
    text = mapping["containerPortRange"]
    if mode not in _PORT_RANGE_MODES:
        _fail(f"containerPortRange is not supported when networkMode={mode}.")
    if mapping.get("containerPort") is not None or mapping.get("hostPort") is not None:
        _fail(f"Invalid port mapping for container '{name}'. Specify either "
              "'containerPort' or 'containerPortRange', and no 'hostPort' with a range.")
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) < int(match.group(2)) <= MAX_PORT:
        _fail(f"Invalid 'containerPortRange' setting for container '{name}'.")


def _check_port_mapping(name: str, mapping: dict, mode: str) -> None:
    if mapping.get("containerPortRange") is not None:
        _check_port_range(name, mapping, mode)
        return
    container_port = mapping.get("containerPort")
    if container_port is None or not 1 <= container_port <= MAX_PORT:
        _fail(f"Invalid 'containerPort' setting for container '{name}'.")  # ECS's wording
    host_port = mapping.get("hostPort")
    if host_port is None:
        return
    if not 0 <= host_port <= MAX_PORT:
        _fail(f"Invalid 'hostPort' setting for container '{name}'.")
    # 0 means "unset" (bridge picks an ephemeral port), so it never conflicts.
    if mode in _STATIC_PORT_MODES and host_port not in (0, container_port):
        _fail(f"When networkMode={mode}, the host ports and container ports "
              "in port mappings must match.")  # ECS's wording


def _check_port_mappings(container: dict, mode: str) -> None:
    mappings = container.get("portMappings") or []
    if mappings and mode == "none":
        _fail("Port mappings are not supported when networkMode=none.")
    for mapping in mappings:
        _check_port_mapping(container["name"], mapping, mode)


def _check_mount_points(container: dict, volume_names: set[str]) -> None:
    for mount in container.get("mountPoints") or []:
        source = mount.get("sourceVolume")
        if source not in volume_names:
            # ECS prints a missing name as 'null'.
            _fail(f"Unknown volume '{'null' if source is None else source}'.")  # ECS's wording


def _check_volumes_from(container: dict, names: set[str]) -> None:
    for entry in container.get("volumesFrom") or []:
        source = entry.get("sourceContainer")
        if source not in names or source == container["name"]:
            _fail(f"Invalid 'volumesFrom' setting. Unknown container: '{source}'.")  # ECS's wording


def _check_health_check(container: dict) -> None:
    check = container.get("healthCheck")
    if check is None:
        return
    name = container["name"]
    command = check.get("command") or []
    if len(command) < 2 or command[0] not in _HEALTH_CHECK_PREFIXES:
        _fail(f"Invalid 'healthCheck' setting for container '{name}'. The command "
              "must start with CMD or CMD-SHELL, followed by the command to run.")
    for setting, (low, high) in _HEALTH_CHECK_LIMITS.items():
        value = check.get(setting)
        if value is None:
            continue
        # ECS's wording, as seen for retries; the other settings follow suit.
        if value > high:
            _fail(f"Health check {setting} must be less than or equal to the maximum "
                  f"allowed value {high} for container '{name}'")
        if value < low:
            _fail(f"Health check {setting} must be greater than or equal to the minimum "
                  f"allowed value {low} for container '{name}'")


def _check_log_configuration(container: dict) -> None:
    config = container.get("logConfiguration")
    if not config or config.get("logDriver") != "awslogs":
        return
    options = config.get("options") or {}
    if not options.get("awslogs-region") or not options.get("awslogs-group"):
        _fail("Log driver awslogs requires options: awslogs-region, awslogs-group")  # ECS's wording


# --- rules across containers -------------------------------------------------

def _check_dependencies(containers: list[dict]) -> None:
    by_name = {c["name"]: c for c in containers}
    for container in containers:
        for dependency in container.get("dependsOn") or []:
            target = dependency.get("containerName")
            if target not in by_name:
                # ECS's wording, stray '+' included.
                _fail(f"Cannot depend on container + '{target}' because it does not exist")
            if target == container["name"]:
                _fail(f"Container '{target}' cannot depend on itself.")
            # A container that must exit can't also be one whose exit stops the task.
            if dependency.get("condition") in ("SUCCESS", "COMPLETE") and \
                    _is_essential(by_name[target]):
                _fail("A dependency container with SUCCESS or COMPLETE condition "
                      "cannot be an essential container")  # ECS's wording
    _check_no_dependency_cycle(by_name)


def _check_no_dependency_cycle(by_name: dict[str, dict]) -> None:
    """A cycle would leave every container in it waiting for the others."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = path[path.index(name):] + [name]
            _fail(f"Container dependencies contain a cycle: {' -> '.join(cycle)}.")
        if name in done:
            return
        for dependency in by_name[name].get("dependsOn") or []:
            visit(dependency["containerName"], path + [name])
        done.add(name)

    for name in by_name:
        visit(name, [])


def _check_volumes(volumes: list[dict]) -> set[str]:
    names: set[str] = set()
    for volume in volumes:
        name = volume.get("name")
        if not name:
            _fail("Volume.name should not be null or empty.")
        if not _NAME_RE.fullmatch(name):
            _fail("Volume.name contains invalid characters.")
        if name in names:
            _fail(f"Volume names must be unique within a Task Definition: '{name}'.")
        names.add(name)
        _check_efs_volume(volume.get("efsVolumeConfiguration"))
    return names


def _check_efs_volume(efs: dict | None) -> None:
    """The EFS rules ECS states: IAM authorization needs transit encryption, and an
    access point sets the root directory itself."""
    if efs is None:
        return
    auth = efs.get("authorizationConfig") or {}
    encrypted = efs.get("transitEncryption", "DISABLED") == "ENABLED"
    if auth.get("iam") == "ENABLED" and not encrypted:
        _fail("Transit encryption must be enabled when EFS IAM authorization is used.")
    if auth.get("accessPointId") and efs.get("rootDirectory", "/") != "/":
        _fail("The root directory must be omitted or set to '/' when an EFS access point "
              "is specified.")
    if auth.get("accessPointId") and not encrypted:
        _fail("Transit encryption must be enabled when an EFS access point is used.")


def _host_port(mapping: dict, mode: str) -> int:
    """The host port a mapping will hold: a static port, or 0 for an ephemeral one."""
    if mode in _STATIC_PORT_MODES:
        return mapping.get("hostPort") or mapping.get("containerPort") or 0
    return mapping.get("hostPort") or 0


def _check_host_port_conflicts(containers: list[dict], mode: str) -> None:
    """One static host port per protocol per task: a second bind would fail on the host."""
    seen: set[tuple[str, int]] = set()
    for container in containers:
        for mapping in container.get("portMappings") or []:
            if mapping.get("containerPortRange") is not None:
                continue
            port = _host_port(mapping, mode)
            if not port:
                continue
            key = (mapping.get("protocol") or "tcp", port)
            if key in seen:
                # ECS's wording.
                _fail(f"{key[0].upper()} host port '{port}' is mapped multiple times in task.")
            seen.add(key)


def _check_task_cpu_fits(containers: list[dict], task_cpu: int | None) -> None:
    if task_cpu is not None and sum(c.get("cpu") or 0 for c in containers) > task_cpu:
        _fail("The sum of all container 'cpu' values cannot be greater than "
              "the value of the task 'cpu'.")  # ECS's wording


def _check_task_memory_fits(containers: list[dict], task_memory: int | None) -> None:
    """Containers reserve their soft limit, or their hard limit when they have no soft one."""
    if task_memory is None:
        return
    reserved = 0
    by_reservation = False
    for container in containers:
        if container.get("memoryReservation") is not None:
            reserved += container["memoryReservation"]
            by_reservation = True
        else:
            reserved += container.get("memory") or 0
    if reserved > task_memory:
        setting = "memoryReservation" if by_reservation else "memory"
        _fail(f"The sum of all container '{setting}' values cannot be greater than "
              "the value of the task 'memory'.")  # ECS's wording for memoryReservation


# --- normalization -------------------------------------------------------------

def _ordered(body: dict, order: Iterable[str]) -> dict:
    """`body` with the keys in `order` first, then any others as they came."""
    result = {key: body[key] for key in order if key in body}
    result.update((key, value) for key, value in body.items() if key not in result)
    return result


def _normalize_port_mapping(mapping: dict, mode: str) -> dict:
    mapping = dict(mapping)
    mapping.setdefault("protocol", "tcp")
    if mapping.get("containerPort") is not None:
        if mode in _STATIC_PORT_MODES:
            # host/awsvpc publish the container port itself.
            mapping["hostPort"] = mapping.get("hostPort") or mapping["containerPort"]
        else:
            # bridge: 0 asks for an ephemeral host port, and ECS shows it as 0.
            mapping.setdefault("hostPort", 0)
    return _ordered(mapping, _PORT_MAPPING_ORDER)


def _normalize_health_check(check: dict) -> dict:
    check = {**_HEALTH_CHECK_DEFAULTS, **check}
    return _ordered(check, _HEALTH_CHECK_ORDER)


def _normalize_volume(volume: dict) -> dict:
    """An EFS volume as ECS returns it: the root directory ("/") and transit encryption
    (DISABLED) filled in when the request leaves them out."""
    efs = volume.get("efsVolumeConfiguration")
    if efs is None:
        return volume
    return {**volume, "efsVolumeConfiguration": {
        "rootDirectory": "/", "transitEncryption": "DISABLED", **efs}}


def _normalize_container(container: dict, mode: str) -> dict:
    body = dict(container)
    for key, default in _CONTAINER_DEFAULTS.items():
        if body.get(key) is None:
            body[key] = default()
    body["portMappings"] = [_normalize_port_mapping(m, mode) for m in body["portMappings"]]
    if body.get("healthCheck") is not None:
        body["healthCheck"] = _normalize_health_check(body["healthCheck"])
    return _ordered(body, _CONTAINER_ORDER)


def _compatibilities(mode: str) -> list[str]:
    """The launch types the definition validates against, in ECS's order.

    ECS also lists FARGATE and MANAGED_INSTANCES for awsvpc definitions;
    Nozama offers neither, so it doesn't claim them.
    """
    return ["EC2"] if mode == "awsvpc" else ["EXTERNAL", "EC2"]


# --- requiresAttributes --------------------------------------------------------
#
# The container-instance attributes a definition needs, as ECS derives them
# from the features it uses. Each rule maps a feature to attribute names; the
# scheduler only places a task on an instance that has all of them.

_DOCKER_API = "com.amazonaws.ecs.capability.docker-remote-api.{}".format
_ECR_IMAGE_RE = re.compile(r"\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")

Rule = Callable[[dict, dict], Iterable[str]]


def _when(predicate: Callable[[dict, dict], bool], *attributes: str) -> Rule:
    return lambda item, task: attributes if predicate(item, task) else ()


def _has(key: str) -> Callable[[dict, dict], bool]:
    return lambda item, task: bool(item.get(key))


def _present(key: str) -> Callable[[dict, dict], bool]:
    return lambda item, task: item.get(key) is not None


def _secret_attributes(secrets: list[dict], suffix: str) -> list[str]:
    kinds = {"asm" if ":secretsmanager:" in s.get("valueFrom", "") else "ssm" for s in secrets}
    return [f"ecs.capability.secrets.{kind}.{suffix}" for kind in sorted(kinds)]


def _log_attributes(container: dict, task: dict) -> list[str]:
    config = container.get("logConfiguration")
    if not config:
        return []
    driver = config["logDriver"]
    names = [f"com.amazonaws.ecs.capability.logging-driver.{driver}", _DOCKER_API("1.18")]
    if config.get("options"):
        names.append(_DOCKER_API("1.19"))
    if driver == "awslogs" and task.get("executionRoleArn"):
        names.append("ecs.capability.execution-role-awslogs")
    names += _secret_attributes(config.get("secretOptions") or [], "bootstrap.log-driver")
    return names


def _image_attributes(container: dict, task: dict) -> list[str]:
    if not _ECR_IMAGE_RE.match(container.get("image", "")):
        return []
    names = ["com.amazonaws.ecs.capability.ecr-auth"]
    if task.get("executionRoleArn"):
        names.append("ecs.capability.execution-role-ecr-pull")
    return names


def _health_check_attributes(container: dict, task: dict) -> list[str]:
    check = container.get("healthCheck")
    if check is None:
        return []
    names = ["ecs.capability.container-health-check", _DOCKER_API("1.24")]
    if check.get("startPeriod") is not None:
        names.append(_DOCKER_API("1.29"))
    return names


def _linux_parameter_attributes(container: dict, task: dict) -> list[str]:
    params = container.get("linuxParameters") or {}
    names = []
    if params.get("capabilities"):
        names.append(_DOCKER_API("1.18"))
    if params.get("initProcessEnabled"):
        names.append(_DOCKER_API("1.25"))
    return names


def _security_option_attributes(container: dict, task: dict) -> list[str]:
    names = []
    for option in container.get("dockerSecurityOptions") or []:
        if option.startswith("label"):
            names.append("com.amazonaws.ecs.capability.selinux")
        elif option.startswith("apparmor"):
            names.append("com.amazonaws.ecs.capability.apparmor")
    return names


_CONTAINER_ATTRIBUTE_RULES: tuple[Rule, ...] = (
    _log_attributes,
    _image_attributes,
    _health_check_attributes,
    _linux_parameter_attributes,
    _security_option_attributes,
    _when(_present("readonlyRootFilesystem"), _DOCKER_API("1.17")),
    _when(_present("memoryReservation"), _DOCKER_API("1.21")),
    _when(_has("dockerLabels"), _DOCKER_API("1.18")),
    _when(_has("ulimits"), _DOCKER_API("1.18")),
    _when(_has("privileged"), "com.amazonaws.ecs.capability.privileged-container"),
    _when(lambda c, t: bool(c.get("dependsOn")) or c.get("startTimeout") is not None
          or c.get("stopTimeout") is not None, "ecs.capability.container-ordering"),
    lambda c, t: _secret_attributes(c.get("secrets") or [], "environment-variables"),
    _when(_has("environmentFiles"), "ecs.capability.env-files.s3"),
    _when(_has("repositoryCredentials"),
          "com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager"),
    lambda c, t: ([f"ecs.capability.firelens.{c['firelensConfiguration']['type']}"]
                  if c.get("firelensConfiguration") else []),
)


def _volume_attributes(volume: dict, task: dict) -> list[str]:
    names = []
    docker = volume.get("dockerVolumeConfiguration")
    if docker is not None:
        names += [f"ecs.capability.docker-plugin.{docker.get('driver') or 'local'}",
                  _DOCKER_API("1.25")]
    efs = volume.get("efsVolumeConfiguration")
    if efs is not None:
        names.append("ecs.capability.efs")
        if efs.get("authorizationConfig") or efs.get("transitEncryption") == "ENABLED":
            names.append("ecs.capability.efsAuth")
    if volume.get("fsxWindowsFileServerVolumeConfiguration") is not None:
        names.append("ecs.capability.fsxWindowsFileServer")
    return names


_TASK_ATTRIBUTE_RULES: tuple[Rule, ...] = (
    _when(_has("taskRoleArn"), "com.amazonaws.ecs.capability.task-iam-role"),
    _when(lambda t, _: bool(t.get("taskRoleArn")) and t.get("networkMode") == "host",
          "com.amazonaws.ecs.capability.task-iam-role-network-host"),
    _when(lambda t, _: t.get("networkMode") == "awsvpc", "ecs.capability.task-eni"),
    _when(lambda t, _: bool(t.get("pidMode") or t.get("ipcMode")),
          "ecs.capability.pid-ipc-namespace-sharing"),
    _when(_has("proxyConfiguration"), "ecs.capability.aws-appmesh"),
)


def _requires_attributes(task: dict) -> list[dict]:
    names: list[str] = []
    for container in task["containerDefinitions"]:
        for rule in _CONTAINER_ATTRIBUTE_RULES:
            names.extend(rule(container, task))
    for volume in task.get("volumes") or []:
        names.extend(_volume_attributes(volume, task))
    for rule in _TASK_ATTRIBUTE_RULES:
        names.extend(rule(task, task))
    return [{"name": name} for name in dict.fromkeys(names)]


# --- entry point ---------------------------------------------------------------

def _validate(request: dict, mode: str) -> tuple[int | None, int | None]:
    """Every rule, in roughly the order ECS reports them; returns task cpu and memory."""
    _check_family(request.get("family"))
    _check_launch_types(request.get("requiresCompatibilities") or [], mode)
    task_cpu = _task_cpu(request)
    task_memory = _task_memory(request)

    containers = request.get("containerDefinitions") or []
    _check_container_count(containers)
    for container in containers:
        _check_container_name(container)
        _check_image(container)
    _check_unique_names(containers)
    _check_some_essential(containers)

    names = {c["name"] for c in containers}
    volume_names = _check_volumes(request.get("volumes") or [])
    for container in containers:
        _check_container_memory(container, task_memory)
        _check_links(container, mode, names)
        _check_port_mappings(container, mode)
        _check_mount_points(container, volume_names)
        _check_volumes_from(container, names)
        _check_health_check(container)
        _check_log_configuration(container)
    _check_dependencies(containers)
    _check_host_port_conflicts(containers, mode)
    _check_task_cpu_fits(containers, task_cpu)
    _check_task_memory_fits(containers, task_memory)
    return task_cpu, task_memory


def normalize_task_definition(request: dict) -> dict:
    """Validate a RegisterTaskDefinition request and return the definition body.

    The body is what DescribeTaskDefinition returns under `taskDefinition`,
    minus the members the store assigns. Raises ClientException when ECS would
    refuse the request. The request is never modified; the body shares the
    request's nested values that need no normalizing (environment, ...).
    """
    mode = effective_network_mode(request)
    task_cpu, task_memory = _validate(request, mode)

    body = {key: value for key, value in request.items() if key not in _NOT_IN_BODY}
    body["containerDefinitions"] = [
        _normalize_container(c, mode) for c in request["containerDefinitions"]]
    body["volumes"] = [_normalize_volume(v) for v in request.get("volumes") or []]
    body["placementConstraints"] = request.get("placementConstraints") or []
    body["compatibilities"] = _compatibilities(mode)
    # ECS leaves these out of the response when the request didn't set them.
    for key in ("requiresCompatibilities", "networkMode"):
        if not body.get(key):
            body.pop(key, None)
    for key, value in (("cpu", task_cpu), ("memory", task_memory)):
        if value is None:
            body.pop(key, None)
        else:
            body[key] = str(value)
    attributes = _requires_attributes(body)
    if attributes:
        body["requiresAttributes"] = attributes
    return _ordered(body, _TASK_DEFINITION_ORDER)
