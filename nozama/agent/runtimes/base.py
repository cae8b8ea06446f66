"""What every runtime provides to the agent, and the status it reports.

The agent owns the desired state (which tasks should run or stop, from the
control plane); a runtime makes it so on its host and reports every change of
observed state through `on_change`. Runtimes label what they create with the
task ARN, so that a restarted agent finds and adopts its running tasks instead
of starting them again.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

# Task and container states, in the order ECS moves through them.
TASK_STATES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING",
               "DEPROVISIONING", "STOPPED")
CONTAINER_STATES = ("PENDING", "RUNNING", "STOPPED")

# Labels on every container a runtime creates.
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
LABEL_CONTAINER_NAME = "com.amazonaws.ecs.container-name"
LABEL_CLUSTER = "com.amazonaws.ecs.cluster"
LABEL_FAMILY = "com.amazonaws.ecs.task-definition-family"
LABEL_REVISION = "com.amazonaws.ecs.task-definition-version"
LABEL_INSTANCE = "io.nozama.container-instance-arn"


@dataclass
class NetworkBinding:
    container_port: int
    host_port: int
    protocol: str = "tcp"
    bind_ip: str = "0.0.0.0"

    def to_api(self) -> dict:
        return {"bindIP": self.bind_ip, "containerPort": self.container_port,
                "hostPort": self.host_port, "protocol": self.protocol}


@dataclass
class ContainerStatus:
    name: str
    last_status: str = "PENDING"
    runtime_id: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    health_status: str = "UNKNOWN"          # HEALTHY, UNHEALTHY, UNKNOWN
    network_bindings: list[NetworkBinding] = field(default_factory=list)


@dataclass
class TaskStatus:
    task_arn: str
    last_status: str = "PENDING"
    containers: list[ContainerStatus] = field(default_factory=list)
    health_status: str = "UNKNOWN"
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    started_at: datetime | None = None
    stopping_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_code: str | None = None            # e.g. EssentialContainerExited, TaskFailedToStart
    stopped_reason: str | None = None


@dataclass(frozen=True)
class HostResources:
    cpu: int                  # CPU units: 1024 per core
    memory: int               # MiB available to tasks
    reserved_ports: tuple[int, ...] = (22, 2375, 2376, 51678, 51679)


class Runtime(abc.ABC):
    def __init__(self, on_change: Callable[[TaskStatus], None]):
        # Called with a fresh TaskStatus each time anything about a task changes.
        self.on_change = on_change

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect to the engine and begin watching the containers this runtime made."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop watching; leave containers running (a restarted agent adopts them)."""

    @abc.abstractmethod
    def resources(self) -> HostResources:
        """What this host offers to tasks."""

    @abc.abstractmethod
    async def adopt(self, instance_arn: str) -> list[TaskStatus]:
        """The tasks this host already runs for `instance_arn`, found by their labels."""

    @abc.abstractmethod
    async def run_task(self, task: dict, task_definition: dict) -> None:
        """Start a task (ECS Task and TaskDefinition shapes as dicts); returns once started
        or failed. Progress and the outcome are reported through on_change."""

    @abc.abstractmethod
    async def stop_task(self, task_arn: str, reason: str) -> None:
        """Stop a task's containers (SIGTERM, then SIGKILL after stopTimeout)."""

    @abc.abstractmethod
    async def usage(self) -> dict[str, tuple[float, float]]:
        """Each running task's CPU time so far (seconds, all cores) and memory in use
        (bytes), for the service metrics. A runtime that cannot tell returns {}."""
        return {}

    async def cleanup_task(self, task_arn: str) -> None:
        """Remove what a stopped task left behind (containers, its private volumes)."""
