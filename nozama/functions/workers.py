"""Worker processes: the execution environments functions run in.

A worker is one process running the official runtime interface client
(awslambdaric) with one version's code, polling its own Runtime API endpoint.
It runs one invocation at a time; a pool per version keeps the idle ones warm,
and an invocation that finds none idle starts a new one (a cold start).

The control plane enforces what Lambda enforces: Timeout by killing the worker,
MemorySize as the process's address-space limit (a MemoryError in the handler
ends the worker as an out-of-memory exit), and a worker never outlives the
control plane (PR_SET_PDEATHSIG).

Processes a handler starts are in its worker's process group, which is killed
whenever the worker ends. When the control plane itself is killed they
outlive it, orphaned; they carry its mark in their environment (as the worker
does), and the next control plane on the same data kills them as it starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nozama.kernel.clock import Clock
from nozama.kernel.http_server import HttpServer
from nozama.functions import runtime_api
from nozama.functions.runtime_api import next_response

# Runs in the worker before the runtime starts: die with the control plane, cap the
# address space at MemorySize, then become `python -m awslambdaric HANDLER`.
BOOT = """\
import ctypes, os, resource, runpy, sys
ctypes.CDLL(None).prctl(1, 9)
if os.getppid() != int(os.environ.pop("_NOZAMA_PARENT")):
    sys.exit(1)
limit = int(os.environ.pop("_NOZAMA_MEMORY_BYTES"))
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["awslambdaric", sys.argv[1]]
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""

# In the environment of every worker (and so of what its handler starts): names the
# control plane's work directory, so that a later one can find what it left behind.
LEFTOVER_MARK = "_NOZAMA_WORKERS_OF"

# Lambda's init phase has 10 s of its own; the function's Timeout starts with the handler.
INIT_SECONDS = 10.0

# Address space allowed on top of MemorySize. Python with awslambdaric maps about
# 20 MB, so by default the whole worker must fit in MemorySize, as in Lambda.
RUNTIME_RESERVE_MB = int(os.environ.get("NOZAMA_LAMBDA_RUNTIME_RESERVE_MB", "0"))


@dataclass(frozen=True)
class VersionSpec:
    """What running one version of a function takes."""
    region: str
    account: str
    function_name: str
    function_arn: str          # unqualified
    version: str               # "$LATEST" or "1", "2", ...
    revision: str              # changes whenever $LATEST changes
    runtime: str
    interpreter: str
    handler: str
    timeout: int               # seconds
    memory_mb: int
    environment: tuple         # ((name, value), ...)
    code_dir: Path
    log_group: str
    role: str = ""             # the execution role's ARN (Role)
    # PackageType Image: the image pinned by digest (ResolvedImageUri), and ImageConfig's
    # overrides; such a version runs in a container (functions/container_workers.py).
    image: str = ""
    entry_point: tuple = ()
    command: tuple = ()
    working_directory: str = ""

    @property
    def key(self) -> tuple:
        return (self.region, self.account, self.function_name, self.version, self.revision)


@dataclass
class Outcome:
    payload: bytes
    function_error: bool = False
    error_type: str | None = None     # for the REPORT line: Runtime.ExitError, ...
    output: bytes = b""               # what the function wrote during the invocation
    duration_ms: float = 0.0
    init_ms: float | None = None
    max_memory_mb: int = 0


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    timeout: float                    # seconds from delivery to the runtime
    client_context: str | None = None
    done: asyncio.Future = field(default=None)
    handed: asyncio.Future = field(default=None)   # resolved on delivery
    deadline: float = 0.0             # the clock's monotonic(), set on delivery
    started: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.handed is not None and self.handed.done()


