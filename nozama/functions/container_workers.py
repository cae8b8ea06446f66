"""Container workers: the execution environments of functions with PackageType Image.

A container worker is the function's image run by the control plane's Docker Engine,
as Lambda runs an image: the image's own ENTRYPOINT and CMD (or ImageConfig's
overrides), which on AWS's base-image conventions start the runtime interface client,
talking to the worker's Runtime API endpoint (functions/runtime_api.py, the same
server a process worker has). The container shares the host's network
(`--network host`), so AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port> reaches it, as it does
for a process worker.

Lambda's limits are the container's: MemorySize is its memory cgroup (no swap), and an
out-of-memory kill by the kernel is Runtime.OutOfMemory; Timeout kills it. What it
writes goes to the function's log stream, as a process worker's output does.

The image is pulled from Nozama's registry (the freshest `nozama registry`) with a
password the control plane mints for the account's root, and run by digest, so a
published version runs exactly the image it pinned. Every container carries a label
naming the control plane's work directory: a control plane starting on the same data
removes what an earlier one left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from datetime import timedelta
from typing import Callable

from nozama.functions import images
from nozama.functions.workers import Outcome, VersionSpec, Worker, _exit_reason
from nozama.kernel import errors
from nozama.kernel.clock import Clock
from nozama.model import ecr_authorization, iam
from nozama.model.ecr_references import EcrReference
from nozama.store import Store, registries, server_keys

log = logging.getLogger(__name__)

LABEL = "nozama.function-worker"          # the control plane's work directory
FUNCTION_LABEL = "nozama.function"        # the function and version, for people
MEMORY_CGROUP = "/sys/fs/cgroup/memory/docker/{id}/memory.max_usage_in_bytes"
PASSWORD_LIFETIME = timedelta(minutes=30)
# What a process worker gets that an image brings itself (its PATH, locale, handler
# and runtime), or that means nothing inside a container.
NOT_FOR_CONTAINERS = ("PATH", "LANG", "_HANDLER", "AWS_EXECUTION_ENV", "_NOZAMA_WORKERS_OF",
                      "AWS_CA_BUNDLE")
CA_BUNDLE = "/etc/nozama/ca-bundle.pem"   # where a container finds AWS_CA_BUNDLE
OUTPUT_QUIET = 0.01   # seconds without output after which an invocation's output is taken
OUTPUT_WAIT = 0.25    # the longest an invocation waits for its output to arrive


def _cannot_run(reason: str) -> errors.ServiceError:
    return errors.lambda_.ResourceConflictException(
        f"The function cannot start: {reason}")


class ContainerEngine:
    """The control plane's Docker Engine, as image functions use it: connected on first
    use (a control plane without one runs zip functions only), after removing what an
    earlier control plane on the same data left running."""

    def __init__(self, store: Store, clock: Clock, work_dir: str,
                 connect: Callable | None = None):
        self.store = store
        self.clock = clock
        self.work_dir = work_dir
        self._connect = connect
        self._client = None
        self._lock = threading.Lock()

    def client(self):
        with self._lock:
            if self._client is None:
                try:
                    import docker
                    client = (self._connect or docker.from_env)()
                    client.ping()
                except Exception as error:  # no SDK, no socket, no daemon: all the same here
                    raise _cannot_run(
                        "functions of PackageType Image run in containers, and the control "
                        f"plane has no Docker Engine ({error}).") from None
                self._remove_leftovers(client)
                self._client = client
            return self._client

    def remove_leftovers(self) -> int:
        """Remove the containers of an earlier control plane on this data (if there is an
        engine); how many."""
        try:
            client = self.client()
        except errors.ServiceError:
            return 0
        return self._remove_leftovers(client)

    def stop(self) -> None:
        """Remove this control plane's containers (it is stopping)."""
        if self._client is not None:
            self._remove_leftovers(self._client, quiet=True)

    def _remove_leftovers(self, client, quiet: bool = False) -> int:
        removed = 0
        for container in client.containers.list(all=True,
                                                filters={"label": f"{LABEL}={self.work_dir}"}):
            try:
                container.remove(force=True)
                removed += 1
            except Exception:
                pass  # gone already
        if removed and not quiet:
            log.warning("removed %d function containers an earlier control plane on this "
                        "data left", removed)
        return removed

    def image_for(self, image: str) -> str:
        """The reference of `image` in the engine, pulled from Nozama's registry first
        unless the engine has that digest already. A reference that is not an ECR URI is
        taken as an image the engine holds (the tests of the worker itself)."""
        client = self.client()
        reference = images.parse(image)
        if reference is None or reference.digest is None:
            return image
        with self.store.read() as conn:
            registry = registries.current(conn, self.clock.now())
        if registry is None:
            raise _cannot_run(f"no Nozama registry is running to pull {image} from "
                              "(start one with `nozama registry`).")
        local = reference.pull_reference(registry.address)
        try:
            client.images.get(local)
            return local  # a digest names the same bytes wherever they came from
        except Exception:
            pass
        try:
            client.images.pull(local, auth_config=self._auth(reference))
        except Exception as error:
            raise _cannot_run(f"pulling {image} failed: {_explanation(error)}") from None
        return local

    def _auth(self, reference: EcrReference) -> dict:
        with self.store.write() as conn:
            key = server_keys.key(conn, ecr_authorization.KEY_NAME, lambda: os.urandom(32))
        password = ecr_authorization.mint_password(key, ecr_authorization.Authorization(
            ecr_authorization.SERVICE_KEY_ID, iam.root_arn(reference.account),
            reference.region, self.clock.now() + PASSWORD_LIFETIME))
        return {"username": ecr_authorization.USER, "password": password}


