"""The HAProxy process a `nozama lb` drives: started, adopted, reloaded, stopped.

HAProxy runs in master-worker mode, in a session of its own, so that it
outlives the controller that started it (as containers outlive their agent):
a `nozama lb` killed at any moment leaves the traffic flowing, and the next one
finds the running master through its pid file and master socket and adopts it
instead of starting a second. A reload is the master's: it starts new workers
on the new configuration and hands them the listening sockets, while the old
ones finish their requests. A configuration is checked (`haproxy -c`) before it
is ever put in place; if a reload still fails, the previous workers keep
serving and the reason is in HAProxy's own log (haproxy.log in the run dir).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from nozama.lb.haproxy_config import socket_dir

log = logging.getLogger(__name__)

HAPROXY = os.environ.get("NOZAMA_HAPROXY", "haproxy")
# Within the 4 s a Nozama process has to stop (kernel/shutdown.py).
STOP_SECONDS = 3.0


def executable() -> str | None:
    return shutil.which(HAPROXY)


class Master:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.config = run_dir / "haproxy.cfg"
        self.sockets = Path(socket_dir(run_dir))
        self.socket = self.sockets / "master.sock"
        self.runtime_socket = self.sockets / "runtime.sock"
        self.pid_file = run_dir / "haproxy.pid"
        self.log_file = run_dir / "haproxy.log"
        self.child: subprocess.Popen | None = None
        self.pid: int | None = None

    # ------------------------------------------------------------ checking

    def check(self, config: Path) -> str | None:
        """None when HAProxy takes the configuration; its complaint otherwise."""
        result = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True,
                                text=True, timeout=30)
        if result.returncode == 0:
            return None
        lines = [line for line in (result.stdout + result.stderr).splitlines()
                 if "ALERT" in line or "error" in line.lower()]
        return "\n".join(lines[-10:]) or f"haproxy -c exited with {result.returncode}"

    # ------------------------------------------------------------ the process

    def prepare(self) -> None:
        """Make the directory the admin sockets live in, when it is not the run directory:
        private to this user, and refused if someone else made it first."""
        if self.sockets == self.run_dir:
            return
        for directory in (self.sockets.parent, self.sockets):
            directory.mkdir(mode=0o700, exist_ok=True)
            found = os.lstat(directory)
            if not os.path.isdir(directory) or os.path.islink(directory) or \
                    found.st_uid != os.getuid() or found.st_mode & 0o077:
                raise PermissionError(f"{directory} is not a private directory of this user")

    def start(self) -> None:
        """Start HAProxy on the configuration in place."""
        self.prepare()
        self.socket.unlink(missing_ok=True)
        with open(self.log_file, "ab") as out:
            self.child = subprocess.Popen(
                [HAPROXY, "-W", "-S", f"{self.socket},mode,600", "-f", str(self.config),
                 "-p", str(self.pid_file)], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True)   # not in the controller's process group
        self.pid = self.child.pid

    def adopt(self) -> bool:
        """Take over the HAProxy an earlier controller left running, if there is one."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        if not _is_our_haproxy(pid, self.config):
            return False
        self.pid, self.child = pid, None
        return True

    def alive(self) -> bool:
        if self.child is not None:
            return self.child.poll() is None
        return self.pid is not None and _is_our_haproxy(self.pid, self.config)

    async def reload(self) -> str | None:
        """Reload the configuration in place: None once new workers run it (and the old
        ones have been told to finish), or why not."""
        before = await self.processes()
        if before is None:
            return "the HAProxy master does not answer"
        os.kill(self.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = await self.processes()
            if now is None:
                continue   # the master is re-executing itself
            if now.failed > before.failed:
                return f"HAProxy refused the new configuration (see {self.log_file})"
            if now.reloads > before.reloads and now.worker not in (None, before.worker):
                return None
        return "HAProxy did not finish reloading within 10 s"

    async def current_worker(self) -> int | None:
        found = await self.processes()
        return found.worker if found is not None else None

    async def processes(self) -> "Processes | None":
        """What the master CLI's `show proc` says, or None if the master does not answer."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.socket)), 2)
        except (OSError, asyncio.TimeoutError):
            return None
        try:
            writer.write(b"show proc\n")
            writer.write_eof()
            text = (await asyncio.wait_for(reader.read(), 2)).decode()
        except (OSError, asyncio.TimeoutError):
            return None
        finally:
            writer.close()
        found, section = Processes(), ""
        for line in text.splitlines():
            parts = line.split()
            if line.startswith("#"):
                section = line
            elif len(parts) >= 5 and parts[1] == "master" and parts[3] == "[failed:":
                found.reloads, found.failed = int(parts[2]), int(parts[4].rstrip("]"))
            elif len(parts) >= 2 and parts[1] == "worker" and section == "# workers":
                found.worker = int(parts[0])
        return found

    def stop(self) -> None:
        """Stop gracefully: workers stop listening, finish their requests, and leave; what
        still runs after STOP_SECONDS is stopped at once."""
        if not self.alive():
            return
        for sig, seconds in ((signal.SIGUSR1, STOP_SECONDS), (signal.SIGTERM, 0.3),
                             (signal.SIGKILL, 0.3)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and self.alive():
                time.sleep(0.05)
            if not self.alive():
                break
        self.pid_file.unlink(missing_ok=True)

    def reap(self) -> int | None:
        """The exit status of a child HAProxy that has ended."""
        return self.child.poll() if self.child is not None else None


@dataclass
class Processes:
    reloads: int = 0
    failed: int = 0
    worker: int | None = None   # the current worker's pid


def _is_our_haproxy(pid: int, config: Path) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie is not alive; another program reusing the pid is not ours.
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and any(b"haproxy" in part for part in command[:1]) and \
        str(config).encode() in command
