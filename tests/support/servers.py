"""`nozama server` and `nozama lb` subprocesses, and the store each one runs on.

Every server gets a store of its own: a fresh data directory (SQLite) or a fresh schema
of the PostgreSQL database named by NOZAMA_TEST_POSTGRES_URL, so servers never share
state, not even across pytest-xdist workers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests
import sqlalchemy

from nozama.cli.up import new_agent_key
from nozama.store import admin_key
from nozama.store.db import normalize_url, sqlite_url

from .waiting import wait_for

POSTGRES_URL = os.environ.get("NOZAMA_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parent.parent.parent
# The environment of a server (and its data plane) at production cadence.
REAL_TIME = {"NOZAMA_INTERVAL_SCALE": "1"}


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now (Docker publishes host ports on 0.0.0.0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def fresh_postgres_url(url: str) -> str:
    """A URL whose tables live in a new, empty schema: servers never share state."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def postgres_url() -> str:
    """A URL of a new, empty PostgreSQL schema. Without NOZAMA_TEST_POSTGRES_URL the test
    is skipped on a developer's machine that has no PostgreSQL, and fails in CI, where
    `make test` always starts one."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("NOZAMA_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("NOZAMA_TEST_POSTGRES_URL is not set: run `make test` for PostgreSQL")
    return fresh_postgres_url(POSTGRES_URL)


def store_url(backend: str, tmp_path: Path) -> str:
    """The database URL of a new, empty store of that backend (for Store.open)."""
    return postgres_url() if backend == "postgres" else sqlite_url(tmp_path / "data")


def store_args(backend: str, tmp_path: Path) -> list[str]:
    """The `nozama server` arguments naming a new, empty store of that backend."""
    if backend == "postgres":
        # The data dir holds no database then, but the server's own files (the sealing
        # key of access keys' secrets, the administrator's credentials).
        return ["--database-url", postgres_url(), "--data-dir", str(tmp_path / "data")]
    return ["--data-dir", str(tmp_path / "data")]


class NozamaServer:
    """A `nozama server` subprocess on an ephemeral port."""

    def __init__(self, store_args: list[str], log_path: Path, env: dict | None = None):
        self.store_args = store_args
        self.log_path = log_path
        self.env = env
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "NozamaServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nozama", "server", "--port", str(self.port),
             *self.store_args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env=None if self.env is None else {**os.environ, **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nozama server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.endpoint}/_nozama/health", timeout=1).ok:
                    return self
            except requests.RequestException:  # refused, or too busy to answer yet
                time.sleep(0.05)
        raise RuntimeError("nozama server did not become healthy")

    def kill(self) -> None:
        """SIGKILL: the harshest way to stop, for durability tests."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=20)

    def client(self, service: str, region: str = "us-east-1"):
        key, secret = self.credentials
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=botocore.config.Config(retries={"max_attempts": 1}))

    @property
    def data_dir(self) -> Path:
        return Path(self.store_args[self.store_args.index("--data-dir") + 1])

    @property
    def credentials(self) -> tuple[str, str]:
        """The administrator key the server made at its first start (its data dir's
        admin-credentials file), which the tests call it with."""
        return admin_credentials(self.data_dir)

    def client_env(self, **extra: str) -> dict:
        """The environment of a client subprocess (the AWS CLI, `nozama deploy`): the
        administrator key and this server's endpoint."""
        key, secret = self.credentials
        return {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_ENDPOINT_URL": self.endpoint, **extra}

    def agent_credentials_file(self) -> Path:
        """An AWS credentials file with the key agents of this server sign with: an IAM
        user's, whose only policy is AmazonEC2ContainerServiceforEC2Role, as on EC2."""
        path = self.data_dir / "test-agent-credentials"
        if not path.exists():
            path.write_text(agent_credentials_text(self.client("iam")))
        return path


def signed_headers(server, method: str, url: str, service: str, region: str,
                   body: bytes | None = None, headers: dict | None = None) -> dict:
    """`headers` and a SigV4 signature of the request by the server's administrator key,
    as botocore signs (for requests no botocore model describes, or that it would not
    send)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    request = AWSRequest(method, url, data=body or b"", headers=dict(headers or {}))
    SigV4Auth(Credentials(*server.credentials), service, region).add_auth(request)
    return dict(request.headers.items())


def signed_request(server, method: str, url: str, service: str, region: str,
                   body: bytes | None = None, headers: dict | None = None):
    """A `requests` call signed by signed_headers (for Nozama's own routes)."""
    return requests.request(method, url, data=body, timeout=30, headers=signed_headers(
        server, method, url, service, region, body, headers))


def agent_credentials_text(iam, user: str = "test-agent") -> str:
    """A credentials file's text for a new key of `user` (made, with the policies of
    `nozama up`'s agents, if missing)."""
    key_id, secret = new_agent_key(iam, user)
    return f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"


def admin_credentials(data_dir: Path) -> tuple[str, str]:
    """The (access key id, secret) of a data dir's admin-credentials file."""
    return wait_for(lambda: admin_key.read(data_dir), timeout=30)


def start_dataplane(server: NozamaServer, log_path: Path, *extra: str) -> subprocess.Popen:
    """`nozama lb` on a server's store (and with the server's environment)."""
    args = list(server.store_args) + list(extra)
    if "--data-dir" not in args:  # a PostgreSQL store: HAProxy's files go beside the log
        args += ["--data-dir", str(log_path.parent / "lb-data")]
    return subprocess.Popen([sys.executable, "-m", "nozama", "lb", *args,
                             "--log-level", "warning"], stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT, cwd=ROOT,
                            env=None if server.env is None else {**os.environ, **server.env})


def haproxy_dir(lb_log_path: Path, server: NozamaServer) -> Path:
    """The directory where a `nozama lb` started by start_dataplane keeps HAProxy's files."""
    args = server.store_args
    data = Path(args[args.index("--data-dir") + 1]) if "--data-dir" in args else \
        lb_log_path.parent / "lb-data"
    return wait_for(lambda: next((data / "lb").glob("*/haproxy.pid"), None)).parent


def run_nozama(server, region: str, *args: str) -> subprocess.CompletedProcess:
    """The `nozama` command against `server`, as a person types it (no terminal)."""
    return subprocess.run([sys.executable, "-m", "nozama", *args, "--endpoint", server.endpoint,
                           "--region", region], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=server.client_env())
