"""`nozama server --workers N`: N API processes on one port, and their supervisor.

Each worker is an ordinary `nozama server` (its own server id in the servers table, its
own leadership runner: whichever takes the lease leads the controllers, the others
serve the API) whose listening socket joins the others on the port with SO_REUSEPORT,
so the kernel spreads connections over them. On a PostgreSQL store the workers hear
each other's wake-ups as any servers do (LISTEN/NOTIFY); on SQLite, through unix
datagram sockets in <data dir>/run (kernel/unix_wakeups.py), since SQLite serves one
host and its WAL lets the processes of that host write one at a time.

The supervisor does what must happen once before the workers start (the migrations,
the sealing key, the administrator key, the CA's root with --tls), so that N processes
never race to do it; it reserves the port with an SO_REUSEPORT socket that never
listens (no connection is ever queued on it, and no other program can take the port
between two workers' restarts); then it starts the workers, restarts one that dies
(after a delay that doubles while it keeps dying), passes SIGTERM and SIGINT on to
them, and exits 0 once they have all stopped.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from nozama.kernel.clock import Clock
from nozama.store import Store
from nozama.store.db import StoreUnavailable

log = logging.getLogger("nozama.workers")

FIRST_DELAY = 0.5        # seconds before restarting a worker that died
MAX_DELAY = 30.0
STEADY = 60.0            # a worker that lived this long starts again at FIRST_DELAY
STOP_SECONDS = 10.0      # then what is still running is killed
REFUSED = 2              # a worker's exit code when it refuses to start (bad input)


def supervise(args: argparse.Namespace, url: str, data_dir: str) -> int:
    try:
        prepare(args, url, data_dir)
    except SystemExit as refusal:
        if isinstance(refusal.code, str):
            print(refusal.code, file=sys.stderr)
            return 1
        return refusal.code or 0
    sqlite = url.startswith("sqlite")
    try:
        reservation = reserve(args.host, args.port)
    except OSError as error:
        print(f"nozama server: cannot listen on {args.host}:{args.port}: {error.strerror}",
              file=sys.stderr)
        return 2
    port = reservation.getsockname()[1]
    env = dict(os.environ)
    if args.database_url:
        env["NOZAMA_DATABASE_URL"] = url   # not on the command line, where ps shows it
    supervisor = Supervisor([worker_command(args, port, data_dir) for _ in
                             range(args.workers)], env)
    log.info("Nozama supervising %d workers on %s:%d (store: %s)", args.workers, args.host,
             port, "sqlite" if sqlite else "postgresql")
    try:
        return supervisor.run()
    finally:
        reservation.close()


def prepare(args: argparse.Namespace, url: str, data_dir: str) -> None:
    """What the workers would otherwise all race to do at their first start."""
    from nozama.cli import server as single
    from nozama.cli import tls
    from nozama.store.sealing import KeyMismatch
    try:
        store = Store.open(url)
    except StoreUnavailable as error:
        raise SystemExit(f"nozama server: {error}") from None
    clock = Clock()
    try:
        single.refuse_other_host(store, clock)
        store.access_keys = single.access_keys_of(store, clock, data_dir)
        single.announce_admin_key_of(store, clock, data_dir, args.account_id)
        try:
            tls.server_context(args.tls_cert, args.tls_key, args.tls, store, args.host)
        except tls.TlsError as error:
            print(f"nozama server: {error}", file=sys.stderr)
            raise SystemExit(2) from None
    except KeyMismatch as error:
        raise SystemExit(f"nozama server: {error}") from None
    finally:
        store.close()


def reserve(host: str, port: int) -> socket.socket:
    """Check that the port is free and hold it for the workers: a socket bound with
    SO_REUSEPORT, which the workers' own join, and which never listens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEPORT: fails if anything else holds the port, even another
        # supervisor's reservation.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind((host, port))
    except OSError:
        held.close()
        raise
    return held


def worker_command(args: argparse.Namespace, port: int, data_dir: str) -> list[str]:
    command = [sys.executable, "-m", "nozama", "server", "--host", args.host,
               "--port", str(port), "--data-dir", str(data_dir),
               "--account-id", args.account_id, "--log-level", args.log_level,
               "--auth", args.auth, "--worker-of", str(os.getpid())]
    if args.tls:
        command.append("--tls")
    if args.tls_cert:
        command += ["--tls-cert", args.tls_cert, "--tls-key", args.tls_key or ""]
    for name in args.allowed_host:
        command += ["--allowed-host", name]
    return command


class Worker:
    def __init__(self, number: int, command: list[str]):
        self.number, self.command = number, command
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.failures = 0
        self.restart_at: float | None = None

    def start(self, env: dict) -> None:
        self.process = subprocess.Popen(self.command, env=env, preexec_fn=_die_with_parent)
        self.started = time.monotonic()
        self.restart_at = None
        log.info("worker %d started (pid %d)", self.number, self.process.pid)


class Supervisor:
    def __init__(self, commands: list[list[str]], env: dict):
        self.workers = [Worker(n + 1, command) for n, command in enumerate(commands)]
        self.env = env
        self.stopping = threading.Event()
        self.signal = signal.SIGTERM

    def _on_signal(self, signum, frame) -> None:
        self.signal = signal.Signals(signum)
        self.stopping.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        for worker in self.workers:
            worker.start(self.env)
        code = 0
        while not self.stopping.is_set():
            refused = self.watch()
            if refused:
                code = REFUSED
                break
            self.stopping.wait(0.1)
        self.stop()
        return code

    def watch(self) -> bool:
        """Restart what died; True when a worker refused to start (it would again)."""
        now = time.monotonic()
        for worker in self.workers:
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    worker.start(self.env)
                continue
            code = worker.process.poll()
            if code is None:
                continue
            lived = now - worker.started
            if code == REFUSED and lived < STEADY:
                log.error("worker %d refused to start (exit code 2): stopping", worker.number)
                return True
            worker.failures = 1 if lived >= STEADY else worker.failures + 1
            delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (worker.failures - 1))
            log.warning("worker %d (pid %d) %s after %.1fs; restarting it in %.1fs",
                        worker.number, worker.process.pid, _how(code), lived, delay)
            worker.restart_at = now + delay
        return False

    def stop(self) -> None:
        """Pass the stop on to the workers, wait for them, kill what outlives the wait."""
        live = [w.process for w in self.workers
                if w.process is not None and w.process.poll() is None]
        for process in live:
            try:
                process.send_signal(self.signal)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_SECONDS
        for process in live:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in %.0fs: killed", process.pid,
                            STOP_SECONDS)
                process.kill()
                process.wait()
        log.info("every worker has stopped")


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _die_with_parent() -> None:
    """In a worker, before it runs: SIGTERM when the supervisor dies (Linux), so that a
    supervisor killed with SIGKILL leaves no worker behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

