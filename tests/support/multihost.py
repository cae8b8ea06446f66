"""A Nozama cluster over the test hosts of netns.py: the control plane on `control`, the
load balancers' data plane on `lb` (with the pool and the DNS responder), a simulated
agent on each of a1 a2 b1 b2 c1 c2, and the test itself on `client`.

The test thread runs on the client host (`Network.inside`), so its API calls and its
traffic cross the same links as a user's would, and a zone outage cuts them as it would.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config
import requests
from dnslib import DNSRecord, QTYPE

from .netns import Network
from .servers import ROOT

PORT = 4566
DNS_PORT = 53
ZONES = "abc"


class Cluster:
    def __init__(self, network: Network, tmp_path: Path, region: str = "us-east-1"):
        self.network, self.tmp, self.region = network, tmp_path, region
        self.control = network.hosts["control"].address
        self.lb_host = network.hosts["lb"].address
        self.endpoint = f"http://{self.control}:{PORT}"
        self.data_dir = tmp_path / "store"
        self.server: subprocess.Popen | None = None
        self.dataplane: subprocess.Popen | None = None
        self.agents: dict[str, subprocess.Popen] = {}

    # --- processes ---------------------------------------------------------------

    def _nozama(self, host: str, name: str, *args: str) -> subprocess.Popen:
        return self.network.spawn(host, [sys.executable, "-m", "nozama", *args],
                                  self.tmp / f"{name}.log", cwd=ROOT,
                                  env={"NOZAMA_LB_HOSTS_FILE": ""})

    def start_control(self) -> None:
        self.server = self._nozama("control", "server", "server", "--host", self.control,
                                   "--port", str(PORT), "--data-dir", str(self.data_dir))
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.endpoint}/_nozama/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nozama server did not start: " +
                                   (self.tmp / "server.log").read_text()[-2000:])
            time.sleep(0.1)

    def kill_control(self) -> None:
        self.server.kill()
        self.server.wait()

    def start_dataplane(self) -> None:
        self.dataplane = self._nozama("lb", "lb", "lb", "--data-dir", str(self.data_dir),
                                      "--address-pool", self.network.pool,
                                      "--dns", f"{self.lb_host}:{DNS_PORT}")

    def start_agent(self, host: str) -> subprocess.Popen:
        zone = self.network.hosts[host].zone
        self.agents[host] = self._nozama(
            host, f"agent-{host}", "agent", "--endpoint", self.endpoint,
            "--availability-zone", f"{self.region}{zone}", "--runtime", "simulated",
            "--data-dir", str(self.tmp / f"agent-{host}"), "--cleanup-wait", "1")
        return self.agents[host]

    def kill_agent(self, host: str) -> None:
        self.agents[host].kill()
        self.agents[host].wait()

    def start(self, agent_hosts=("a1", "a2", "b1", "b2", "c1", "c2")) -> "Cluster":
        self.start_control()
        self.start_dataplane()
        for host in agent_hosts:
            self.start_agent(host)
        return self

    # --- from the client host ------------------------------------------------------

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id="AKIDNOZAMATEST", aws_secret_access_key="secret",
                            config=botocore.config.Config(retries={"max_attempts": 2},
                                                          read_timeout=30))

    def resolve(self, name: str) -> str | None:
        """`name`'s address as the data plane's DNS responder answers it."""
        answer = DNSRecord.parse(DNSRecord.question(name).send(self.lb_host, DNS_PORT,
                                                               timeout=2))
        found = [str(r.rdata) for r in answer.rr if r.rtype == QTYPE.A]
        return found[0] if found else None
