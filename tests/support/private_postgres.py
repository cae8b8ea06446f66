"""A PostgreSQL instance of a test's own, which the test may stop and start.

The shared instance (NOZAMA_TEST_POSTGRES_URL) serves every other test and must never be
stopped, so a test of database outages runs initdb into a temporary directory with the
server binaries of Debian's postgresql package and starts it on a free port. initdb
refuses to run as root: as root, the instance runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .servers import free_port


def binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parent.parent.name))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """initdb'd into its own temporary directory; `url` names its `postgres` database."""

    def __init__(self):
        self.bin = binaries()
        if self.bin is None:
            if os.environ.get("CI"):
                pytest.fail("no PostgreSQL server binaries in /usr/lib/postgresql")
            pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql")
        # Not pytest's tmp_path: its directories are private to root, and the server
        # may run as another user.
        self.root = Path(tempfile.mkdtemp(prefix="nozama-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://nozama@127.0.0.1:{self.port}/postgres"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "nozama", "--auth=trust",
                  "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 " \
                  f"-c unix_socket_directories={self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: as a crash, every connection cut without a goodbye."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Partition:
    """Packets to and from one local port dropped (iptables, as root), as a network
    partition between a server and its database: nothing answers, nothing is refused."""

    def __init__(self, port: int):
        self.rules = [["OUTPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"],
                      ["OUTPUT", "-p", "tcp", "--sport", str(port), "-j", "DROP"]]
        self.active = False

    @staticmethod
    def possible() -> bool:
        return os.geteuid() == 0 and shutil.which("iptables") is not None

    def start(self) -> None:
        for rule in self.rules:
            subprocess.run(["iptables", "-I", *rule], check=True, timeout=30)
        self.active = True

    def heal(self) -> None:
        if self.active:
            for rule in self.rules:
                subprocess.run(["iptables", "-D", *rule], check=True, timeout=30)
            self.active = False
