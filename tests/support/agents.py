"""`nozama agent` subprocesses registered with a test's server."""

from __future__ import annotations

import subprocess
import sys

from .servers import ROOT


class AgentProcess:
    def __init__(self, server, region: str, zone: str, data_dir, cluster: str = "default",
                 runtime: str = "simulated", extra: list[str] = ()):
        self.args = [sys.executable, "-m", "nozama", "agent", "--endpoint", server.endpoint,
                     "--region", region, "--cluster", cluster, "--availability-zone", zone,
                     "--runtime", runtime, "--data-dir", str(data_dir), "--cleanup-wait", "1",
                     "--log-level", "warning", *extra]
        self.process = None

    def start(self) -> "AgentProcess":
        self.process = subprocess.Popen(self.args, cwd=ROOT)
        return self

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
