"""Several `nozama server` processes on one store, as a deployment of more than one
server runs: one new PostgreSQL schema and one data dir for all of them (the sealing key
and the administrator's key are the store's, so they share it)."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .servers import NozamaServer, store_args


class Peers:
    """The servers started on one store, each logging to `<name>.log` in tmp_path."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.store_args = store_args("postgres", tmp_path)
        self.servers: list[NozamaServer] = []

    def start(self, name: str) -> NozamaServer:
        server = NozamaServer(self.store_args, self.tmp_path / f"{name}.log").start()
        self.servers.append(server)
        return server

    def stop(self, kill: bool = False) -> None:
        """Stop the servers still running, newest first, by SIGTERM or (kill) SIGKILL.
        A server a test froze (SIGSTOP) is continued first, or it could not exit."""
        for server in reversed(self.servers):
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)
                if kill:
                    server.kill()
                else:
                    server.stop()


@contextmanager
def peers(tmp_path: Path, *names: str, kill: bool = False) -> Iterator[Peers]:
    """Servers named `names` started in order on one new store; all stopped at the end
    (those started later by Peers.start too)."""
    group = Peers(tmp_path)
    try:
        for name in names:
            group.start(name)
        yield group
    finally:
        group.stop(kill)
