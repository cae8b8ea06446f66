"""The `nozama registry` process's parts put together (cli/registry.py runs it): the
token signer, Distribution, the gate, the front, the `registries` row with its heartbeat,
and the sweeper.

Start-up, in order: the token signer from the store; config.yml and the signer's
certificate in the run directory; garbage collection while Distribution is stopped;
Distribution (restarted whenever it dies); the gate; the HAProxy front; the `registries`
row that names it as the ECR proxy endpoint (renewed every HEARTBEAT_SECONDS, removed on a
clean stop); the tombstones, and the adoption of unrecorded pushes. One JSON line on
stdout says it serves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from nozama.kernel import shutdown
from nozama.kernel.clock import Clock
from nozama.kernel.http_server import HttpServer
from nozama.model import certificate_authority as ca
from nozama.model.certificates import key_pem
from nozama.registry import distribution, front, gate, tokens
from nozama.registry.client import Admin
from nozama.registry.sweeper import Sweeper
from nozama.store import certificates, registries
from nozama.store.db import StoreUnavailable

log = logging.getLogger("nozama.registry")

HEARTBEAT_SECONDS = 5.0


class StartError(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    def __init__(self, store, clock: Clock, address: front.Address, run_dir: Path,
                 storage: Path):
        self.store, self.clock, self.address = store, clock, address
        self.run_dir, self.storage = run_dir, storage
        self.service = f"ecr.{address}"
        self.realm = f"{address.scheme}://{address}{gate.TOKEN_PATH}"

    async def _distribution(self) -> tuple[tokens.Signer, distribution.Distribution]:
        """The token signer, and Distribution configured to trust it and collected of the
        blobs no manifest names (while it is not running yet)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.store.write() as conn:
            signer = tokens.signer(conn, self.clock.now())
        bundle = self.run_dir / "token-signer.crt"
        bundle.write_text(signer.certificate)
        settings = distribution.Settings(self.storage, _free_port(),
                                         distribution.http_secret(self.run_dir), self.realm,
                                         self.service, bundle)
        registry = distribution.Distribution(self.run_dir, settings)
        registry.write_config()
        complaint = await asyncio.to_thread(registry.garbage_collect)
        if complaint:
            log.warning("garbage collection failed (serving anyway): %s", complaint)
        return signer, registry

    async def main(self) -> int:
        signer, registry = await self._distribution()
        settings = registry.settings
        supervisor = asyncio.ensure_future(registry.run())
        the_gate = gate.Gate(self.store, self.clock, registry.url, signer, self.service)
        server = HttpServer(the_gate.handle, clock=self.clock)
        the_front = front.Front(self.run_dir / "front")
        tasks: list[asyncio.Future] = [supervisor]
        gate_started = False
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, shutdown.stopping(stop))
        try:
            if not await registry.wait_ready():
                raise StartError(f"docker-registry did not start; see {registry.log_file}")
            await server.start("127.0.0.1", 0)
            gate_started = True
            await asyncio.to_thread(the_front.start, front.render_config(
                self.address, server.port, settings.port, self._certificate()))
            if not await self._front_answers():
                raise StartError(f"the HAProxy front did not answer on {self.address}; see "
                                 f"{the_front.master.log_file}")
            admin = Admin(registry.url, lambda access: tokens.mint(
                signer, self.service, tokens.ADMIN_SUBJECT, access, self.clock.now()))
            sweeper = Sweeper(self.store, admin, self.clock)
            self._announce(started=self.clock.now())
            await sweeper.apply_tombstones()
            adopted = await sweeper.adopt()
            if adopted:
                log.warning("adopted %d pushed tag(s) the store had not recorded", adopted)
            tasks += [asyncio.ensure_future(sweeper.run()),
                      asyncio.ensure_future(self._heartbeat())]
            print(json.dumps({"registry": str(self.address), "scheme": self.address.scheme,
                              "storage": str(self.storage)}), flush=True)
            log.info("registry serving on %s://%s", self.address.scheme, self.address)
            if not shutdown.early_stop.is_set():
                await stop.wait()
            return 0
        finally:
            for task in tasks:
                task.cancel()
            try:
                with self.store.write() as conn:
                    registries.withdraw(conn, str(self.address))
            except Exception:
                log.exception("could not withdraw the registry's row")
            # Together: `nozama up` gives its children 4.5 s to stop.
            await asyncio.gather(asyncio.to_thread(the_front.stop), registry.stop())
            if gate_started:
                await server.stop()

    def _certificate(self) -> Path | None:
        """The front's TLS certificate (from Nozama's CA), None on a loopback address."""
        if self.address.loopback:
            return None
        now = self.clock.now()
        with self.store.write() as conn:
            root = ca.Root.from_bytes(certificates.authority(
                conn, lambda: ca.new_root(now).to_bytes()))
        key = ca.new_key("EC_prime256v1")
        leaf = ca.issue(root, [self.address.host], key, now)
        path = self.run_dir / "front"
        path.mkdir(parents=True, exist_ok=True)
        return front.write_certificate(path, leaf, key_pem(key), root.certificate)

    async def _front_answers(self, timeout: float = 15.0) -> bool:
        url = f"http://{self.address}{gate.HEALTH_PATH}"
        if self.address.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            url = url.replace("http://", "https://")
        else:
            context = None

        def ask() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=1, context=context) as reply:
                    return reply.status == 200
            except (urllib.error.URLError, OSError):
                return False
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await asyncio.to_thread(ask):
                return True
            await asyncio.sleep(0.1)
        return False

    def _announce(self, started) -> None:
        self.started = started
        with self.store.write() as conn:
            registries.announce(conn, str(self.address), self.address.scheme,
                                self.clock.now(), started)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                with self.store.write() as conn:
                    registries.announce(conn, str(self.address), self.address.scheme,
                                        self.clock.now(), self.started)
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:
                log.exception("registry heartbeat failed")
