"""TaskDefinition → Docker: the pure translation the Docker runtime applies.

Everything here is a function of the task, its definition and a few choices the
runtime made on the host (container names, host ports, volume names), so it is
tested without a Docker Engine. The runtime does the side effects: pulling,
creating volumes, picking free ports, creating and starting containers.

The mapping follows what the ECS container agent does on Linux: `cpu` becomes
relative CPU shares (at least 2), `memory` a hard limit and
`memoryReservation` a soft one, `healthCheck` Docker's HEALTHCHECK (seconds →
nanoseconds), `awslogs` is shipped by the runtime itself from json-file logs.
"""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass, field

from nozama.agent.runtimes.base import (
    LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_INSTANCE, LABEL_REVISION,
    LABEL_TASK_ARN, NetworkBinding,
)
from nozama.model.task_definitions import effective_network_mode, parse_task_memory

# Labels only this runtime reads back, so that a restarted agent knows how to
# treat containers it adopts without their task definition.
LABEL_ESSENTIAL = "io.nozama.essential"
LABEL_STOP_TIMEOUT = "io.nozama.stop-timeout"
LABEL_AWSLOGS = "io.nozama.awslogs"
LABEL_BINDINGS = "io.nozama.network-bindings"

DEFAULT_STOP_TIMEOUT = 30         # seconds, as ECS
DEFAULT_START_TIMEOUT = 180       # seconds to wait for a dependency condition
MIN_CPU_SHARES = 2                # the ECS agent passes 0/1/absent as 2 shares
NANOS = 1_000_000_000
# ECS's health-check defaults (seconds), for definitions that skip normalization.
HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
# awslogs containers log to json-file for the shipper to read; bound its disk use.
JSON_FILE_LOG_CONFIG = {"type": "json-file", "config": {"max-size": "20m", "max-file": "3"}}


@dataclass(frozen=True)
class AwsLogs:
    """Where a container's output goes in the Logs API (awslogs driver options)."""
    group: str
    stream: str
    region: str
    create_group: bool = False

    def to_label(self) -> str:
        return json.dumps({"group": self.group, "stream": self.stream,
                           "region": self.region, "createGroup": self.create_group})

    @classmethod
    def from_label(cls, text: str | None) -> "AwsLogs | None":
        if not text:
            return None
        data = json.loads(text)
        return cls(data["group"], data["stream"], data["region"], bool(data.get("createGroup")))


@dataclass(frozen=True)
class PortRequest:
    """One port mapping: host_port None means "any free host port" (bridge, 0)."""
    container_port: int
    host_port: int | None
    protocol: str = "tcp"


@dataclass(frozen=True)
class VolumePlan:
    """A task volume and how to provide it on the host."""
    name: str
    kind: str                        # "bind", "task" (private Docker volume), "shared"
    source: str | None = None        # host path for "bind"
    driver: str = "local"
    driver_opts: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    autoprovision: bool = True


# --- the containers as this task runs them ---------------------------------

def task_id(task_arn: str) -> str:
    """The last part of a task ARN (arn:...:task/<cluster>/<id>)."""
    return task_arn.rsplit("/", 1)[-1]


def effective_containers(task: dict, task_definition: dict) -> list[dict]:
    """The container definitions with the task's containerOverrides applied."""
    containers = copy.deepcopy(task_definition.get("containerDefinitions") or [])
    overrides = {o.get("name"): o for o in
                 (task.get("overrides") or {}).get("containerOverrides") or []}
    for container in containers:
        override = overrides.get(container["name"])
        if override:
            _apply_override(container, override)
    return containers


def _apply_override(container: dict, override: dict) -> None:
    for key in ("command", "cpu", "memory", "memoryReservation"):
        if override.get(key) is not None:
            container[key] = override[key]
    if override.get("environment"):
        merged = {e["name"]: e.get("value", "") for e in container.get("environment") or []}
        merged.update({e["name"]: e.get("value", "") for e in override["environment"]})
        container["environment"] = [{"name": k, "value": v} for k, v in merged.items()]


def is_essential(container: dict) -> bool:
    return container.get("essential", True) is not False


def stop_timeout(container: dict) -> int:
    value = container.get("stopTimeout")
    return DEFAULT_STOP_TIMEOUT if value is None else int(value)


def start_timeout(container: dict) -> int:
    value = container.get("startTimeout")
    return DEFAULT_START_TIMEOUT if value is None else int(value)


