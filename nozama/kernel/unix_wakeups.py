"""Wake-ups between the worker processes of `nozama server --workers N` on one SQLite
store: unix datagram sockets for the bridge of kernel/wake_bridge.py.

SQLite has no LISTEN/NOTIFY, but the workers of one store all run on one host (SQLite
serves one host), so each binds a datagram socket at <run dir>/wake-<server id>.sock
and a message is sent to every sibling socket found there. Datagrams keep messages
whole, need no connection, and a send never blocks the loop: a sibling whose queue is
full misses a hint (wake-ups are hints; the waiters' timeouts and the caches' expiry
make up for it). A socket file that nobody listens on any more (its worker was killed
with SIGKILL) refuses a send: it is stale, and removed. A worker removes its own socket
when it stops.

Reading is done by the event loop itself (add_reader), so what arrives is handed to
the bridge on the loop, with no thread.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import socket
import tempfile
from pathlib import Path

from nozama.kernel.wake_bridge import Bridge

log = logging.getLogger(__name__)

PREFIX, SUFFIX = "wake-", ".sock"
MAX_PATH = 107          # sun_path is 108 bytes, with its terminating NUL
READ_SIZE = 65536


def socket_path(run_dir: str | Path, server_id: str) -> Path:
    return Path(run_dir) / f"{PREFIX}{server_id}{SUFFIX}"


def path_too_long(run_dir: str | Path) -> bool:
    """Whether a socket in `run_dir` would have a name longer than a unix socket allows."""
    return len(os.fsencode(socket_path(Path(run_dir).absolute(), "0" * 16))) > MAX_PATH


def sockets_dir(run_dir: str | Path) -> Path:
    """Where the workers of `run_dir` bind their sockets: `run_dir` itself, or, when it
    is too deep for a socket's name, a directory of this user's under the temporary
    directory named after it (as HAProxy's admin sockets, lb/haproxy_config.socket_dir)."""
    run_dir = Path(run_dir).absolute()
    if not path_too_long(run_dir):
        return run_dir
    digest = hashlib.sha1(os.fsencode(run_dir)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"nozama-wake-{os.getuid()}" / digest


def _make_private(directory: Path) -> None:
    """Make `directory` (and a parent it needs under the temporary directory) private to
    this user; refuse one that someone else made, since its sockets would be theirs."""
    chain = [directory] if directory.parent.exists() else [directory.parent, directory]
    for each in chain:
        each.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = os.lstat(each)
        if os.path.islink(each) or not os.path.isdir(each) or found.st_uid != os.getuid() \
                or found.st_mode & 0o077:
            raise PermissionError(f"{each} is not a private directory of this user")


class UnixWakeups:
    """The unix-datagram transport of one worker's Bridge."""

    def __init__(self, run_dir: str | Path, bridge: Bridge):
        self.run_dir = sockets_dir(run_dir)
        self.bridge = bridge
        bridge.send = self.send
        self.path = socket_path(self.run_dir, bridge.server_id)
        self.sock: socket.socket | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> "UnixWakeups":
        _make_private(self.run_dir)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            self.path.unlink(missing_ok=True)   # a previous life of this id: never, in practice
            sock.bind(str(self.path))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.loop = loop or asyncio.get_running_loop()
        self.loop.add_reader(sock.fileno(), self._readable)
        return self

    def stop(self, flush: float = 0.0) -> None:
        """Stop hearing the siblings and remove this worker's socket (sends are done at
        once, so there is nothing to flush)."""
        if self.sock is None:
            return
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.sock = None
        self.path.unlink(missing_ok=True)

    def siblings(self) -> list[Path]:
        try:
            names = os.listdir(self.run_dir)
        except FileNotFoundError:
            return []
        return [self.run_dir / name for name in names
                if name.startswith(PREFIX) and name.endswith(SUFFIX)
                and self.run_dir / name != self.path]

    def send(self, payload: str) -> None:
        if self.sock is None:
            return
        data = payload.encode()
        for path in self.siblings():
            try:
                self.sock.sendto(data, str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody reads it: a worker killed without removing its socket.
                self._forget(path)
            except BlockingIOError:
                log.debug("the wake-up queue of %s is full: a hint dropped", path.name)
            except OSError as error:
                if error.errno in (errno.ENOTSOCK, errno.EPROTOTYPE):
                    self._forget(path)   # not a datagram socket: not a sibling's
                else:
                    log.warning("could not wake %s: %s", path.name, error)

    def _forget(self, path: Path) -> None:
        try:
            path.unlink()
            log.info("removed the stale wake-up socket %s", path.name)
        except OSError:
            pass

    def _readable(self) -> None:
        while self.sock is not None:
            try:
                data = self.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            self.bridge.received(data.decode(errors="replace"))