class Worker:
    def __init__(self, spec: VersionSpec, environment: dict[str, str],
                 on_exit: Callable[["Worker"], None], clock: Clock):
        self.spec = spec
        self.clock = clock
        self.environment = environment
        self.on_exit = on_exit
        self.log_stream = clock.now().strftime("%Y/%m/%d/") + \
            f"[{spec.version}]{uuid.uuid4().hex}"
        self.process: asyncio.subprocess.Process | None = None
        # A response over Lambda's limit is read and dropped, so that the caller learns
        # it was too large (Function.ResponseSizeTooLarge) whatever its size.
        self.server = HttpServer(runtime_api.handler(self), max_body=runtime_api.MAX_RESPONSE,
                                 pass_oversized=True, clock=clock)
        self.invocation: Invocation | None = None
        self.poller: asyncio.Future | None = None
        self.output = bytearray()
        self.output_fd = -1
        self.spawned = 0.0
        self.init_ms: float | None = None    # until the first invocation reports it
        self.ready = False
        self.alive = True
        self.peak_memory_mb = 0          # as last seen alive (a killed worker has no /proc)
        self.memory_read_at = 0.0
        self.idle_since = self.clock.monotonic()
        # The access key id of the role session in its environment ("" for none).
        self.credentials_key = ""

    async def start(self) -> None:
        self.spawned = self.clock.monotonic()
        await self.server.start("127.0.0.1", 0)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self.output_fd = read_fd
        env = dict(self.environment)
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.server.port}"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = self.log_stream
        env["_NOZAMA_PARENT"] = str(os.getpid())
        env["_NOZAMA_MEMORY_BYTES"] = str((self.spec.memory_mb + RUNTIME_RESERVE_MB) << 20)
        try:
            self.process = await asyncio.create_subprocess_exec(
                self.spec.interpreter, "-c", BOOT, self.spec.handler,
                stdin=asyncio.subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                cwd=self.spec.code_dir, env=env, start_new_session=True)
        finally:
            os.close(write_fd)
        asyncio.get_running_loop().add_reader(read_fd, self._read_output)
        asyncio.ensure_future(self._watch_exit())

    # ------------------------------------------------------------ invocations

    async def invoke(self, invocation: Invocation) -> Outcome:
        loop = asyncio.get_running_loop()
        invocation.done = loop.create_future()
        invocation.handed = loop.create_future()
        invocation.started = self.clock.monotonic()
        self.invocation = invocation
        self._read_output()
        del self.output[:]          # what came before belongs to no invocation
        if self.poller is not None and not self.poller.done():
            self._deliver(self.poller)
        try:
            outcome = await self._outcome(invocation)
        except asyncio.TimeoutError:
            self.kill()
            outcome = self._platform_error(
                "Sandbox.Timedout", f"Task timed out after {self.spec.timeout:.2f} seconds")
        finally:
            self.invocation = None
        outcome.duration_ms = (self.clock.monotonic() - invocation.started) * 1000
        await self._settle_output()
        outcome.output = bytes(self.output)
        del self.output[:]
        outcome.max_memory_mb = self._max_memory_mb()
        if self.init_ms is not None:
            outcome.init_ms, self.init_ms = self.init_ms, None
        self.idle_since = self.clock.monotonic()
        return outcome

    async def _outcome(self, inv: Invocation) -> Outcome:
        """The invocation's outcome, or TimeoutError: a cold worker has INIT_SECONDS to
        take the invocation, then the handler has the function's Timeout."""
        await asyncio.wait([inv.handed, inv.done], timeout=INIT_SECONDS,
                           return_when=asyncio.FIRST_COMPLETED)
        if inv.done.done():
            return inv.done.result()
        if not inv.delivered:
            raise asyncio.TimeoutError
        return await asyncio.wait_for(asyncio.shield(inv.done),
                                      max(0.0, inv.deadline - self.clock.monotonic()))

    def _deliver(self, poller: asyncio.Future) -> None:
        inv = self.invocation
        inv.handed.set_result(None)
        inv.started = self.clock.monotonic()  # Duration counts from here, as Lambda's excludes init
        inv.deadline = inv.started + inv.timeout
        deadline_ms = int((self.clock.time() + inv.deadline - self.clock.monotonic()) * 1000)
        poller.set_result(next_response(inv.request_id, inv.payload, deadline_ms,
                                        inv.invoked_arn, _trace_id(self.clock.time()),
                                        inv.client_context))

    def _finish(self, request_id: str, outcome: Outcome) -> bool:
        inv = self.invocation
        if inv is None or inv.request_id != request_id or inv.done.done():
            return False
        inv.done.set_result(outcome)
        return True

    def _platform_error(self, error_type: str, message: str) -> Outcome:
        request_id = self.invocation.request_id if self.invocation else ""
        body = {"errorType": error_type,
                "errorMessage": f"RequestId: {request_id} Error: {message}"}
        return Outcome(json.dumps(body).encode(), True, error_type)

    # ------------------------------------------------------ the Runtime API side

    def next_invocation(self):
        if not self.ready:
            self.ready = True
            self.init_ms = (self.clock.monotonic() - self.spawned) * 1000
        if self.invocation is not None and not self.invocation.delivered:
            poller = asyncio.get_running_loop().create_future()
            self._deliver(poller)
            return poller.result()
        self.poller = asyncio.get_running_loop().create_future()
        return self.poller

    def responded(self, request_id: str, payload: bytes) -> bool:
        return self._finish(request_id, Outcome(payload))

    def failed(self, request_id: str, payload: bytes, error_type: str | None) -> bool:
        if error_type == "MemoryError" or b'"errorType": "MemoryError"' in payload[:200] \
                or b'"errorType":"MemoryError"' in payload[:200]:
            # Out of its address space, the worker's state is suspect: end it, as Lambda
            # ends an environment that runs out of memory.
            self.kill()
            return self._finish(request_id, self._platform_error(
                "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"))
        if error_type == "Function.ResponseSizeTooLarge":
            self.kill()  # awslambdaric exits when its response is refused: never reuse it
        return self._finish(request_id, Outcome(payload, True, None))

    def init_failed(self, payload: bytes, error_type: str | None) -> None:
        if self.invocation is not None:
            self._finish(self.invocation.request_id, Outcome(payload, True, error_type))
        self.kill()

    # --------------------------------------------------------------- process

    async def _settle_output(self) -> None:
        """Take in what the worker wrote during the invocation (all of it is in the pipe
        by the time its response arrives)."""
        self._read_output()

    def _read_output(self) -> None:
        while True:
            try:
                chunk = os.read(self.output_fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._close_output()
                return
            self.output += chunk

    def _close_output(self) -> None:
        if self.output_fd >= 0:
            asyncio.get_running_loop().remove_reader(self.output_fd)
            os.close(self.output_fd)
            self.output_fd = -1

    async def _watch_exit(self) -> None:
        code = await self.process.wait()
        self.alive = False
        _kill_group(self.process.pid)  # what its handler started and left running
        if self.invocation is not None and not self.invocation.done.done():
            self._read_output()
            if code == -signal.SIGKILL and self.output.endswith(b"MemoryError\n"):
                error = self._platform_error("Runtime.OutOfMemory",
                                             "Runtime exited with error: signal: killed")
            else:
                error = self._platform_error("Runtime.ExitError", _exit_reason(code))
            self.invocation.done.set_result(error)
        if self.poller is not None and not self.poller.done():
            self.poller.cancel()
        await self.server.stop()
        self.on_exit(self)

    def kill(self) -> None:
        self.alive = False
        if self.process is not None and self.process.returncode is None:
            self.memory_read_at = 0.0  # the last chance to read it
            self._max_memory_mb()
            _kill_group(self.process.pid)

    def _max_memory_mb(self) -> int:
        """The worker's peak resident memory, read at most once a second (reading /proc
        on every invocation costs more than a warm invocation's own work)."""
        now = self.clock.monotonic()
        if now - self.memory_read_at < 1.0:
            return self.peak_memory_mb
        self.memory_read_at = now
        try:
            with open(f"/proc/{self.process.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        self.peak_memory_mb = int(line.split()[1]) // 1024
        except (OSError, ValueError, AttributeError):
            pass
        return self.peak_memory_mb


def _kill_group(pgid: int) -> None:
    # Linux gives no new process a pid still in use as a process group id, so the
    # group of a worker that has exited is still its own while any member lives.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_leftovers(work_dir: str) -> int:
    """Kill the processes whose environment carries the mark of a control plane with this
    work directory: what its workers started and left behind when it was killed. Returns
    how many."""
    wanted = f"{LEFTOVER_MARK}={work_dir}".encode()
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if wanted not in environ.read().split(b"\0"):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue  # gone, or not ours to read
    return killed


def _exit_reason(code: int) -> str:
    """Lambda's words for a runtime that ended mid-invocation (exiting 0 gives no reason)."""
    if code == 0:
        return "Runtime exited without providing a reason"
    if code < 0:
        return f"Runtime exited with error: signal: {signal.Signals(-code).name.lower()[3:]}"
    return f"Runtime exited with error: exit status {code}"


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