def docker_container_name(task_definition: dict, container_name: str) -> str:
    """`ecs-<family>-<revision>-<container name>-<random hex>`, as ECS names them."""
    return (f"ecs-{task_definition['family']}-{task_definition.get('revision', 0)}-"
            f"{container_name}-{secrets.token_hex(10)}")


def start_order(containers: list[dict]) -> list[str]:
    """Container names so that each comes after what it needs started or created
    first: its dependsOn targets, its links and its volumesFrom sources."""
    by_name = {c["name"]: c for c in containers}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"container dependency cycle through {name!r}")
        visiting.add(name)
        for needed in prerequisites(by_name[name]):
            if needed in by_name:
                visit(needed)
        visiting.discard(name)
        order.append(name)

    for container in containers:
        visit(container["name"])
    return order


def prerequisites(container: dict) -> list[str]:
    needed = [d["containerName"] for d in container.get("dependsOn") or []]
    needed += [link.split(":", 1)[0] for link in container.get("links") or []]
    needed += [v["sourceContainer"] for v in container.get("volumesFrom") or []]
    return needed


# --- ports ------------------------------------------------------------------

def port_requests(container: dict, network_mode: str) -> list[PortRequest]:
    """The ports a container publishes; none in `none` mode."""
    if network_mode == "none":
        return []
    requests = []
    for mapping in container.get("portMappings") or []:
        if mapping.get("containerPort") is None:
            continue   # containerPortRange: not supported by this runtime
        port = int(mapping["containerPort"])
        host = mapping.get("hostPort") or None
        if network_mode == "host":
            host = port      # the container's port is the host's port
        requests.append(PortRequest(port, host, mapping.get("protocol") or "tcp"))
    return requests


def network_bindings(requests: list[PortRequest], host_ports: dict[tuple[int, str], int]
                     ) -> list[NetworkBinding]:
    """What the task reports: `host_ports` maps (container port, protocol) to the
    host port chosen for requests without one."""
    return [NetworkBinding(r.container_port,
                           r.host_port or host_ports[(r.container_port, r.protocol)],
                           r.protocol) for r in requests]


# --- volumes ----------------------------------------------------------------

def volume_plans(task_definition: dict) -> list[VolumePlan]:
    return [_volume_plan(volume) for volume in task_definition.get("volumes") or []]


def _volume_plan(volume: dict) -> VolumePlan:
    name = volume["name"]
    host = volume.get("host") or {}
    if host.get("sourcePath"):
        return VolumePlan(name, "bind", source=host["sourcePath"])
    config = volume.get("dockerVolumeConfiguration")
    if not config:
        return VolumePlan(name, "task")      # Docker picks the host path, per task
    kind = "shared" if config.get("scope") == "shared" else "task"
    return VolumePlan(name, kind, driver=config.get("driver") or "local",
                      driver_opts=dict(config.get("driverOpts") or {}),
                      labels=dict(config.get("labels") or {}),
                      autoprovision=config.get("autoprovision", True) is not False)


def task_volume_name(task_definition: dict, volume_name: str) -> str:
    return (f"ecs-{task_definition['family']}-{task_definition.get('revision', 0)}-"
            f"{volume_name}-{secrets.token_hex(10)}")


# --- docker create arguments -------------------------------------------------

@dataclass
class HostChoices:
    """What the runtime decided on the host before creating the task's containers."""
    docker_names: dict[str, str]                 # ECS container name → Docker name
    volume_sources: dict[str, str] = field(default_factory=dict)  # volume → path or volume name
    host_ports: dict[str, dict[tuple[int, str], int]] = field(default_factory=dict)


def create_kwargs(task: dict, task_definition: dict, container: dict, *, instance_arn: str,
                  cluster: str, choices: HostChoices, region: str) -> dict:
    """Keyword arguments for `client.containers.create` for one container."""
    mode = effective_network_mode(task_definition)
    kwargs: dict = {
        "image": container["image"],
        "name": choices.docker_names[container["name"]],
        "labels": labels(task, task_definition, container, instance_arn, cluster, region,
                         container_bindings(container, mode, choices)),
        "detach": True,
        "network_mode": _docker_network_mode(mode),
    }
    kwargs.update(_process(container))
    kwargs.update(_resources(container, task_definition))
    kwargs.update(_networking(container, mode, choices))
    kwargs.update(_storage(container, choices))
    kwargs.update(_linux_parameters(container))
    kwargs.update(_security(container))
    log_config = log_configuration(container)
    if log_config:
        kwargs["log_config"] = log_config
    health = healthcheck(container)
    if health:
        kwargs["healthcheck"] = health
    for key in ("pidMode", "ipcMode"):
        if task_definition.get(key) == "host":
            kwargs["pid_mode" if key == "pidMode" else "ipc_mode"] = "host"
    return kwargs


