"""Each server's own work directory for functions, and which ones are leftovers.

Servers on one store and one host share a root (cli/server.py functions_dir); each
unpacks code and marks its workers (processes and containers) with its own directory,
`<root>/<server id>`. At start a server removes what is left of the servers that are
gone: its own directory (a new server id is never reused, but a test may pass one), the
root itself (what servers before per-server directories marked), and every directory
of a server with no fresh heartbeat in the servers table, or one whose process on this
host has exited. A live server's workers are never touched.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Callable

from nozama.kernel.clock import Clock
from nozama.store import Store
from nozama.store import servers as server_store

log = logging.getLogger(__name__)


class WorkDirs:
    def __init__(self, store: Store, clock: Clock, root: Path, server_id: str):
        self.store, self.clock = store, clock
        self.root = Path(root)
        self.server_id = server_id
        self.own = self.root / server_id

    def live_ids(self) -> set[str]:
        """The servers whose workers must be left alone: live in the table, and, on this
        host, whose process still runs (one killed a moment ago still looks live)."""
        with self.store.read() as conn:
            rows = server_store.live(conn, self.clock.now())
        host = socket.gethostname()
        return {row.id for row in rows
                if row.id != self.server_id and not (row.host == host and _gone(row.pid))}

    def leftover_test(self) -> Callable[[str], bool]:
        """Whether a worker marked with a directory belongs to no live server (as of now:
        the servers table is read once)."""
        live = self.live_ids()

        def is_leftover(marked: str) -> bool:
            path = Path(marked)
            if path == self.root or path == self.own:
                return True
            return path.parent == self.root and path.name not in live
        return is_leftover

    def leftovers(self) -> list[str]:
        """The directories under the root (and the root) whose workers are leftovers."""
        live = self.live_ids()
        found = [str(self.root), str(self.own)]
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            entries = []
        found += [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)
                  and entry.name not in live and entry.path != str(self.own)]
        return found

    def remove(self, directory: str) -> None:
        """Drop a gone server's directory (its unpacked code); the root stays."""
        if Path(directory) != self.root:
            shutil.rmtree(directory, ignore_errors=True)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
