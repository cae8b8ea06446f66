"""What a task needs from a container instance, and what an instance has left.

ECS accounts CPU units, MiB of memory and host ports. A task reserves its
task-level cpu/memory when set, else the sum over its containers (a container's
memoryReservation when given, else its memory limit), plus every static host
port it maps. Dynamic host ports (hostPort 0) are picked on the host and not
reserved in advance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nozama.model.task_definitions import parse_task_cpu, parse_task_memory


@dataclass
class Requirements:
    cpu: int = 0
    memory: int = 0
    ports: list[int] = field(default_factory=list)
    ports_udp: list[int] = field(default_factory=list)


def requirements(task_definition: dict, overrides: dict | None = None) -> Requirements:
    overrides = overrides or {}
    by_name = {o.get("name"): o for o in overrides.get("containerOverrides", [])}
    need = Requirements()
    for container in task_definition["containerDefinitions"]:
        override = by_name.get(container["name"], {})
        need.cpu += override.get("cpu", container.get("cpu", 0)) or 0
        need.memory += (override.get("memoryReservation") or override.get("memory")
                        or container.get("memoryReservation") or container.get("memory") or 0)
        for mapping in container.get("portMappings", []):
            host_port = mapping.get("hostPort")
            if task_definition.get("networkMode") == "host":
                host_port = host_port or mapping.get("containerPort")
            if host_port:
                (need.ports_udp if mapping.get("protocol") == "udp" else need.ports).append(
                    host_port)
    task_cpu = overrides.get("cpu") or task_definition.get("cpu")
    task_memory = overrides.get("memory") or task_definition.get("memory")
    if task_cpu:
        need.cpu = parse_task_cpu(task_cpu)
    if task_memory:
        need.memory = parse_task_memory(task_memory)
    return need


def remaining(registered: list[dict], reserved: list[Requirements]) -> list[dict]:
    """The instance's remainingResources after the given reservations."""
    used_cpu = sum(r.cpu for r in reserved)
    used_memory = sum(r.memory for r in reserved)
    ports = [p for r in reserved for p in r.ports]
    ports_udp = [p for r in reserved for p in r.ports_udp]
    out = []
    for resource in registered:
        item = dict(resource)
        name = resource["name"]
        if name == "CPU":
            item["integerValue"] = resource.get("integerValue", 0) - used_cpu
        elif name == "MEMORY":
            item["integerValue"] = resource.get("integerValue", 0) - used_memory
        elif name == "PORTS":
            item["stringSetValue"] = _port_set(resource, ports)
        elif name == "PORTS_UDP":
            item["stringSetValue"] = _port_set(resource, ports_udp)
        out.append(item)
    return out


def _port_set(resource: dict, used: list[int]) -> list[str]:
    taken = list(resource.get("stringSetValue", []))
    return taken + [str(p) for p in used if str(p) not in taken]


def shortfall(available: list[dict], need: Requirements) -> str | None:
    """The ECS failure reason when `need` does not fit in `available`, else None."""
    values = {r["name"]: r for r in available}
    if need.cpu > values.get("CPU", {}).get("integerValue", 0):
        return "RESOURCE:CPU"
    if need.memory > values.get("MEMORY", {}).get("integerValue", 0):
        return "RESOURCE:MEMORY"
    taken = set(values.get("PORTS", {}).get("stringSetValue", []))
    if any(str(p) in taken for p in need.ports):
        return "RESOURCE:PORTS"
    taken_udp = set(values.get("PORTS_UDP", {}).get("stringSetValue", []))
    if any(str(p) in taken_udp for p in need.ports_udp):
        return "RESOURCE:PORTS_UDP"
    return None
