"""What the Docker runtime knows about each task it runs, and how Docker's view of
a container (`docker inspect`) reads as ECS container status.

The records hold the TaskStatus/ContainerStatus the runtime reports plus the
few facts it needs to act (is a container essential, its stop timeout, whether
it has a health check, where its logs go). Those facts are also labels on the
containers, so a restarted agent rebuilds the same records from Docker alone.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from nozama.agent.runtimes.base import (
    LABEL_CONTAINER_NAME, LABEL_TASK_ARN, ContainerStatus, NetworkBinding, TaskStatus,
)
from nozama.agent.runtimes.docker_config import (
    DEFAULT_STOP_TIMEOUT, LABEL_AWSLOGS, LABEL_BINDINGS, LABEL_ESSENTIAL, LABEL_STOP_TIMEOUT,
    AwsLogs, start_order,
)

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
ESSENTIAL_EXITED = "Essential container in task exited"
DOCKER_HEALTH = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY", "starting": "UNKNOWN"}


@dataclass
class ContainerRecord:
    status: ContainerStatus
    essential: bool = True
    stop_timeout: int = DEFAULT_STOP_TIMEOUT
    has_health_check: bool = False
    awslogs: AwsLogs | None = None
    bindings: list[NetworkBinding] = field(default_factory=list)
    starting: bool = False         # a docker start is in flight
    started: bool = False          # it has run at some point
    shipper: object | None = None  # its ContainerLogShipper, if awslogs

    @property
    def name(self) -> str:
        return self.status.name

    @property
    def stopped(self) -> bool:
        return self.status.last_status == "STOPPED"


@dataclass
class TaskRecord:
    status: TaskStatus
    containers: dict[str, ContainerRecord]
    stopping: bool = False
    stop_job: asyncio.Future | None = None
    # Serializes container starts against stopping, so a stop never races a start.
    start_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    depends_on: dict[str, list[str]] = field(default_factory=dict)   # name → prerequisites

    @property
    def arn(self) -> str:
        return self.status.task_arn

    def notify(self) -> None:
        """Wake whoever waits for a change (dependency conditions)."""
        self.changed.set()
        self.changed = asyncio.Event()

    def all_stopped(self) -> bool:
        return all(c.stopped for c in self.containers.values())

    def essentials_running(self) -> bool:
        return all(c.status.last_status == "RUNNING"
                   for c in self.containers.values() if c.essential)


def task_health(task: TaskRecord) -> str:
    """UNHEALTHY if an essential container is; HEALTHY if every essential container
    with a health check is (and there is one); else UNKNOWN."""
    essential = [c for c in task.containers.values() if c.essential]
    if any(c.status.health_status == "UNHEALTHY" for c in essential):
        return "UNHEALTHY"
    checked = [c for c in essential if c.has_health_check]
    if checked and all(c.status.health_status == "HEALTHY" for c in checked):
        return "HEALTHY"
    return "UNKNOWN"


def parse_docker_time(text: str | None) -> datetime | None:
    """Docker's RFC 3339 times (nanoseconds, "Z"); its zero time means never."""
    if not text or text.startswith("0001-"):
        return None
    main, _, rest = text.partition(".")
    fraction = rest.rstrip("Z")[:6] if rest else "0"
    moment = datetime.strptime(main.rstrip("Z"), "%Y-%m-%dT%H:%M:%S")
    return moment.replace(microsecond=int(fraction.ljust(6, "0")), tzinfo=timezone.utc)


# --- docker inspect → status ------------------------------------------------

def exit_reason(state: dict) -> str | None:
    """The ECS container `reason` for a container that stopped as `state` says."""
    if state.get("OOMKilled"):
        return OOM_REASON
    if state.get("Error"):
        return f"CannotStartContainerError: {state['Error']}"
    return None


def never_started(state: dict) -> bool:
    return parse_docker_time(state.get("StartedAt")) is None