def _docker_network_mode(mode: str) -> str:
    # awsvpc needs an ENI per task; on a plain Docker host bridge is the closest.
    return {"host": "host", "none": "none"}.get(mode, "bridge")


def container_bindings(container: dict, network_mode: str, choices: "HostChoices"
                       ) -> list[NetworkBinding]:
    return network_bindings(port_requests(container, network_mode),
                            choices.host_ports.get(container["name"], {}))


def labels(task: dict, task_definition: dict, container: dict, instance_arn: str,
           cluster: str, region: str, bindings: list[NetworkBinding] = ()) -> dict[str, str]:
    result = {str(k): str(v) for k, v in (container.get("dockerLabels") or {}).items()}
    result.update({
        LABEL_TASK_ARN: task["taskArn"],
        LABEL_CONTAINER_NAME: container["name"],
        LABEL_CLUSTER: cluster or task.get("clusterArn", ""),
        LABEL_FAMILY: task_definition["family"],
        LABEL_REVISION: str(task_definition.get("revision", 0)),
        LABEL_INSTANCE: instance_arn,
        LABEL_ESSENTIAL: "true" if is_essential(container) else "false",
        LABEL_STOP_TIMEOUT: str(stop_timeout(container)),
        LABEL_BINDINGS: json.dumps([[b.container_port, b.host_port, b.protocol]
                                    for b in bindings]),
    })
    awslogs = awslogs_config(task, container, region)
    if awslogs:
        result[LABEL_AWSLOGS] = awslogs.to_label()
    return result


def _process(container: dict) -> dict:
    kwargs: dict = {}
    if container.get("command"):
        kwargs["command"] = list(container["command"])
    if container.get("entryPoint"):
        kwargs["entrypoint"] = list(container["entryPoint"])
    env = {e["name"]: e.get("value", "") for e in container.get("environment") or []}
    if env:
        kwargs["environment"] = env
    optional = {"workingDirectory": "working_dir", "user": "user",
                "interactive": "stdin_open", "pseudoTerminal": "tty"}
    for ecs_key, docker_key in optional.items():
        if container.get(ecs_key):
            kwargs[docker_key] = container[ecs_key]
    return kwargs


def _resources(container: dict, task_definition: dict) -> dict:
    kwargs: dict = {"cpu_shares": max(MIN_CPU_SHARES, int(container.get("cpu") or 0))}
    memory = container.get("memory")
    if memory is None and task_definition.get("memory"):
        # No container limit: the task's memory bounds it, as the task cgroup would.
        memory = parse_task_memory(str(task_definition["memory"]))
    if memory:
        kwargs["mem_limit"] = f"{int(memory)}m"
    if container.get("memoryReservation"):
        kwargs["mem_reservation"] = f"{int(container['memoryReservation'])}m"
    ulimits = [{"Name": u["name"], "Soft": int(u["softLimit"]), "Hard": int(u["hardLimit"])}
               for u in container.get("ulimits") or []]
    if ulimits:
        kwargs["ulimits"] = ulimits
    return kwargs


def _networking(container: dict, mode: str, choices: HostChoices) -> dict:
    kwargs: dict = {}
    if mode != "host" and container.get("hostname"):
        kwargs["hostname"] = container["hostname"]   # Docker refuses one in host mode
    if mode not in ("host", "none"):
        requests = port_requests(container, mode)
        chosen = choices.host_ports.get(container["name"], {})
        ports = {f"{r.container_port}/{r.protocol}":
                 r.host_port or chosen[(r.container_port, r.protocol)] for r in requests}
        if ports:
            kwargs["ports"] = ports
        links = _links(container, choices)
        if links:
            kwargs["links"] = links
    if container.get("disableNetworking"):
        kwargs["network_disabled"] = True
    for ecs_key, docker_key in (("dnsServers", "dns"), ("dnsSearchDomains", "dns_search")):
        if container.get(ecs_key):
            kwargs[docker_key] = list(container[ecs_key])
    if container.get("extraHosts"):
        kwargs["extra_hosts"] = {h["hostname"]: h["ipAddress"] for h in container["extraHosts"]}
    return kwargs


def _links(container: dict, choices: HostChoices) -> dict[str, str]:
    """Legacy links by the Docker name of the linked container, aliased as ECS's
    `name[:alias]` says (the alias defaults to the container name)."""
    links = {}
    for link in container.get("links") or []:
        target, _, alias = link.partition(":")
        links[choices.docker_names[target]] = alias or target
    return links


