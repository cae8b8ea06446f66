"""The agent: registers its host as a container instance and runs what it is assigned.

The loop is reconcile-shaped. The control plane says which tasks this instance
must run and which it must stop (its desired state); the runtime says what
actually runs (observed state); the agent closes the gap and reports every
observed change back. A restarted agent asks the runtime what already runs
(containers carry their task's ARN as a label) and adopts it, so nothing is
started twice or left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from nozama import __version__
from nozama.agent import runtimes
from nozama.agent.channel import Channel, ChannelError, key_refused
from nozama.agent.credentials_directory import DEFAULT_PATH as CREDENTIALS_DIR
from nozama.agent.runtimes.base import TaskStatus
from nozama.agent.task_credentials import TaskCredentials
from nozama.kernel.clock import Clock

log = logging.getLogger(__name__)

PRIVILEGED = "com.amazonaws.ecs.capability.privileged-container"
CAPABILITIES = (
    "ecs.capability.container-health-check", "ecs.capability.container-ordering",
    "ecs.capability.docker-plugin.local", "ecs.capability.task-cpu-mem-limit",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.none",
    PRIVILEGED,
    *(f"com.amazonaws.ecs.capability.docker-remote-api.1.{v}" for v in range(17, 33)),
)

# The Docker runtime pulls ECR images (agent/registry_pull.py), always with the agent's own
# key: a task's execution role is not used for the pull.
ECR_CAPABILITIES = ("com.amazonaws.ecs.capability.ecr-auth",
                    "ecs.capability.execution-role-ecr-pull")


# How long closing the runtime may take: the log shippers' last lines and the like.
CLOSE_SECONDS = 2.5


class Deregistered(Exception):
    """The control plane deregistered this agent's container instance."""


@dataclass
class AgentConfig:
    # The control plane's URL, or several (servers on one store; kernel/endpoints.py).
    endpoint: str | list[str]
    cluster: str = "default"
    availability_zone: str | None = None
    region: str = "us-east-1"
    address: str = "127.0.0.1"        # where this host is reached (kernel/host_address.py)
    ca_bundle: str | None = None      # what an https:// endpoint's certificate is checked by
    # The agent's own key (agent/credentials.py), which signs its calls; None for a
    # control plane with auth off.
    credentials: object = None
    runtime: str = "docker"
    # ECS_DISABLE_PRIVILEGED: the privileged-container capability is not advertised (so
    # the scheduler places no such task here), and a task that asks is refused anyway.
    disable_privileged: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    instance_type: str = "nozama.local"
    state_dir: Path = Path(".")
    cleanup_wait: float = 3600.0      # ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION's role
    runtime_options: dict = field(default_factory=dict)
    # The host's task role credentials, shared by its agents (agent/task_credentials.py).
    credentials_dir: Path = Path(CREDENTIALS_DIR)
    # How often tasks' CPU and memory use is reported (the AWS/ECS service metrics).
    metrics_interval: float = float(os.environ.get("NOZAMA_AGENT_METRICS_SECONDS", "10"))


