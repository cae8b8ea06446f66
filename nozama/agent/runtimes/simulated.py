"""A runtime that behaves like the Docker runtime without running containers.

It moves tasks through the same states with the same reports (runtime ids,
dynamic host ports, exit codes, stop codes), so that hundreds of agents fit in
one process for scale benchmarks and fault tests. It is never the default.

Failures are asked for with container dockerLabels:
  nozama.simulated.fail        "pull" or "start": the task fails to start
  nozama.simulated.exit-after  seconds until the container exits on its own
  nozama.simulated.exit-code   its exit code then (default 0)
  nozama.simulated.oom-after   seconds until it is killed for memory
  nozama.simulated.error-rate  the share of HTTP requests it answers with 500 (a bad
                               release; not kept across an agent restart)
  nozama.simulated.cpu-percent, nozama.simulated.memory-percent
                               the share of its task's reserved CPU and memory it uses
                               (for the service metrics; 0 by default)
With `state_path`, what runs survives a restart of the agent (to test adoption).

A simulated container answers HTTP on the host ports of its TCP port mappings
(on its host's address: "200 <container> <task id>" to any request), so that load
balancer health checks and traffic reach simulated tasks as they reach real ones.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from nozama.agent.runtimes.base import (ContainerStatus, HostResources, NetworkBinding, Runtime,
                                        TaskStatus)
from nozama.kernel.clock import Clock
from nozama.model.resources import requirements

DYNAMIC_PORTS = range(49153, 65536)


class SimulatedRuntime(Runtime):
    def __init__(self, on_change, cpu: int = 4096, memory: int = 8192,
                 pull_seconds: float = 0.02, start_seconds: float = 0.02,
                 state_path: str | None = None, clock: Clock | None = None,
                 address: str = "127.0.0.1", **_ignored):
        super().__init__(on_change)
        self.address = address   # the host's, where its tasks answer
        self.clock = clock or Clock()
        self.host = HostResources(cpu=cpu, memory=memory)
        self.pull_seconds = pull_seconds
        self.start_seconds = start_seconds
        self.state_path = Path(state_path) if state_path else None
        self.save_queued = False
        self.tasks: dict[str, TaskStatus] = {}
        self.stop_timeouts: dict[str, float] = {}
        self.timers: dict[str, list[asyncio.TimerHandle]] = {}
        self.servers: dict[str, list[asyncio.base_events.Server]] = {}
        # What each task uses: (CPU seconds a second, memory bytes), from its labels.
        self.rates: dict[str, tuple[float, float]] = {}
        # Open connections to each task: a stopped container's connections die with it.
        self.connections: dict[str, set[asyncio.Transport]] = {}
        self.ports = itertools.cycle(DYNAMIC_PORTS)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        for handles in self.timers.values():
            for handle in handles:
                handle.cancel()
        if self.save_queued:
            self._write_state()
        for servers in self.servers.values():
            for server in servers:
                server.close()

    def resources(self) -> HostResources:
        return self.host

    async def usage(self) -> dict[str, tuple[float, float]]:
        now = self.clock.now()
        return {arn: (cpu * (now - status.started_at).total_seconds(), memory)
                for arn, (cpu, memory) in self.rates.items()
                if (status := self.tasks.get(arn)) is not None
                and status.last_status == "RUNNING" and status.started_at is not None}

    async def adopt(self, instance_arn: str) -> list[TaskStatus]:
        if self.state_path is None or not self.state_path.exists():
            return []
        for item in json.loads(self.state_path.read_text()):
            status = _status_from_json(item)
            self.tasks[status.task_arn] = status
            if status.last_status == "RUNNING":
                # The "containers" outlived the agent: they answer on their ports again.
                for container in status.containers:
                    await self._serve(status.task_arn, container.name,
                                      [b for b in container.network_bindings
                                       if b.protocol == "tcp"])
        return list(self.tasks.values())

    async def run_task(self, task: dict, task_definition: dict) -> None:
        arn = task["taskArn"]
        containers = task_definition["containerDefinitions"]
        status = TaskStatus(arn, "PENDING", [ContainerStatus(c["name"]) for c in containers],
                            pull_started_at=self.clock.now())
        self.stop_timeouts[arn] = max(c.get("stopTimeout", 30) for c in containers)
        self._report(status)
        await asyncio.sleep(self.pull_seconds)
        status.pull_stopped_at = self.clock.now()
        failure = next((c.get("dockerLabels", {}).get("nozama.simulated.fail")
                        for c in containers if c.get("dockerLabels", {}).get(
                            "nozama.simulated.fail")), None)
        if failure:
            kind = "CannotPullContainerError" if failure == "pull" else \
                "CannotStartContainerError"
            self._stop(status, "TaskFailedToStart", f"{kind}: simulated {failure} failure")
            return
        await asyncio.sleep(self.start_seconds)
        for definition, container in zip(containers, status.containers):
            container.last_status = "RUNNING"
            container.runtime_id = uuid.uuid4().hex
            container.network_bindings = await self._serve(
                arn, container.name, self._bindings(definition, task_definition),
                float(definition.get("dockerLabels", {}).get("nozama.simulated.error-rate",
                                                             0)))
        status.last_status, status.started_at = "RUNNING", self.clock.now()
        self._report(status)
        self._arm_failures(status, containers)
        self.rates[arn] = _usage_rates(task_definition)

    def _bindings(self, container: dict, task_definition: dict) -> list[NetworkBinding]:
        host_mode = task_definition.get("networkMode") == "host"
        return [NetworkBinding(m["containerPort"],
                               m.get("hostPort") or (m["containerPort"] if host_mode
                                                     else next(self.ports)),
                               m.get("protocol", "tcp"), self.address)
                for m in container.get("portMappings", []) if "containerPort" in m]

    async def _serve(self, task_arn: str, name: str, bindings: list[NetworkBinding],
                     error_rate: float = 0.0) -> list[NetworkBinding]:
        """Answer HTTP on each TCP binding's host port; a dynamic port that is taken
        moves on to the next free one, as Docker's would."""
        served = []
        for binding in bindings:
            if binding.protocol != "tcp":
                served.append(binding)
                continue
            dynamic = binding.host_port in DYNAMIC_PORTS  # (a static port there is rare)
            answers = _Answers(error_rate)   # one count over every connection of the port
            for _ in range(20 if dynamic else 1):
                try:
                    server = await asyncio.get_running_loop().create_server(
                        lambda: _Responder(f"{name} {task_arn.rsplit('/', 1)[-1]}",
                                           answers,
                                           self.connections.setdefault(task_arn, set())),
                        self.address, binding.host_port)
                    self.servers.setdefault(task_arn, []).append(server)
                    break
                except OSError:
                    if dynamic:
                        binding = NetworkBinding(binding.container_port, next(self.ports),
                                                 binding.protocol, self.address)
            served.append(binding)
        return served

    def _arm_failures(self, status: TaskStatus, containers: list[dict]) -> None:
        loop = asyncio.get_running_loop()
        for definition, container in zip(containers, status.containers):
            labels = definition.get("dockerLabels", {})
            essential = definition.get("essential", True)
            if "nozama.simulated.exit-after" in labels:
                code = int(labels.get("nozama.simulated.exit-code", "0"))
                self.timers.setdefault(status.task_arn, []).append(loop.call_later(
                    float(labels["nozama.simulated.exit-after"]), self._exit, status, container,
                    code, None, essential))
            if "nozama.simulated.oom-after" in labels:
                self.timers.setdefault(status.task_arn, []).append(loop.call_later(
                    float(labels["nozama.simulated.oom-after"]), self._exit, status, container,
                    137, "OutOfMemoryError: Container killed due to memory usage", essential))

    def _exit(self, status: TaskStatus, container: ContainerStatus, code: int,
              reason: str | None, essential: bool) -> None:
        if status.last_status == "STOPPED":
            return
        container.last_status, container.exit_code, container.reason = "STOPPED", code, reason
        if essential:
            self._stop(status, "EssentialContainerExited",
                       reason or "Essential container in task exited")
        else:
            self._report(status)

    async def stop_task(self, task_arn: str, reason: str) -> None:
        status = self.tasks.get(task_arn)
        if status is None or status.last_status == "STOPPED":
            return
        status.stopping_at = self.clock.now()
        for container in status.containers:
            if container.last_status == "RUNNING":
                container.exit_code = 143  # the process ended on SIGTERM
        self._stop(status, "UserInitiated", reason or "Task stopped by user")

    def _stop(self, status: TaskStatus, stop_code: str, reason: str) -> None:
        for container in status.containers:
            container.last_status = "STOPPED"
        for handle in self.timers.pop(status.task_arn, []):
            handle.cancel()
        self.rates.pop(status.task_arn, None)
        for server in self.servers.pop(status.task_arn, []):
            server.close()
        for transport in self.connections.pop(status.task_arn, set()):
            transport.abort()
        status.last_status, status.stopped_at = "STOPPED", self.clock.now()
        status.stop_code = status.stop_code or stop_code
        status.stopped_reason = status.stopped_reason or reason
        self._report(status)

    async def cleanup_task(self, task_arn: str) -> None:
        self.tasks.pop(task_arn, None)
        self._save()

    def _report(self, status: TaskStatus) -> None:
        self.tasks[status.task_arn] = status
        self._save()
        self.on_change(_copy(status))

    def _save(self) -> None:
        # One write for all the changes of this loop iteration (a burst of starts would
        # otherwise rewrite the file once per task). It is queued before the agent's
        # reporter wakes, so what the control plane hears of is always on disk first.
        if self.state_path is not None and not self.save_queued:
            self.save_queued = True
            asyncio.get_running_loop().call_soon(self._write_state)

    def _write_state(self) -> None:
        self.save_queued = False
        # Written aside, then renamed: a process killed mid-write leaves the old file whole.
        partial = self.state_path.with_suffix(".partial")
        partial.write_text(json.dumps([_status_to_json(s) for s in self.tasks.values()]))
        os.replace(partial, self.state_path)


