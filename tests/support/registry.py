"""`nozama registry` subprocesses on a NozamaServer's store, Docker clients logged in
to them with ECR's GetAuthorizationToken, and the test images they push.

Every Docker command runs with a DOCKER_CONFIG directory of the test's own, so that
root's ~/.docker never holds a test's credentials. Images are built offline (the legacy
builder: no BuildKit here) on the images scripts/setup-test-services.sh provides, and are
tagged and removed by name only: retags of nozama-test/busybox share its image id.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .servers import ROOT, NozamaServer, free_port
from .waiting import wait_for

DOCKER_REGISTRY = os.environ.get("NOZAMA_DOCKER_REGISTRY", "/usr/bin/docker-registry")
BUSYBOX = "nozama-test/busybox:latest"
LAMBDA_IMAGE = "nozama-test/lambda-python:latest"


def require_programs() -> None:
    """`make test` installs them; without them these tests cannot pass."""
    for program in (DOCKER_REGISTRY, "haproxy", "docker"):
        if shutil.which(program) is None:
            pytest.fail(f"{program} is not installed (scripts/setup-test-services.sh)")


class RegistryProcess:
    """A `nozama registry`: on 127.0.0.1 by default (plain HTTP: Docker trusts loopback),
    on another `host` with TLS from Nozama's CA (see trust_registry)."""

    def __init__(self, server: NozamaServer, log_path: Path, storage: Path | None = None,
                 port: int | None = None, host: str = "127.0.0.1"):
        self.server = server
        self.log_path = log_path
        self.storage = storage
        self.port = port or free_port(host)
        self.address = f"{host}:{self.port}"
        self.scheme = "http" if host.startswith("127.") else "https"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    def start(self, timeout: float = 60) -> "RegistryProcess":
        require_programs()
        args = list(self.server.store_args)
        if self.storage is not None:
            args += ["--storage", str(self.storage)]
        mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nozama", "registry", "--address", self.address, *args,
             "--log-level", "info"], stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT, cwd=ROOT,
            env=None if self.server.env is None else {**os.environ, **self.server.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nozama registry exited: {self.log_path.read_text()[-3000:]}")
            text = self.log_path.read_bytes()[mark:].decode(errors="replace")
            if f'{{"registry": "{self.address}"' in text:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"nozama registry did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        return self.process.wait(timeout=20)

    def distribution_pid(self) -> int | None:
        """The pid of the docker-registry this process runs now."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid and command.startswith(DOCKER_REGISTRY.encode()) \
                    and b"\0serve\0" in command:
                return int(entry.name)
        return None

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/v2/", timeout=2,
                                verify=False).status_code == 401
        except requests.RequestException:
            return False


def trust_registry(server: NozamaServer, registry: RegistryProcess) -> Path:
    """Make Docker trust an https registry: Nozama's CA in
    /etc/docker/certs.d/<host:port>/ca.crt (read at each connection: no daemon restart).
    The directory to remove afterwards."""
    directory = Path("/etc/docker/certs.d") / registry.address
    directory.mkdir(parents=True, exist_ok=True)
    ca = requests.get(f"{server.endpoint}/_nozama/ca.pem", timeout=10)
    ca.raise_for_status()
    (directory / "ca.crt").write_text(ca.text)
    return directory


def repository_ref(registry: RegistryProcess, name: str, tag: str,
                   region: str = "us-east-1") -> str:
    """The reference Docker pushes ECR repository `name` under: <front>/<region>/<name>."""
    return f"{registry.address}/{region}/{name}:{tag}"


def docker(config_dir: Path, *args: str, check: bool = True,
           timeout: float = 180) -> subprocess.CompletedProcess:
    """A docker CLI command with the test's own DOCKER_CONFIG."""
    config_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "DOCKER_CONFIG": str(config_dir),
                                 "DOCKER_BUILDKIT": "0"})
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def build_image(reference: str, context: Path, lines: list[str] | None = None,
                files: dict[str, bytes] | None = None, base: str = BUSYBOX) -> str:
    """`docker build` of `FROM base` and `lines`, with `files` in a new `context`
    directory, tagged `reference`; the reference."""
    context.mkdir(parents=True)
    for name, content in (files or {}).items():
        (context / name).write_bytes(content)
    (context / "Dockerfile").write_text("\n".join([f"FROM {base}", *(lines or [])]) + "\n")
    docker(context.parent / "build-config", "build", "-q", "-t", reference, str(context),
           timeout=300)
    return reference


def push_image(config_dir: Path, reference: str) -> str:
    """`docker push` of `reference` by a client logged in with `config_dir`; the digest
    the registry gave it."""
    output = docker(config_dir, "push", reference).stdout
    # The last line: "<tag>: digest: sha256:… size: N".
    return re.search(r"digest: (sha256:[0-9a-f]{64})", output.splitlines()[-1])[1]


def build_lambda_image() -> str:
    """The image on AWS's Lambda base-image conventions that image functions run
    (scripts/build-test-lambda-image.sh: built once, then found)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-test-lambda-image.sh")],
                   check=True, env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                    "/sbin:/bin", "PYTHON": sys.executable})
    return LAMBDA_IMAGE


def ecr_password(ecr) -> str:
    """The password of GetAuthorizationToken (the token is base64 of `AWS:<password>`)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    return password


def docker_login(server: NozamaServer, registry: RegistryProcess, config_dir: Path,
                 region: str = "us-east-1", ecr=None) -> subprocess.CompletedProcess:
    """`aws ecr get-login-password | docker login -u AWS --password-stdin <registry>`, with
    the server's administrator key unless another client (`ecr`) is given."""
    password = ecr_password(ecr or server.client("ecr", region))
    return login_with(registry, config_dir, password)


def login_with(registry: RegistryProcess, config_dir: Path, password: str,
               check: bool = True) -> subprocess.CompletedProcess:
    config_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["docker", "login", registry.address, "-u", "AWS",
                             "--password-stdin"], input=password, capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "DOCKER_CONFIG": str(config_dir)})
    if check and result.returncode != 0:
        raise AssertionError(f"docker login failed: {result.stdout}{result.stderr}")
    return result


def forget_images(*references: str) -> None:
    """Remove test tags by name (never by id: they share nozama-test/busybox's), and the
    `repository@digest` names a push or pull left on the images."""
    names = list(references)
    for repository in {reference.rsplit(":", 1)[0] for reference in references}:
        listed = subprocess.run(["docker", "images", "--digests", "--format",
                                 "{{.Repository}}@{{.Digest}}", repository],
                                capture_output=True, text=True, timeout=60)
        names += [line for line in listed.stdout.split() if "@sha256:" in line]
    for name in names:
        subprocess.run(["docker", "rmi", name], capture_output=True, timeout=60)


def registry_tags(registry: RegistryProcess, name: str, jwt: str) -> list[str]:
    reply = requests.get(f"{registry.url}/v2/{name}/tags/list", timeout=10,
                         headers={"Authorization": f"Bearer {jwt}"})
    return (json.loads(reply.text).get("tags") or []) if reply.status_code == 200 else []


__all__ = ["RegistryProcess", "docker", "docker_login", "login_with", "ecr_password",
           "forget_images", "repository_ref", "build_image", "push_image",
           "build_lambda_image", "wait_for", "BUSYBOX", "LAMBDA_IMAGE"]
