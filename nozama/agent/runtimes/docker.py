"""The Docker runtime: runs the containers of tasks on this host's Docker Engine.

run_task walks a task through what the ECS container agent does: pull missing
images, provide volumes and host ports, create every container (labelled with
the task ARN and this instance), then start them in dependency order, waiting
for each `dependsOn` condition. From then on Docker's event stream tells the
runtime when a container dies, runs out of memory or changes health; an
essential container's exit stops the rest of the task. Every change is reported
through `on_change` as a full TaskStatus.

The Docker SDK blocks, so every call goes through the runtime's thread pool; the
event stream and log shipping live in threads of their own (docker_events,
docker_logs). The translation from TaskDefinition to Docker arguments is pure
and lives in docker_config.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import docker
from docker.errors import APIError, DockerException, NotFound
from requests import RequestException

from nozama.agent.registry_pull import EcrAuthorizations, RegistryPuller
from nozama.agent.runtimes import docker_config as config
from nozama.agent.runtimes import docker_host as host
from nozama.agent.runtimes.base import (
    LABEL_INSTANCE,
    LABEL_TASK_ARN,
    ContainerStatus,
    HostResources,
    Runtime,
    TaskStatus,
)
from nozama.agent.runtimes.docker_events import RESYNC, EventWatcher
from nozama.agent.runtimes.docker_host import TaskStartError
from nozama.agent.runtimes.docker_logs import ContainerLogShipper, LogsClients
from nozama.agent.runtimes.docker_ports import HostPortAllocator
from nozama.agent.runtimes.docker_state import (
    DOCKER_HEALTH,
    ContainerRecord,
    TaskRecord,
    condition_failure,
    condition_holds,
    exit_reason,
    never_started,
    stop_order,
    stopped_reason_for,
    task_arn_of,
    task_from_inspect,
    task_health,
)
from nozama.kernel.clock import Clock
from nozama.kernel.endpoints import Endpoints
from nozama.model import arns
from nozama.model.task_definitions import effective_network_mode

log = logging.getLogger(__name__)

MIB = 1024 * 1024
CLOSE_SECONDS = 2.0  # for the log shippers' last lines and the event stream to stop
POOL_SIZE = 64      # concurrent SDK calls, plus one stream per log shipper


class DockerRuntime(Runtime):
    def __init__(self, on_change: Callable[[TaskStatus], None], *,
                 instance_arn: str | None = None, cluster: str = "default",
                 logs_endpoint: "str | Endpoints | None" = None, logs_credentials=None,
                 region: str = "us-east-1", registry_endpoint: "str | Endpoints | None" = None,
                 registry_credentials=None, ca_bundle: str | None = None,
                 docker_url: str | None = None, memory_reserve_mib: int = 256,
                 clock: Clock | None = None, **_ignored):
        super().__init__(on_change)
        # An agent learns its instance ARN by registering, after creating its runtime:
        # adopt(instance_arn) or the task's containerInstanceArn supply it then.
        self.instance_arn = instance_arn
        self.cluster = cluster
        self.region = region
        self.docker_url = docker_url
        self.memory_reserve_mib = memory_reserve_mib
        self.clock = clock or Clock()
        self.logs = LogsClients(logs_endpoint, logs_credentials) if logs_endpoint else None
        # ECR images come through the registry the control plane names, with the agent's
        # own ECR token (agent/registry_pull.py).
        self.registry = RegistryPuller(EcrAuthorizations(
            registry_endpoint, registry_credentials, ca_bundle, self.clock)) \
            if registry_endpoint else None
        # Dynamic host ports never land on the ports ECS keeps for the host itself.
        self.ports = HostPortAllocator(HostResources(cpu=0, memory=0).reserved_ports)
        self.client = None
        self._tasks: dict[str, TaskRecord] = {}
        self._resources: HostResources | None = None
        self._watcher: EventWatcher | None = None
        self._consumer: asyncio.Task | None = None
        # Every SDK call runs in a worker thread: as many threads as the SDK's connection
        # pool, not asyncio's default of a few, or a burst of starts and stops queues
        # behind one slow `docker stop`. The pool is the runtime's own, not the loop's
        # default executor, so that closing does not wait for calls in flight.
        self._executor = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="docker")

    # --- lifecycle ------------------------------------------------------------

    def _connect(self):
        if self.docker_url:
            return docker.DockerClient(base_url=self.docker_url, max_pool_size=POOL_SIZE)
        return docker.from_env(max_pool_size=POOL_SIZE)

    async def start(self) -> None:
        self.client = await self._call(self._connect)
        info = await self._call(self.client.info)
        self._resources = self._resources_from(info)
        queue: asyncio.Queue = asyncio.Queue()
        self._consumer = asyncio.create_task(self._consume_events(queue))
        self._watcher = EventWatcher(self._connect, asyncio.get_running_loop(), queue)
        self._watcher.start()

    def _call(self, function, /, *args, **kwargs) -> asyncio.Future:
        """`function(*args, **kwargs)` in one of the runtime's threads."""
        return asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs))

    async def close(self) -> None:
        """Stop watching and shipping, leaving every container as it is (the next agent
        adopts them), within CLOSE_SECONDS. SDK calls in flight, such as a `docker stop`
        waiting out a stop timeout, are abandoned: Docker completes them on its own."""
        if self._consumer:
            self._consumer.cancel()
        shippers = [c.shipper for t in self._tasks.values() for c in t.containers.values()
                    if c.shipper]
        # The watcher and the shippers stop in threads of their own: the runtime's pool
        # may be busy with the calls in flight.
        await _in_threads([s.stop for s in shippers] +
                          ([self._watcher.close] if self._watcher else []), CLOSE_SECONDS)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.client:
            self.client.close()      # idle connections only: calls in flight keep theirs

    def resources(self) -> HostResources:
        if self._resources is None:      # before start(): ask the engine once
            client = self._connect()
            try:
                self._resources = self._resources_from(client.info())
            finally:
                client.close()
        return self._resources

    def _resources_from(self, info: dict) -> HostResources:
        cpus = info.get("NCPU") or os.cpu_count() or 1
        memory = int(info.get("MemTotal", 0)) // MIB - self.memory_reserve_mib
        return HostResources(cpu=1024 * cpus, memory=max(memory, 0))

    # --- reporting ------------------------------------------------------------

    def _report(self, task: TaskRecord) -> None:
        task.status.health_status = task_health(task)
        task.notify()
        try:
            self.on_change(copy.deepcopy(task.status))
        except Exception:  # noqa: BLE001 - a failing listener must not break the runtime
            log.exception("on_change failed for %s", task.arn)

    # --- run_task ---------------------------------------------------------------

    async def run_task(self, task: dict, task_definition: dict) -> None:
        arn = task["taskArn"]
        if arn in self._tasks:
            return            # already running here (a repeated assignment)
        containers = config.effective_containers(task, task_definition)
        record = self._new_record(arn, containers)
        self._tasks[arn] = record
        self._report(record)
        try:
            images = await self._pull_images(record, containers)
            if record.stopping:        # stop_task came while pulling
                return
            choices = await self._prepare_host(record, task, task_definition, containers)
            await self._create_containers(record, task, task_definition, containers, choices,
                                          images)
            await self._start_containers(record, containers)
        except TaskStartError as error:
            await self._stop(record, "TaskFailedToStart", str(error))
        except Exception as error:  # noqa: BLE001 - whatever it was, the task must end
            log.exception("starting %s failed", arn)
            await self._stop(record, "TaskFailedToStart", f"CannotStartContainerError: {error}")

    def _new_record(self, arn: str, containers: list[dict]) -> TaskRecord:
        records = {c["name"]: ContainerRecord(
            status=ContainerStatus(name=c["name"]), essential=config.is_essential(c),
            stop_timeout=config.stop_timeout(c), has_health_check=bool(config.healthcheck(c)))
            for c in containers}
        status = TaskStatus(task_arn=arn, containers=[r.status for r in records.values()])
        return TaskRecord(status=status, containers=records,
                          depends_on={c["name"]: config.prerequisites(c) for c in containers})

    async def _pull_images(self, record: TaskRecord, containers: list[dict]) -> dict[str, str]:
        """Pull what the task's containers need; give each image the reference its
        containers are created from (an ECR digest reference runs from the registry's)."""
        record.status.pull_started_at = self.clock.now()
        account = arns.parse(record.arn).account if arns.is_arn(record.arn) else None
        images: dict[str, str] = {}
        try:
            for image in dict.fromkeys(c["image"] for c in containers):
                try:
                    images[image] = await self._call(host.ensure_image, self.client, image,
                                                     self.registry, account)
                except TaskStartError as error:
                    # The containers of that image say why too, as ECS's do.
                    for container in containers:
                        if container["image"] == image:
                            status = record.containers[container["name"]].status
                            status.last_status, status.reason = "STOPPED", str(error)
                    raise
        finally:
            record.status.pull_stopped_at = self.clock.now()
        return images

    def _instance_of(self, task: dict) -> str:
        return self.instance_arn or task.get("containerInstanceArn") or ""

    async def _prepare_host(self, record: TaskRecord, task: dict, task_definition: dict,
                            containers: list[dict]) -> config.HostChoices:
        choices = config.HostChoices(docker_names={
            c["name"]: config.docker_container_name(task_definition, c["name"])
            for c in containers})
        for plan in config.volume_plans(task_definition):
            choices.volume_sources[plan.name] = await self._call(
                host.provide_volume, self.client, record.arn, self._instance_of(task),
                task_definition, plan)
        mode = effective_network_mode(task_definition)
        for container in containers:
            choices.host_ports[container["name"]] = {
                (r.container_port, r.protocol): self.ports.allocate(record.arn, r.protocol)
                for r in config.port_requests(container, mode) if r.host_port is None}
            record.containers[container["name"]].bindings = config.container_bindings(
                container, mode, choices)
        return choices

    async def _create_containers(self, record: TaskRecord, task: dict, task_definition: dict,
                                 containers: list[dict], choices: config.HostChoices,
                                 images: dict[str, str]) -> None:
        by_name = {c["name"]: c for c in containers}
        for name in config.start_order(containers):
            if record.stopping:
                return         # what was created is removed by cleanup_task, by its labels
            kwargs = config.create_kwargs(
                task, task_definition, by_name[name], instance_arn=self._instance_of(task),
                cluster=self.cluster, choices=choices, region=self.region)
            kwargs["image"] = images.get(kwargs["image"], kwargs["image"])
            try:
                created = await self._call(self.client.containers.create, **kwargs)
            except APIError as error:
                reason = f"CannotCreateContainerError: {host.explain(error)}"
                raise TaskStartError(reason) from error
            container = record.containers[name]
            container.status.runtime_id = created.id
            container.awslogs = config.awslogs_config(task, by_name[name], self.region)
        self._report(record)

    async def _start_containers(self, record: TaskRecord, containers: list[dict]) -> None:
        by_name = {c["name"]: c for c in containers}
        for name in config.start_order(containers):
            await self._wait_for_dependencies(record, by_name[name])
            async with record.start_lock:
                if record.stopping:
                    return
                await self._start_container(record, record.containers[name])
        if not record.stopping and record.essentials_running():
            record.status.last_status = "RUNNING"
            record.status.started_at = self.clock.now()
            self._report(record)

    async def _start_container(self, record: TaskRecord, container: ContainerRecord) -> None:
        container.starting = True
        try:
            await self._call(self.client.api.start, container.status.runtime_id)
        except APIError as error:
            reason = f"CannotStartContainerError: {host.explain(error)}"
            container.status.last_status = "STOPPED"
            container.status.reason = reason
            raise TaskStartError(reason) from error
        finally:
            container.starting = False
        container.started = True
        self._ship_logs(container)
        if container.stopped:           # it exited before start() even returned
            self._after_exit(record, container)
            return
        container.status.last_status = "RUNNING"
        container.status.network_bindings = list(container.bindings)
        self._report(record)

    # --- dependsOn --------------------------------------------------------------

    async def _wait_for_dependencies(self, record: TaskRecord, container: dict) -> None:
        timeout = config.start_timeout(container)
        for dependency in container.get("dependsOn") or []:
            try:
                await asyncio.wait_for(
                    self._condition_met(record, container["name"], dependency), timeout)
            except TimeoutError:
                raise TaskStartError(
                    f"DependencyTimeoutError: container {container['name']} timed out after "
                    f"{timeout}s waiting for {dependency['containerName']} to reach "
                    f"{dependency['condition']}") from None

    async def _condition_met(self, record: TaskRecord, name: str, dependency: dict) -> None:
        """Return once the dependency condition holds; raise if it never can."""
        target = record.containers[dependency["containerName"]]
        condition = dependency["condition"]
        while not record.stopping:
            failure = condition_failure(target, condition)
            if failure:
                raise TaskStartError(
                    f"DependencyConditionError: container {name} depends on {target.name} "
                    f"with condition {condition}, but {target.name} {failure}")
            if condition_holds(target, condition):
                return
            await record.changed.wait()

    # --- container exits and stopping -------------------------------------------

    def _container_exited(self, record: TaskRecord, container: ContainerRecord,
                          state: dict) -> None:
        if container.stopped:
            return
        container.status.last_status = "STOPPED"
        ran = container.started or not never_started(state)
        container.status.exit_code = state.get("ExitCode") if ran else None
        container.status.reason = container.status.reason or exit_reason(state)
        container.status.network_bindings = []
        if container.starting:
            return     # _start_container decides once start() returns
        self._after_exit(record, container)

    def _after_exit(self, record: TaskRecord, container: ContainerRecord) -> None:
        if container.essential and not record.stopping:
            self._begin_stop(record, "EssentialContainerExited", stopped_reason_for(container))
        else:
            self._report(record)
        self._finish_if_stopped(record)

    def _begin_stop(self, record: TaskRecord, stop_code: str | None,
                    reason: str) -> asyncio.Future:
        if record.stop_job is None:
            record.stopping = True
            status = record.status
            status.stop_code = status.stop_code or stop_code
            status.stopped_reason = status.stopped_reason or reason
            if status.last_status != "STOPPED":
                status.stopping_at = self.clock.now()
                status.last_status = "STOPPING"
            record.stop_job = asyncio.ensure_future(self._stop_containers(record))
            self._report(record)
        return record.stop_job

    async def _stop(self, record: TaskRecord, stop_code: str | None, reason: str) -> None:
        await self._begin_stop(record, stop_code, reason)

    async def _stop_containers(self, record: TaskRecord) -> None:
        async with record.start_lock:    # lets a start in flight finish; none begins after
            pass
        for container in record.containers.values():
            if not container.started and not container.stopped:
                container.status.last_status = "STOPPED"    # created, never started
        # Dependents stop before what they depend on, as ECS orders it.
        jobs: dict[str, asyncio.Future] = {}
        for name in stop_order(record):
            dependents = [jobs[d] for d, needs in record.depends_on.items()
                          if name in needs and d in jobs]
            jobs[name] = asyncio.ensure_future(
                self._stop_container(record, record.containers[name], dependents))
        await asyncio.gather(*jobs.values(), return_exceptions=True)
        self._finish_if_stopped(record)

    async def _stop_container(self, record: TaskRecord, container: ContainerRecord,
                              after: list[asyncio.Future]) -> None:
        await asyncio.gather(*after, return_exceptions=True)
        if container.stopped or not container.status.runtime_id:
            return
        try:
            await self._call(self.client.api.stop, container.status.runtime_id,
                                    timeout=container.stop_timeout)
            attrs = await self._call(self.client.api.inspect_container,
                                            container.status.runtime_id)
            self._container_exited(record, container, attrs["State"])
        except NotFound:
            self._container_exited(record, container, {})
        except DockerException as error:
            log.warning("stopping %s of %s failed: %s", container.name, record.arn, error)

    def _finish_if_stopped(self, record: TaskRecord) -> None:
        status = record.status
        if status.last_status == "STOPPED" or not record.all_stopped():
            return      # if a docker stop failed, the event stream reports the exit later
        status.last_status = "STOPPED"
        status.stopping_at = status.stopping_at or self.clock.now()
        status.stopped_at = self.clock.now()
        record.stopping = True
        self.ports.release(record.arn)
        self._report(record)

    # --- stop_task, cleanup_task ------------------------------------------------

    async def stop_task(self, task_arn: str, reason: str) -> None:
        record = self._tasks.get(task_arn) or await self._adopt_one(task_arn)
        if record is not None and record.status.last_status != "STOPPED":
            await self._stop(record, None, reason)

    async def cleanup_task(self, task_arn: str) -> None:
        record = self._tasks.pop(task_arn, None)
        if record is not None:      # its last log lines: sent if quick, else dropped
            shippers = [c.shipper for c in record.containers.values() if c.shipper]
            await asyncio.gather(*(self._call(s.stop) for s in shippers))
        await self._call(host.remove_task_resources, self.client, task_arn)
        self.ports.release(task_arn)

    # --- adoption -------------------------------------------------------------

    async def usage(self) -> dict[str, tuple[float, float]]:
        running = {arn: [c.status.runtime_id for c in task.containers.values()
                         if c.status.last_status == "RUNNING" and c.status.runtime_id]
                   for arn, task in self._tasks.items()
                   if task.status.last_status == "RUNNING"}
        return await self._call(self._usage_of, running)

    def _usage_of(self, running: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
        """Docker's one-shot stats: CPU time in nanoseconds, memory in bytes (less the
        page cache, as `docker stats` shows it)."""
        found = {}
        for arn, containers in running.items():
            cpu = memory = 0.0
            for container in containers:
                try:
                    stats = self.client.api.stats(container, stream=False, one_shot=True)
                except (APIError, DockerException):
                    continue
                cpu += stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0)
                mem = stats.get("memory_stats", {})
                memory += mem.get("usage", 0) - mem.get("stats", {}).get("inactive_file", 0)
            found[arn] = (cpu / 1e9, max(memory, 0.0))
        return found

    async def adopt(self, instance_arn: str) -> list[TaskStatus]:
        self.instance_arn = self.instance_arn or instance_arn
        found = await self._call(host.inspect_by_label, self.client,
                                        f"{LABEL_INSTANCE}={instance_arn}")
        by_task: dict[str, list[dict]] = {}
        for attrs in found:
            by_task.setdefault(task_arn_of(attrs), []).append(attrs)
        return [copy.deepcopy(self._adopt(arn, containers).status)
                for arn, containers in by_task.items()]

    async def _adopt_one(self, task_arn: str) -> TaskRecord | None:
        found = await self._call(host.inspect_by_label, self.client,
                                        f"{LABEL_TASK_ARN}={task_arn}")
        return self._adopt(task_arn, found) if found else None

    def _adopt(self, task_arn: str, containers: list[dict]) -> TaskRecord:
        if task_arn in self._tasks:
            return self._tasks[task_arn]
        record = task_from_inspect(task_arn, containers)
        self._tasks[task_arn] = record
        for container in record.containers.values():
            for binding in container.bindings:
                self.ports.hold(task_arn, binding.host_port)
            if container.started:
                self._ship_logs(container, resume=True)
        self._settle_adopted(record)
        return record

    def _settle_adopted(self, record: TaskRecord) -> None:
        """Finish what the previous agent left half done."""
        if record.status.last_status == "STOPPED":
            return
        essentials = [c for c in record.containers.values() if c.essential]
        exited = [c for c in essentials if c.stopped]
        if exited:
            self._begin_stop(record, "EssentialContainerExited", stopped_reason_for(exited[0]))
        elif any(not c.started for c in essentials):
            # The start sequence needs the task definition, which only the agent has.
            self._begin_stop(record, "TaskFailedToStart",
                             "Task start was interrupted by an agent restart")

    # --- the event stream -------------------------------------------------------

    async def _consume_events(self, queue: asyncio.Queue) -> None:
        while True:
            event = await queue.get()
            try:
                if event is RESYNC:
                    await self._resync()
                else:
                    await self._on_event(event)
            except Exception:  # noqa: BLE001 - one bad event must not end the watching
                log.exception("handling docker event %s failed", event)

    async def _on_event(self, event: dict) -> None:
        action = event.get("Action") or event.get("status") or ""
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        record = self._tasks.get(attributes.get(LABEL_TASK_ARN, ""))
        container = record and record.containers.get(
            attributes.get(config.LABEL_CONTAINER_NAME, ""))
        if not container or container.status.runtime_id != event.get("id"):
            return
        if action in ("die", "destroy"):
            await self._refresh(record, container)
        elif action.startswith("health_status"):
            health = DOCKER_HEALTH.get(action.split(":", 1)[1].strip(), "UNKNOWN")
            if container.status.health_status != health and not container.stopped:
                container.status.health_status = health
                self._report(record)

    async def _refresh(self, record: TaskRecord, container: ContainerRecord) -> None:
        """Re-read one container and report whatever changed while we weren't looking."""
        try:
            attrs = await self._call(self.client.api.inspect_container,
                                            container.status.runtime_id)
        except NotFound:
            self._container_exited(record, container, {})     # removed behind our back
            return
        state = attrs["State"]
        if not state.get("Running") and (container.started or not never_started(state)):
            self._container_exited(record, container, state)
        elif state.get("Running"):
            health = DOCKER_HEALTH.get((state.get("Health") or {}).get("Status"), "UNKNOWN")
            if health != container.status.health_status:
                container.status.health_status = health
                self._report(record)

    async def _resync(self) -> None:
        for record in list(self._tasks.values()):
            for container in list(record.containers.values()):
                if container.status.runtime_id and not container.stopped \
                        and not container.starting:
                    try:
                        await self._refresh(record, container)
                    except (DockerException, RequestException) as error:  # retried on reconnect
                        log.warning("re-reading %s failed: %s", container.name, error)

    # --- logs -------------------------------------------------------------------

    def _ship_logs(self, container: ContainerRecord, resume: bool = False) -> None:
        if container.awslogs and self.logs and container.shipper is None:
            container.shipper = ContainerLogShipper(
                self.client, container.status.runtime_id, container.awslogs, self.logs,
                self.clock, resume=resume).start()




async def _in_threads(calls: list[Callable[[], None]], timeout: float) -> None:
    """Run each call in a daemon thread of its own; wait for them `timeout` at most (a
    daemon thread left behind does not hold the process's exit)."""
    loop = asyncio.get_running_loop()
    futures = []
    for call in calls:
        future = loop.create_future()

        def run(call=call, future=future) -> None:
            try:
                call()
            except Exception:  # noqa: BLE001 - stopping must go on for the others
                log.exception("stopping %s failed", call)
            finally:
                try:
                    loop.call_soon_threadsafe(
                        lambda: future.done() or future.set_result(None))
                except RuntimeError:      # the loop is gone: nobody waits any more
                    pass

        threading.Thread(target=run, daemon=True, name="docker-close").start()
        futures.append(future)
    if futures:
        await asyncio.wait(futures, timeout=timeout)
