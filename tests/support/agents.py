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
                     "--log-level", "warning",
                     "--credentials-file", str(server.agent_credentials_file()), *extra]
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


class AgentPool:
    """Agents for one region of one server, spread over zones a, b, c; `pool(count,
    cluster=..., runtime=...)` starts more, `stop()` stops them all."""

    def __init__(self, server, region: str, data_dir):
        self.server, self.region, self.data_dir = server, region, data_dir
        self.started: list[AgentProcess] = []

    def __call__(self, count: int = 1, cluster: str = "default", **kwargs) -> list[AgentProcess]:
        for _ in range(count):
            n = len(self.started)
            self.started.append(AgentProcess(self.server, self.region,
                                             f"{self.region}{'abc'[n % 3]}",
                                             self.data_dir / f"agent-{n}", cluster,
                                             **kwargs).start())
        return self.started[-count:]

    def stop(self) -> None:
        for agent in self.started:
            agent.stop()
