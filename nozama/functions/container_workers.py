"""Container workers: the execution environments of functions with PackageType Image.

A container worker is the function's image run by the control plane's Docker Engine,
as Lambda runs an image: the image's own ENTRYPOINT and CMD (or ImageConfig's
overrides), which on AWS's base-image conventions start the runtime interface client,
talking to the worker's Runtime API endpoint (functions/runtime_api.py, the same
server a process worker has). The container shares the host's network
(`--network host`), so AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port> reaches it, as it does
for a process worker.

Lambda's limits are the container's: MemorySize is its memory cgroup (no swap), and an
out-of-memory kill by the kernel is Runtime.OutOfMemory; Timeout kills it.

What it writes goes to the function's log stream, as a process worker's output does, and
through the same kind of channel: a FIFO in the worker's directory on the host, bind-mounted
into the container, that the control plane reads as it reads a process worker's pipe.
Everything the function wrote before posting its response is in the FIFO when the response
arrives, so an invocation's output is complete without waiting (Docker's attach stream has
no such ordering with the Runtime API). Docker cannot point PID 1's output at a file, so
the container starts the image's command through the host's static busybox (Debian's
busybox-static, mounted read-only at /nozama/busybox): a shell that redirects to the FIFO
and execs the image's ENTRYPOINT and CMD, each replaced by ImageConfig's EntryPoint and
Command when given, as Lambda replaces them.

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
import shutil
import struct
import tempfile
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
# The host's statically linked busybox (Debian's busybox-static) runs in every container.
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
BUSYBOX = "/nozama/busybox"               # where a container finds it
OUTPUT = "/nozama/output"                 # the worker's FIFO, in the container
OUTPUTS = "_containers"                   # the workers' directories, in the work directory
# Runs as `sh -c LAUNCH sh ENTRYPOINT... CMD...`: output to the FIFO, then the image's
# command. A name without a slash is looked up in PATH here, as Docker would: busybox's
# shell would otherwise run its own applet of that name (sh, env, cat, ...) instead.
LAUNCH = """\
exec >/nozama/output 2>&1
program=$1
shift
case $program in
*/*) ;;
*)  set -f
    found=
    IFS=:
    for dir in $PATH; do
        if [ -f "$dir/$program" ] && [ -x "$dir/$program" ]; then
            found=$dir/$program
            break
        fi
    done
    unset IFS
    if [ -z "$found" ]; then
        echo "exec: $program: executable file not found in \\$PATH" >&2
        exit 127
    fi
    program=$found;;
esac
exec "$program" "$@"
"""


def _cannot_run(reason: str) -> errors.ServiceError:
    return errors.lambda_.ResourceConflictException(
        f"The function cannot start: {reason}")


def _is_static(path: str) -> bool:
    """Whether `path` is a 64-bit little-endian ELF executable without a program
    interpreter: one that runs in any container, whatever libraries the image has."""
    try:
        with open(path, "rb") as binary:
            header = binary.read(64)
            if len(header) < 64 or header[:6] != b"\x7fELF\x02\x01":
                return False
            (offset,) = struct.unpack_from("<Q", header, 32)
            size, count = struct.unpack_from("<HH", header, 54)
            binary.seek(offset)
            table = binary.read(size * count)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, size * n)[0] != 3  # PT_INTERP
               for n in range(count)) and len(table) == size * count


class ContainerEngine:
    """The control plane's Docker Engine, as image functions use it: connected on first
    use (a control plane without one runs zip functions only), after removing what an
    earlier control plane on the same data left running."""

    def __init__(self, store: Store, clock: Clock, work_dir: str,
                 connect: Callable | None = None, busybox: str | None = None,
                 leftovers: Callable[[], Callable[[str], bool]] | None = None):
        self.store = store
        self.clock = clock
        self.work_dir = work_dir
        # Which labels' containers are leftovers (functions/work_dirs.py: this server's
        # and those of servers that are gone); by default, this work dir's only.
        self._leftovers = leftovers or (lambda: lambda marked: marked == work_dir)
        self.outputs = os.path.join(work_dir, OUTPUTS)
        self._connect = connect
        # NOZAMA_BUSYBOX names another one (or, in the tests, one that is not there).
        self._busybox = busybox or os.environ.get("NOZAMA_BUSYBOX")
        self._client = None
        self._lock = threading.Lock()

    def busybox(self) -> str:
        """The host's static busybox, which every container starts its command with."""
        candidates = (self._busybox,) if self._busybox else BUSYBOX_CANDIDATES
        for candidate in candidates:
            if _is_static(candidate):
                return candidate
        raise _cannot_run(
            "functions of PackageType Image start in their container through a statically "
            f"linked busybox, and the control plane has none at {' or '.join(candidates)} "
            "(install Debian's package busybox-static).")

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
                # Their workers' directories too; no worker of this engine has one yet.
                shutil.rmtree(self.outputs, ignore_errors=True)
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
            self._remove_leftovers(self._client, quiet=True, own_only=True)

    def _remove_leftovers(self, client, quiet: bool = False, own_only: bool = False) -> int:
        removed = 0
        if own_only:
            wanted, label = (lambda marked: True), f"{LABEL}={self.work_dir}"
        else:
            wanted, label = self._leftovers(), LABEL
        # sparse: no inspect of each container, which one removed meanwhile would fail.
        for container in client.containers.list(all=True, sparse=True,
                                                filters={"label": label}):
            # A sparse container's labels are in its list entry, not under Config.
            if not wanted((container.attrs.get("Labels") or {}).get(LABEL, "")):
                continue  # a live server's, or another store's
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
        self.output_dir = ""          # the worker's directory on the host: its FIFO
        self.output_writer = -1       # held open, so that the FIFO never reads as ended

    async def start(self) -> None:
        self.spawned = self.clock.monotonic()
        await self.server.start("127.0.0.1", 0)
        try:
            self.container = await _in_thread(self._run, "function-container-start")
        except BaseException:
            self._close_output()
            await self.server.stop()
            raise
        asyncio.get_running_loop().add_reader(self.output_fd, self._read_output)
        asyncio.ensure_future(self._watch_exit())

    def _run(self):
        spec = self.spec
        client = self.engine.client()
        busybox = self.engine.busybox()
        reference = self.engine.image_for(spec.image)
        try:
            config = client.images.get(reference).attrs.get("Config") or {}
        except Exception as error:
            raise _cannot_run(f"inspecting {spec.image} failed: {_explanation(error)}") from None
        # ImageConfig's EntryPoint replaces the image's ENTRYPOINT, its Command the CMD.
        program = list(spec.entry_point or config.get("Entrypoint") or ()) + \
            list(spec.command or config.get("Cmd") or ())
        if not program:
            raise _cannot_run(f"the image {spec.image} has no ENTRYPOINT or CMD, and the "
                              "function's ImageConfig gives no EntryPoint or Command.")
        env = {k: v for k, v in self.environment.items() if k not in NOT_FOR_CONTAINERS}
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.server.port}"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = self.log_stream
        volumes = {busybox: {"bind": BUSYBOX, "mode": "ro"},
                   self._open_output(): {"bind": OUTPUT, "mode": "rw"}}
        bundle = self.environment.get("AWS_CA_BUNDLE")
        if bundle:
            volumes[bundle] = {"bind": CA_BUNDLE, "mode": "ro"}
            env["AWS_CA_BUNDLE"] = CA_BUNDLE
        try:
            return client.containers.run(
                reference, entrypoint=[BUSYBOX, "sh", "-c", LAUNCH, "sh"], command=program,
                working_dir=spec.working_directory or None, environment=env,
                network_mode="host", mem_limit=f"{spec.memory_mb}m",
                memswap_limit=f"{spec.memory_mb}m", volumes=volumes,
                labels={LABEL: self.engine.work_dir,
                        FUNCTION_LABEL: f"{spec.function_arn}:{spec.version}"},
                detach=True)
        except Exception as error:
            raise _cannot_run(f"starting a container of {spec.image} failed: "
                              f"{_explanation(error)}") from None

    # ---------------------------------------------------------------- output

    def _open_output(self) -> str:
        """The worker's FIFO, made in a directory of its own and opened (the read end
        non-blocking, for the event loop); its path on the host."""
        os.makedirs(self.engine.outputs, exist_ok=True)
        self.output_dir = tempfile.mkdtemp(prefix="worker-", dir=self.engine.outputs)
        path = os.path.join(self.output_dir, "output")
        os.mkfifo(path, 0o600)
        os.chmod(path, 0o666)  # whatever USER the image runs as writes to it
        # A FIFO without a writer reads as ended: open ours before the container opens its.
        self.output_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.output_writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        return path

    def _close_output(self) -> None:
        super()._close_output()
        if self.output_writer >= 0:
            os.close(self.output_writer)
            self.output_writer = -1
        if self.output_dir:
            shutil.rmtree(self.output_dir, ignore_errors=True)
            self.output_dir = ""

    # ------------------------------------------------------------------ exit

    async def _watch_exit(self) -> None:
        code, oom = await _in_thread(self._wait, "function-container-wait")
        self.alive = False
        self._read_output()  # all it wrote is in the FIFO now
        if self.invocation is not None and not self.invocation.done.done():
            self.invocation.done.set_result(self._exit_outcome(code, oom))
        self._close_output()
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