class Agent:
    def __init__(self, config: AgentConfig):
        self.config = config
        self.clock = Clock()  # the agent's and its runtime's one clock
        self.channel = Channel(config.endpoint, config.ca_bundle, config.credentials,
                               config.region)
        self.instance_arn: str | None = None
        self.local: dict[str, TaskStatus] = {}      # what the runtime last reported
        self.starting: dict[str, asyncio.Task] = {}
        self.cleaned: set[str] = set()
        self.pending_reports: dict[str, TaskStatus] = {}
        self.report_wakeup = asyncio.Event()
        self.closing = False                         # run() is stopping: don't cancel it
        self.loop = asyncio.get_running_loop()
        self.thread = threading.get_ident()
        self.runtime = runtimes.create(config.runtime, self._on_change,
                                       **self._runtime_options())
        self.credentials = TaskCredentials(config.credentials_dir, self.clock)

    def _runtime_options(self) -> dict:
        options = dict(self.config.runtime_options)
        options.setdefault("clock", self.clock)
        options.setdefault("address", self.config.address)
        if self.config.runtime == "docker":
            options.setdefault("cluster", self.config.cluster)
            options.setdefault("region", self.config.region)
            # The channel's endpoints: log shipping and ECR tokens follow its current one.
            options.setdefault("logs_endpoint", self.channel.endpoints)
            options.setdefault("logs_credentials", self.config.credentials)
            options.setdefault("registry_endpoint", self.channel.endpoints)
            options.setdefault("registry_credentials", self.config.credentials)
            options.setdefault("ca_bundle", self.config.ca_bundle)
        return options

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Run until cancelled (or deregistered). Cancelling stops the agent, not its
        tasks: the runtime closes within CLOSE_SECONDS and leaves them running."""
        helpers: list[asyncio.Future] = []
        try:
            await self.runtime.start()
            await self.credentials.start()
            await self.register()
            for status in await self.runtime.adopt(self.instance_arn):
                log.info("adopted %s (%s)", status.task_arn, status.last_status)
                self._on_change(status)
            helpers = [asyncio.ensure_future(self._report_forever()),
                       asyncio.ensure_future(self._report_usage_forever())]
            await self._poll_forever()
        finally:
            self.closing = True
            await self.credentials.close()
            for helper in [*helpers, *self.starting.values()]:
                helper.cancel()
            try:
                await asyncio.wait_for(self.runtime.close(), CLOSE_SECONDS)
            except asyncio.TimeoutError:
                log.warning("the runtime did not close within %.1fs", CLOSE_SECONDS)
            except Exception:  # noqa: BLE001 - a failed close must not hold the exit
                log.exception("closing the runtime failed")

    async def register(self) -> None:
        try:
            await self._register()
        except ChannelError as error:
            if error.code != "ContainerInstanceUnknown":
                raise
            # The control plane does not know the instance this host was (a new control
            # plane, or the instance was deregistered while this agent was down): as a
            # new host would, register a new one rather than retry forever.
            log.warning("the control plane does not know container instance %s (%s); "
                        "registering as a new instance",
                        self._identity()["containerInstanceArn"], error)
            self._forget_instance()
            await self._register()

    async def _register(self) -> None:
        identity = {**self._identity(), "privateIp": self.config.address}
        resources = self.runtime.resources()
        body = {
            "region": self.config.region, "cluster": self.config.cluster,
            "instanceIdentityDocument": json.dumps(identity),
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": resources.cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": resources.memory},
                {"name": "PORTS", "type": "STRINGSET",
                 "stringSetValue": [str(p) for p in resources.reserved_ports]},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}],
            "versionInfo": {"agentVersion": __version__, "agentHash": "nozama"},
            "attributes": self._attributes(),
        }
        if identity.get("containerInstanceArn"):
            body["containerInstanceArn"] = identity.pop("containerInstanceArn")
            body["instanceIdentityDocument"] = json.dumps(identity)
        result = await self._retrying(lambda: self.channel.call("register", body))
        self.instance_arn = result["containerInstance"]["containerInstanceArn"]
        self._save_identity({**identity, "containerInstanceArn": self.instance_arn})
        log.info("registered %s in cluster %s", self.instance_arn, self.config.cluster)

    def _attributes(self) -> list[dict]:
        machine = platform.machine()
        values = {"ecs.os-type": "linux", "ecs.os-family": "LINUX",
                  "ecs.cpu-architecture": {"aarch64": "arm64"}.get(machine, machine),
                  "ecs.instance-type": self.config.instance_type}
        if self.config.availability_zone:
            values["ecs.availability-zone"] = self.config.availability_zone
        values.update(self.config.attributes)
        capabilities = [c for c in CAPABILITIES if not (
            self.config.disable_privileged and c == PRIVILEGED)] + \
            self.credentials.capabilities() + \
            (list(ECR_CAPABILITIES) if self.config.runtime == "docker" else [])
        return [{"name": n, "value": v} for n, v in values.items()] + \
            [{"name": c} for c in capabilities]

    # The instance's identity survives restarts, so re-registration keeps its ARN.
    def _identity_path(self) -> Path:
        return self.config.state_dir / "instance.json"

    def _identity(self) -> dict:
        path = self._identity_path()
        if path.exists():
            return json.loads(path.read_text())
        return {"instanceId": f"i-{uuid.uuid4().hex[:17]}", "region": self.config.region,
                "availabilityZone": self.config.availability_zone,
                "instanceType": self.config.instance_type}

    def _save_identity(self, identity: dict) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self._identity_path().with_suffix(".tmp")
        temporary.write_text(json.dumps(identity))
        os.replace(temporary, self._identity_path())

    def _forget_instance(self) -> None:
        identity = self._identity()
        identity.pop("containerInstanceArn", None)
        self._save_identity(identity)

    async def _retrying(self, call, first_delay: float = 0.2, max_delay: float = 10.0):
        """`call` until the control plane answers; a refusal (4xx) is not retried."""
        delay = first_delay
        while True:
            try:
                return await call()
            except (OSError, ChannelError) as error:
                if isinstance(error, ChannelError) and error.status < 500:
                    raise
                log.warning("control plane unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    # ------------------------------------------------------------ desired state

    async def _poll_forever(self) -> None:
        digest, delay = None, 0.2
        while True:
            try:
                answer = await self.channel.call(
                    "poll", {"containerInstanceArn": self.instance_arn, "digest": digest},
                    timeout=60)
            except ChannelError as error:
                if error.code == "ContainerInstanceDeregistered":
                    # As the ECS agent does: a deregistered instance's agent stops for good,
                    # and a new agent on this host registers a new instance.
                    log.error("container instance %s was deregistered; stopping",
                              self.instance_arn)
                    self._forget_instance()
                    raise Deregistered(self.instance_arn) from None
                if error.refuses_key:
                    log.error("%s; retrying in %.1fs", key_refused(self.channel, error), delay)
                else:
                    log.warning("poll refused (%s); retrying in %.1fs", error, delay)
                answer = None
            except OSError as error:
                log.warning("channel lost (%s); reconnecting in %.1fs", error, delay)
                answer = None
            if answer is None:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.2
            digest = answer["digest"]
            self.reconcile(answer["tasks"])

    def reconcile(self, assigned: list[dict]) -> None:
        wanted = set()
        for item in assigned:
            task, definition = item["task"], item["taskDefinition"]
            arn = task["taskArn"]
            wanted.add(arn)
            self.credentials.update(arn, item.get("credentials"))
            local = self.local.get(arn)
            if task["desiredStatus"] == "RUNNING":
                if local is not None or arn in self.starting:
                    continue
                if task["lastStatus"] in ("PROVISIONING", "PENDING"):
                    self._start(task, definition)
                else:
                    # It ran here before, but no container of it is left: never start a
                    # task twice; report it lost instead.
                    self._on_change(TaskStatus(arn, "STOPPED", stop_code="TaskFailedToStart",
                                               stopped_reason="Task lost: its containers are "
                                               "gone from the host"))
            elif local is not None and local.last_status != "STOPPED":
                asyncio.ensure_future(self.runtime.stop_task(arn, task.get("stoppedReason", "")))
            elif local is None and arn not in self.starting and task["lastStatus"] != "STOPPED":
                # Desired STOPPED and nothing runs here: say so.
                self._on_change(TaskStatus(arn, "STOPPED", stopped_reason=task.get(
                    "stoppedReason")))
        for arn, status in list(self.local.items()):
            if arn not in wanted and status.last_status != "STOPPED":
                # Running here but no longer assigned (e.g. deregistered and forced).
                asyncio.ensure_future(self.runtime.stop_task(arn, "Task no longer assigned"))

    def _start(self, task: dict, definition: dict) -> None:
        arn = task["taskArn"]
        if self.config.disable_privileged and any(
                c.get("privileged") for c in definition.get("containerDefinitions", [])):
            self._on_change(TaskStatus(
                arn, "STOPPED", stop_code="TaskFailedToStart",
                stopped_reason="CannotStartContainerError: privileged containers are disabled "
                "on this container instance (ECS_DISABLE_PRIVILEGED)"))
            return
        definition = self.credentials.definition_for(arn, definition)

        async def start():
            try:
                await self.runtime.run_task(task, definition)
            except Exception as error:  # the runtime failed in a way it didn't report
                log.exception("starting %s failed", arn)
                self._on_change(TaskStatus(arn, "STOPPED", stop_code="TaskFailedToStart",
                                           stopped_reason=f"Agent error: {error}"))
            finally:
                self.starting.pop(arn, None)

        self.starting[arn] = asyncio.ensure_future(start())

    # ------------------------------------------------------------ observed state

    def _on_change(self, status: TaskStatus) -> None:
        """Runtimes call this, possibly from their own threads."""
        if threading.get_ident() != self.thread:
            self.loop.call_soon_threadsafe(self._record, status)
        else:
            self._record(status)

    def _record(self, status: TaskStatus) -> None:
        self.local[status.task_arn] = status
        self.pending_reports[status.task_arn] = status
        self.report_wakeup.set()
        if status.last_status == "STOPPED":
            self.credentials.forget(status.task_arn)
        if status.last_status == "STOPPED" and status.task_arn not in self.cleaned:
            self.cleaned.add(status.task_arn)
            self.loop.call_later(self.config.cleanup_wait,
                                 lambda: asyncio.ensure_future(self._cleanup(status.task_arn)))

    async def _cleanup(self, task_arn: str) -> None:
        try:
            await self.runtime.cleanup_task(task_arn)
        except Exception:
            log.exception("cleanup of %s failed", task_arn)

    async def _report_forever(self) -> None:
        while True:
            await self.report_wakeup.wait()
            self.report_wakeup.clear()
            batch, self.pending_reports = self.pending_reports, {}
            reports = [report_of(s) for s in batch.values()]
            try:
                await self.channel.call("state", {"containerInstanceArn": self.instance_arn,
                                                  "tasks": reports})
            except (OSError, ChannelError) as error:
                log.warning("report failed (%s); will retry", error)
                # Keep the newest status of each task for the next attempt.
                self.pending_reports = {**batch, **self.pending_reports}
                await asyncio.sleep(1.0)
                self.report_wakeup.set()


    async def _report_usage_forever(self) -> None:
        """Each task's CPU (in CPU units, 1024 a core) and memory (MiB) over the last
        interval, for the control plane's AWS/ECS CPUUtilization and MemoryUtilization."""
        previous: dict[str, float] = {}
        last = self.clock.monotonic()
        while True:
            await asyncio.sleep(self.config.metrics_interval)
            try:
                usage = await self.runtime.usage()
            except Exception:
                log.exception("reading task usage failed")
                continue
            now = self.clock.monotonic()
            elapsed, last = now - last, now
            tasks = [{"taskArn": arn,
                      "cpu": max(0.0, cpu - previous[arn]) / elapsed * 1024,
                      "memory": memory / (1024 * 1024)}
                     for arn, (cpu, memory) in usage.items() if arn in previous]
            previous = {arn: cpu for arn, (cpu, _) in usage.items()}
            if tasks:
                try:
                    await self.channel.call("usage", {"containerInstanceArn": self.instance_arn,
                                                      "tasks": tasks})
                except (OSError, ChannelError) as error:
                    log.warning("usage report failed (%s)", error)


def report_of(status: TaskStatus) -> dict:
    """A TaskStatus as the control plane's state report (ECS member names)."""
    def when(value):
        return value.timestamp() if value is not None else None

    report = {
        "taskArn": status.task_arn, "lastStatus": status.last_status,
        "healthStatus": status.health_status, "pullStartedAt": when(status.pull_started_at),
        "pullStoppedAt": when(status.pull_stopped_at), "startedAt": when(status.started_at),
        "stoppingAt": when(status.stopping_at), "stoppedAt": when(status.stopped_at),
        "stopCode": status.stop_code, "stoppedReason": status.stopped_reason,
        "containers": [{
            "name": c.name, "lastStatus": c.last_status, "runtimeId": c.runtime_id,
            "exitCode": c.exit_code, "reason": c.reason, "healthStatus": c.health_status,
            "networkBindings": [b.to_api() for b in c.network_bindings],
        } for c in status.containers],
    }
    return {k: v for k, v in report.items() if v is not None}