class _Answers:
    """A port's answers: a share `error_rate` of them are 500s, spread evenly over the
    requests, whichever connections they come on (as a real application's errors do not
    depend on how a load balancer reuses its connections)."""

    def __init__(self, error_rate: float):
        self.error_rate = error_rate
        self.answered = 0

    def next_fails(self) -> bool:
        self.answered += 1
        return int(self.answered * self.error_rate) != int((self.answered - 1) *
                                                           self.error_rate)


class _Responder(asyncio.Protocol):
    """A simulated container's HTTP: 200 and who it is, to every request (or 500 to the
    share of them its _Answers fail)."""

    def __init__(self, identity: str, answers: _Answers, connections: set):
        self.body = f"{identity}\n".encode()
        self.buffer = b""
        self.answers = answers
        self.connections = connections

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.connections.add(transport)

    def connection_lost(self, exc) -> None:
        self.connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            close = b"connection: close" in head.lower()
            status = b"500 Internal Server Error" if self.answers.next_fails() else b"200 OK"
            self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: %d\r\n%s\r\n%s" % (
                                     status, len(self.body),
                                     b"Connection: close\r\n" if close else b"",
                                     self.body))
            if close:
                self.transport.close()
                return


def _usage_rates(task_definition: dict) -> tuple[float, float]:
    """(CPU seconds used a second, memory bytes) that the labels ask a task to use."""
    need = requirements(task_definition)
    labels = {}
    for container in task_definition["containerDefinitions"]:
        labels.update(container.get("dockerLabels") or {})
    cpu = float(labels.get("nozama.simulated.cpu-percent", 0)) / 100
    memory = float(labels.get("nozama.simulated.memory-percent", 0)) / 100
    return cpu * need.cpu / 1024, memory * need.memory * 1024 * 1024


def _copy(status: TaskStatus) -> TaskStatus:
    return _status_from_json(_status_to_json(status))


def _status_to_json(status: TaskStatus) -> dict:
    return json.loads(json.dumps(asdict(status), default=lambda d: d.isoformat()))


def _status_from_json(item: dict) -> TaskStatus:
    times = {k: datetime.fromisoformat(v) if isinstance(v, str) and k.endswith("_at") else v
             for k, v in item.items() if k != "containers"}
    containers = [ContainerStatus(**{**c, "network_bindings": [
        NetworkBinding(**b) for b in c["network_bindings"]]}) for c in item["containers"]]
    return TaskStatus(**times, containers=containers)
