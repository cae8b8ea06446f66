"""Docker Distribution (Debian's docker-registry) as `nozama registry` runs it: its
config.yml, its garbage collection, and the child process itself, restarted with backoff
whenever it dies.

Distribution listens on a loopback port only; clients reach it through the front
(registry/front.py). Its auth is `token`: it trusts the JWTs that the gate's realm mints
(registry/tokens.py), whose certificate it is given as `rootcertbundle`. `http.secret`
signs the state of an upload in progress; it is kept in the run directory so that an
upload survives a restart of the process. Deletes are enabled: ECR's BatchDeleteImage
deletes manifests by digest, and garbage collection, at start while Distribution is
stopped, frees their blobs. It never runs with `-m` (--delete-untagged): ECR keeps
untagged images.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

EXECUTABLE = os.environ.get("NOZAMA_DOCKER_REGISTRY", "/usr/bin/docker-registry")
# Restart backoff: the first restart is at once (a registry killed mid-push should be
# back before Docker's retries give up); each quick death doubles the wait, up to MAX.
FIRST_BACKOFF, MAX_BACKOFF = 0.1, 5.0
# A run this long counts as healthy: the next death starts the backoff over.
HEALTHY_RUN_SECONDS = 30.0
STOP_SECONDS = 3.0


def executable() -> str | None:
    return EXECUTABLE if shutil.which(EXECUTABLE) else None


@dataclass(frozen=True)
class Settings:
    storage: Path           # the filesystem driver's root directory
    port: int               # the loopback port Distribution listens on
    secret: str             # http.secret
    realm: str              # the gate's token endpoint, as clients reach it
    service: str            # the tokens' audience
    root_cert_bundle: Path  # the token signer's certificate


def _q(value: str) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML ones."""
    return json.dumps(str(value))


def render_config(settings: Settings) -> str:
    return f"""\
# Written by `nozama registry` at each start; changes are overwritten.
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: {_q(settings.storage)}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 1h
      dryrun: false
http:
  addr: {_q(f"127.0.0.1:{settings.port}")}
  secret: {_q(settings.secret)}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: {_q(settings.realm)}
    service: {_q(settings.service)}
    issuer: "nozama"
    rootcertbundle: {_q(settings.root_cert_bundle)}
"""


def http_secret(run_dir: Path) -> str:
    """The run directory's http.secret, made once (so uploads outlive restarts)."""
    path = run_dir / "http-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        secret = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secret)
        return secret


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG, SIGKILL: a `nozama registry` killed outright takes Distribution
    # along, so that the port is free for the next one.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class Distribution:
    """The docker-registry child: garbage-collected, started, kept running, stopped."""

    def __init__(self, run_dir: Path, settings: Settings):
        self.run_dir = run_dir
        self.settings = settings
        self.config = run_dir / "config.yml"
        self.log_file = run_dir / "registry.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0            # how many times it was started (restarts + 1)
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def write_config(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.settings.storage.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render_config(self.settings))

    def garbage_collect(self) -> str | None:
        """Free the blobs no manifest references (Distribution must be stopped). None
        when it worked, else its complaint (not fatal: the registry serves anyway)."""
        if not (self.settings.storage / "docker/registry/v2/repositories").is_dir():
            return None    # nothing pushed yet (Distribution's GC fails on an empty store)
        with open(self.log_file, "ab") as out:
            result = subprocess.run([EXECUTABLE, "garbage-collect", str(self.config)],
                                    stdout=out, stderr=subprocess.PIPE, timeout=600)
        if result.returncode != 0:
            return result.stderr.decode(errors="replace")[-2000:]
        return None

    async def _start(self) -> asyncio.subprocess.Process:
        with open(self.log_file, "ab") as out:
            process = await asyncio.create_subprocess_exec(
                EXECUTABLE, "serve", str(self.config), stdin=subprocess.DEVNULL,
                stdout=out, stderr=out, preexec_fn=_die_with_parent, start_new_session=True)
        self.starts += 1
        return process

    async def run(self) -> None:
        """Run Distribution until stop(): start it again whenever it exits."""
        backoff = FIRST_BACKOFF
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            self.process = await self._start()
            code = await self.process.wait()
            if self._stopping:
                return
            if loop.time() - started >= HEALTHY_RUN_SECONDS:
                backoff = FIRST_BACKOFF
            log.warning("docker-registry exited with %s; restarting in %.1f s (see %s)",
                        code, backoff, self.log_file)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def answers(self) -> bool:
        """Whether Distribution answers /v2/ (with its 401 challenge: it is up)."""
        try:
            urllib.request.urlopen(f"{self.url}/v2/", timeout=1)
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is None and \
                    await asyncio.to_thread(self.answers):
                return True
            await asyncio.sleep(0.05)
        return False

    async def stop(self) -> None:
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