def _storage(container: dict, choices: HostChoices) -> dict:
    kwargs: dict = {}
    binds = []
    for mount in container.get("mountPoints") or []:
        source = choices.volume_sources[mount["sourceVolume"]]
        mode = "ro" if mount.get("readOnly") else "rw"
        binds.append(f"{source}:{mount['containerPath']}:{mode}")
    if binds:
        kwargs["volumes"] = binds
    volumes_from = [f"{choices.docker_names[v['sourceContainer']]}:"
                    f"{'ro' if v.get('readOnly') else 'rw'}"
                    for v in container.get("volumesFrom") or []]
    if volumes_from:
        kwargs["volumes_from"] = volumes_from
    if container.get("readonlyRootFilesystem"):
        kwargs["read_only"] = True
    return kwargs


def _linux_parameters(container: dict) -> dict:
    params = container.get("linuxParameters") or {}
    kwargs: dict = {}
    capabilities = params.get("capabilities") or {}
    if capabilities.get("add"):
        kwargs["cap_add"] = list(capabilities["add"])
    if capabilities.get("drop"):
        kwargs["cap_drop"] = list(capabilities["drop"])
    if params.get("initProcessEnabled"):
        kwargs["init"] = True
    if params.get("sharedMemorySize"):
        kwargs["shm_size"] = f"{int(params['sharedMemorySize'])}m"
    if params.get("tmpfs"):
        kwargs["tmpfs"] = {t["containerPath"]: ",".join([f"size={int(t['size'])}m",
                                                         *(t.get("mountOptions") or [])])
                           for t in params["tmpfs"]}
    if params.get("maxSwap") is not None and container.get("memory"):
        kwargs["memswap_limit"] = f"{int(container['memory']) + int(params['maxSwap'])}m"
    if params.get("swappiness") is not None:
        kwargs["mem_swappiness"] = int(params["swappiness"])
    if params.get("devices"):
        kwargs["devices"] = [_device(d) for d in params["devices"]]
    return kwargs


def _device(device: dict) -> str:
    """`hostPath:containerPath:rwm`, Docker's --device syntax."""
    permissions = device.get("permissions") or ["read", "write", "mknod"]
    return (f"{device['hostPath']}:{device.get('containerPath') or device['hostPath']}:"
            f"{''.join(p[0].lower() for p in permissions)}")


def _security(container: dict) -> dict:
    kwargs: dict = {}
    if container.get("privileged"):
        kwargs["privileged"] = True
    if container.get("dockerSecurityOptions"):
        kwargs["security_opt"] = list(container["dockerSecurityOptions"])
    if container.get("systemControls"):
        kwargs["sysctls"] = {s["namespace"]: s["value"] for s in container["systemControls"]}
    return kwargs


# --- health checks and logs --------------------------------------------------

def healthcheck(container: dict) -> dict | None:
    """ECS's healthCheck as Docker's: the command as is, times in nanoseconds."""
    check = container.get("healthCheck")
    if not check or not check.get("command"):
        return None
    check = {**HEALTH_CHECK_DEFAULTS, **{k: v for k, v in check.items() if v is not None}}
    test = list(check["command"])
    if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        test = ["CMD", *test]       # ECS treats a bare command like CMD
    return {"test": test, "interval": int(check["interval"]) * NANOS,
            "timeout": int(check["timeout"]) * NANOS, "retries": int(check["retries"]),
            "start_period": int(check["startPeriod"]) * NANOS}


def log_configuration(container: dict) -> dict | None:
    config = container.get("logConfiguration")
    if not config or not config.get("logDriver"):
        return None
    if config["logDriver"] == "awslogs":
        return copy.deepcopy(JSON_FILE_LOG_CONFIG)
    return {"type": config["logDriver"], "config": dict(config.get("options") or {})}


def awslogs_config(task: dict, container: dict, region: str) -> AwsLogs | None:
    """Where an awslogs container's output goes; the stream is named as ECS names it,
    `<prefix>/<container name>/<task id>`."""
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    stream = (f"{prefix}/{container['name']}/{task_id(task['taskArn'])}" if prefix
              else f"{container['name']}/{task_id(task['taskArn'])}")
    return AwsLogs(group=options.get("awslogs-group") or "default",
                   stream=stream, region=options.get("awslogs-region") or region,
                   create_group=str(options.get("awslogs-create-group", "")).lower() == "true")
