"""The API over HTTPS: a certificate from Nozama's certificate authority (`--tls`) or one
given (`--tls-cert/--tls-key`); the SDKs trust it through AWS_CA_BUNDLE (a client that does
not is refused the connection), and agents register over it with --ca-bundle."""

from __future__ import annotations

import subprocess
import sys

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import SSLError

from support import certificates
from support.agents import AgentProcess
from support.servers import ROOT, admin_credentials, agent_credentials_text, free_port
from support.waiting import wait_for

from integration.test_tasks_simulated import connected_instances


class HttpsServer:
    def __init__(self, tmp_path, *tls: str, name: str = "127.0.0.1"):
        self.port = free_port()
        self.endpoint = f"https://{name}:{self.port}"
        self.data = tmp_path / "data"
        self.log = tmp_path / "server.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nozama", "server", "--port", str(self.port), "--data-dir",
             str(self.data), *tls], stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
            cwd=ROOT)

    def wait(self, ca_bundle) -> "HttpsServer":
        self.ca_bundle = ca_bundle
        def up() -> bool:
            try:
                return requests.get(f"{self.endpoint}/_nozama/health", verify=str(ca_bundle),
                                    timeout=1).ok
            except requests.RequestException:
                assert self.process.poll() is None, self.log.read_text()
                return False
        wait_for(up, timeout=30)
        return self

    @property
    def credentials(self) -> tuple[str, str]:
        return admin_credentials(self.data)

    def agent_credentials_file(self):
        path = self.data / "test-agent-credentials"
        if not path.exists():
            path.write_text(agent_credentials_text(self.client("iam", self.ca_bundle)))
        return path

    def client(self, service: str, ca_bundle):
        key, secret = self.credentials
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            verify=str(ca_bundle) if ca_bundle else True,
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def root_of(data_dir) -> str:
    """`nozama ca --data-dir`: the root, read from the store (no trust needed yet)."""
    def read() -> str | None:
        done = subprocess.run([sys.executable, "-m", "nozama", "ca", "--data-dir",
                               str(data_dir)], capture_output=True, text=True, cwd=ROOT)
        return done.stdout if done.returncode == 0 else None
    return wait_for(read, timeout=30)


def test_the_api_and_the_agents_channel_over_https_from_nozama_s_authority(tmp_path):
    server = HttpsServer(tmp_path, "--tls")
    try:
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text(root_of(server.data))
        server.wait(ca_file)
        ecs = server.client("ecs", ca_file)
        assert ecs.list_clusters()["clusterArns"] == []
        # A client that does not trust the root is refused before any request is made.
        with pytest.raises(SSLError):
            server.client("ecs", None).list_clusters()
        # Plain HTTP on the port gets no answer from the API.
        with pytest.raises(requests.RequestException):
            requests.get(f"http://127.0.0.1:{server.port}/_nozama/health", timeout=2)
        agent = AgentProcess(server, "us-east-1", "us-east-1a", tmp_path / "agent",
                             extra=["--ca-bundle", str(ca_file)]).start()
        try:
            wait_for(lambda: connected_instances(ecs), timeout=30)
        finally:
            agent.stop()
        # An agent without the root does not register (its handshake fails), and says so.
        log = tmp_path / "untrusting-agent.log"
        with open(log, "wb") as output:
            untrusting = subprocess.Popen(
                [sys.executable, "-m", "nozama", "agent", "--endpoint", server.endpoint,
                 "--runtime", "simulated", "--data-dir", str(tmp_path / "agent2"),
                 "--availability-zone", "us-east-1b"],
                stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            # However long the agent takes to start on a loaded machine.
            wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in log.read_text(errors="replace"),
                     timeout=60)
        finally:
            untrusting.terminate()
            untrusting.wait(timeout=15)
        assert len(ecs.list_container_instances()["containerInstanceArns"]) == 1
    finally:
        server.stop()


def test_a_certificate_given(tmp_path):
    authority = certificates.authority()
    leaf = certificates.certificate(["localhost"], issuer=authority)
    (tmp_path / "chain.pem").write_bytes(leaf.certificate)
    (tmp_path / "key.pem").write_bytes(leaf.private_key)
    (tmp_path / "ca.pem").write_bytes(authority.certificate)
    server = HttpsServer(tmp_path, "--tls-cert", str(tmp_path / "chain.pem"),
                         "--tls-key", str(tmp_path / "key.pem"), name="localhost")
    try:
        server.wait(tmp_path / "ca.pem")
        assert server.client("lambda", tmp_path / "ca.pem").list_functions()["Functions"] == []
    finally:
        server.stop()
    # A key that is not the certificate's: a clear error at start.
    other = certificates.certificate(["localhost"])
    (tmp_path / "other-key.pem").write_bytes(other.private_key)
    refused = subprocess.run(
        [sys.executable, "-m", "nozama", "server", "--port", str(free_port()), "--data-dir",
         str(tmp_path / "d2"), "--tls-cert", str(tmp_path / "chain.pem"), "--tls-key",
         str(tmp_path / "other-key.pem")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert refused.returncode == 2 and "cannot use" in refused.stderr