def _in_thread(function: Callable, name: str) -> asyncio.Future:
    """`function()` in a thread of its own, as a future of the running loop. Not the
    loop's default executor: a container's wait lasts as long as the container, and a
    few warm workers would fill that small pool."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = function(), None
        except BaseException as raised:
            result, error = None, raised
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop has closed
    threading.Thread(target=run, daemon=True, name=name).start()
    return future


def _explanation(error: Exception) -> str:
    return str(getattr(error, "explanation", None) or error)


class ContainerWorker(Worker):
    """A Worker whose runtime is the function's image in a container."""

    def __init__(self, spec: VersionSpec, environment: dict[str, str],
                 on_exit: Callable[[Worker], None], clock: Clock, engine: ContainerEngine):
        super().__init__(spec, environment, on_exit, clock)
        self.engine = engine
        self.container = None
        self.removed = False
        self.last_output = 0.0
        self.output_ended = False

    async def start(self) -> None:
        self.spawned = self.clock.monotonic()
        await self.server.start("127.0.0.1", 0)
        loop = asyncio.get_running_loop()
        try:
            self.container = await _in_thread(self._run, "function-container-start")
        except BaseException:
            await self.server.stop()
            raise
        threading.Thread(target=self._follow_output, args=(loop, self.container),
                         daemon=True, name="function-container-output").start()
        asyncio.ensure_future(self._watch_exit())

    def _run(self):
        spec = self.spec
        client = self.engine.client()
        reference = self.engine.image_for(spec.image)
        env = {k: v for k, v in self.environment.items() if k not in NOT_FOR_CONTAINERS}
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.server.port}"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = self.log_stream
        volumes = {}
        bundle = self.environment.get("AWS_CA_BUNDLE")
        if bundle:
            volumes[bundle] = {"bind": CA_BUNDLE, "mode": "ro"}
            env["AWS_CA_BUNDLE"] = CA_BUNDLE
        try:
            return client.containers.run(
                reference, command=list(spec.command) or None,
                entrypoint=list(spec.entry_point) or None,
                working_dir=spec.working_directory or None, environment=env,
                network_mode="host", mem_limit=f"{spec.memory_mb}m",
                memswap_limit=f"{spec.memory_mb}m", volumes=volumes or None,
                labels={LABEL: self.engine.work_dir,
                        FUNCTION_LABEL: f"{spec.function_arn}:{spec.version}"},
                detach=True)
        except Exception as error:
            raise _cannot_run(f"starting a container of {spec.image} failed: "
                              f"{_explanation(error)}") from None

    # ---------------------------------------------------------------- output

    def _follow_output(self, loop: asyncio.AbstractEventLoop, container) -> None:
        """Runs in a thread: the container's stdout and stderr, into the worker's output."""
        try:
            for chunk in container.attach(stdout=True, stderr=True, stream=True, logs=True):
                loop.call_soon_threadsafe(self._take_output, chunk)
        except Exception:
            pass  # the container is gone
        finally:
            try:
                loop.call_soon_threadsafe(self._output_over)
            except RuntimeError:
                pass  # the loop has closed: nobody waits for it

    def _take_output(self, chunk: bytes) -> None:
        self.output += chunk
        self.last_output = self.clock.monotonic()

    def _output_over(self) -> None:
        self.output_ended = True

    def _read_output(self) -> None:
        pass  # the output thread delivers it

    async def _settle_output(self) -> None:
        """What the container wrote travels through the engine and can arrive after its
        response: wait until it has been quiet a moment (or has ended)."""
        deadline = self.clock.monotonic() + OUTPUT_WAIT
        await asyncio.sleep(OUTPUT_QUIET)
        while not self.output_ended and self.clock.monotonic() < deadline \
                and self.clock.monotonic() - self.last_output < OUTPUT_QUIET:
            await asyncio.sleep(OUTPUT_QUIET)

    # ------------------------------------------------------------------ exit

    async def _watch_exit(self) -> None:
        code, oom = await _in_thread(self._wait, "function-container-wait")
        self.alive = False
        if self.invocation is not None and not self.invocation.done.done():
            await self._settle_output()
            if self.invocation is not None and not self.invocation.done.done():
                self.invocation.done.set_result(self._exit_outcome(code, oom))
        if self.poller is not None and not self.poller.done():
            self.poller.cancel()
        await self.server.stop()
        threading.Thread(target=self._remove, daemon=True, name="function-container-rm").start()
        self.on_exit(self)

    def _exit_outcome(self, code: int, oom: bool) -> Outcome:
        if oom or (code == 137 and not self.removed):
            return self._platform_error("Runtime.OutOfMemory",
                                        "Runtime exited with error: signal: killed")
        # A container killed by signal N exits 128 + N.
        return self._platform_error("Runtime.ExitError",
                                    _exit_reason(-(code - 128) if 128 < code < 160 else code))

    def _wait(self) -> tuple[int, bool]:
        try:
            code = int(self.container.wait().get("StatusCode", -1))
        except Exception:
            return 137, False  # removed under it: killed
        try:
            self.container.reload()
            oom = bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:
            oom = False
        return code, oom

    def kill(self) -> None:
        self.alive = False
        if self.container is not None and not self.removed:
            self.memory_read_at = 0.0  # the last chance to read it
            self._max_memory_mb()
            self.removed = True
            threading.Thread(target=self._remove, daemon=True,
                             name="function-container-kill").start()

    def _remove(self) -> None:
        self.removed = True
        try:
            self.container.remove(force=True)
        except Exception:
            pass  # gone already

    def _max_memory_mb(self) -> int:
        """The container's peak memory (its cgroup's), read at most once a second."""
        now = self.clock.monotonic()
        if self.container is None or now - self.memory_read_at < 1.0:
            return self.peak_memory_mb
        self.memory_read_at = now
        try:
            with open(MEMORY_CGROUP.format(id=self.container.id), "rb") as usage:
                self.peak_memory_mb = int(usage.read()) >> 20
        except (OSError, ValueError):
            pass
        return self.peak_memory_mb