def record_from_inspect(attrs: dict) -> ContainerRecord:
    """A container as a restarted agent finds it."""
    labels = attrs["Config"].get("Labels") or {}
    state = attrs["State"]
    status = ContainerStatus(name=labels.get(LABEL_CONTAINER_NAME, attrs["Name"].lstrip("/")),
                             runtime_id=attrs["Id"])
    record = ContainerRecord(
        status=status, essential=labels.get(LABEL_ESSENTIAL, "true") != "false",
        stop_timeout=int(labels.get(LABEL_STOP_TIMEOUT, DEFAULT_STOP_TIMEOUT)),
        has_health_check=_has_health_check(attrs),
        awslogs=AwsLogs.from_label(labels.get(LABEL_AWSLOGS)),
        bindings=bindings_from_inspect(attrs), started=not never_started(state))
    if state.get("Running"):
        status.last_status = "RUNNING"
    elif record.started or state.get("Error"):
        status.last_status = "STOPPED"
        status.exit_code = state.get("ExitCode") if record.started else None
        status.reason = exit_reason(state)
    health = (state.get("Health") or {}).get("Status")
    status.health_status = DOCKER_HEALTH.get(health, "UNKNOWN")
    if status.last_status == "RUNNING":
        status.network_bindings = list(record.bindings)
    return record


def _has_health_check(attrs: dict) -> bool:
    test = (attrs["Config"].get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def bindings_from_inspect(attrs: dict) -> list[NetworkBinding]:
    """The bindings the runtime recorded in a label when it created the container."""
    text = (attrs["Config"].get("Labels") or {}).get(LABEL_BINDINGS)
    return [NetworkBinding(port, host, protocol)
            for port, host, protocol in json.loads(text or "[]")]


def task_from_inspect(task_arn: str, containers: list[dict]) -> TaskRecord:
    """The record of an adopted task, from its containers' inspect data."""
    records = [record_from_inspect(attrs) for attrs in containers]
    status = TaskStatus(task_arn=task_arn, containers=[r.status for r in records])
    task = TaskRecord(status=status, containers={r.name: r for r in records})
    started = [parse_docker_time(a["State"].get("StartedAt")) for a in containers]
    started = [t for t in started if t]
    status.started_at = min(started) if started else None
    if task.all_stopped():
        _adopt_stopped(task, containers)
    elif task.essentials_running():
        status.last_status = "RUNNING"
    status.health_status = task_health(task)
    return task


def _adopt_stopped(task: TaskRecord, containers: list[dict]) -> None:
    status = task.status
    finished = [parse_docker_time(a["State"].get("FinishedAt")) for a in containers]
    finished = [t for t in finished if t]
    status.last_status = "STOPPED"
    status.stopped_at = status.stopping_at = max(finished) if finished else None
    exited = [c for c in task.containers.values() if c.essential and c.started]
    if exited:
        status.stop_code = "EssentialContainerExited"
        status.stopped_reason = stopped_reason_for(exited[0])
    task.stopping = True


def stopped_reason_for(container: ContainerRecord) -> str:
    """The task's stoppedReason when this essential container exited."""
    if container.status.reason == OOM_REASON:
        return f"{ESSENTIAL_EXITED}: {OOM_REASON}"
    return ESSENTIAL_EXITED


def task_arn_of(attrs: dict) -> str | None:
    return (attrs["Config"].get("Labels") or {}).get(LABEL_TASK_ARN)


# --- dependsOn conditions ------------------------------------------------------

def condition_holds(target: ContainerRecord, condition: str) -> bool:
    """Whether the container `target` meets a dependsOn condition now."""
    status = target.status
    if condition == "START":
        return target.started
    if condition == "COMPLETE":
        return target.stopped
    if condition == "SUCCESS":
        return target.stopped and status.exit_code == 0
    if condition == "HEALTHY":
        return status.health_status == "HEALTHY"
    raise ValueError(f"unknown dependency condition {condition}")


def condition_failure(target: ContainerRecord, condition: str) -> str | None:
    """Why `target` can no longer meet the condition, or None while it still may."""
    status = target.status
    if condition == "SUCCESS" and target.stopped and status.exit_code != 0:
        return f"exited with code {status.exit_code}"
    if condition == "HEALTHY":
        if status.health_status == "UNHEALTHY":
            return "is UNHEALTHY"
        if target.stopped:
            return f"stopped (exit code {status.exit_code}) before becoming HEALTHY"
    if condition == "START" and target.stopped and not target.started:
        return "never started"
    return None


def stop_order(task: TaskRecord) -> list[str]:
    """Container names, each before those it depends on: ECS stops dependents first."""
    containers = [{"name": name, "dependsOn": [
        {"containerName": d} for d in task.depends_on.get(name, []) if d in task.containers]}
        for name in task.containers]
    return list(reversed(start_order(containers)))
