"""`nozama server`: the control plane's API endpoint."""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import logging
import signal
import socket
import ssl
import sys
import tempfile
import uuid
from pathlib import Path

import uvloop

from nozama.api.gateway import Gateway
from nozama.api.guard import AllowedHosts, is_loopback
from nozama.kernel.http_server import HttpServer
from nozama.api.server import App
from nozama.cli import tls
from nozama.kernel import shutdown
from nozama.kernel.clock import Clock
from nozama.functions.invoker import FunctionRuntime
from nozama.store import Store
from nozama.store import admin_key
from nozama.store.access_keys import AccessKeys
from nozama.store import servers as server_store
from nozama.store.db import StoreUnavailable, sqlite_url
from nozama.store.sealing import KeyMismatch, Sealer, load_key

log = logging.getLogger("nozama")


def build_app(database_url: str, account_id: str = "000000000000",
              hosts: AllowedHosts | None = None, data_dir: str | Path | None = None,
              auth: bool = False) -> App:
    try:
        store = Store.open(database_url)
    except StoreUnavailable as error:
        raise SystemExit(f"nozama server: {error}") from None
    clock = Clock()
    if data_dir is not None:
        store.access_keys = access_keys_of(store, clock, data_dir)
    # With auth on, every request's signature is verified against the keys of the store
    # and its principal's policies must allow the call.
    gateway = Gateway(store, clock, account_id, verify_signatures=auth,
                      credentials_lookup=store.access_keys.lookup if auth else None)
    # This process's id among the servers of the store (the servers table, the lease);
    # its functions' workers are marked with a directory of that name.
    server_id = uuid.uuid4().hex[:16]
    gateway.functions = FunctionRuntime(store, gateway.clock, functions_dir(database_url),
                                        gateway.wakeups, server_id)
    return App(gateway, hosts, server_id)


def access_keys_of(store: Store, clock: Clock, data_dir: str | Path) -> AccessKeys:
    """The access keys' lookup, with the data dir's sealing key (store/sealing.py)."""
    key, path = load_key(data_dir)
    sealer = Sealer(key)
    with store.write() as conn:
        sealer.check(conn, path)
    return AccessKeys(store, sealer, clock)


def announce_admin_key(app: App, data_dir: str | Path, account_id: str) -> None:
    """Make the account's administrator key at the first start, and say so once."""
    announce_admin_key_of(app.gateway.store, app.gateway.clock, data_dir, account_id)


def announce_admin_key_of(store: Store, clock: Clock, data_dir: str | Path,
                          account_id: str) -> None:
    made = admin_key.ensure(store, store.access_keys, data_dir, account_id, clock.now())
    if made is not None and made.created:
        # Printed this once (it is in the file, readable by its owner only, from now on),
        # on stderr: stdout is `nozama up`'s, whose first line is its JSON announcement.
        print(f"Nozama made the administrator access key of account {account_id}, saved in "
              f"{made.path}:\n  export AWS_ACCESS_KEY_ID={made.access_key_id} "
              f"AWS_SECRET_ACCESS_KEY={made.secret_access_key}", file=sys.stderr, flush=True)
    elif made is not None:
        log.info("the administrator access key %s is in %s", made.access_key_id, made.path)


def other_host(store: Store, clock: Clock) -> str | None:
    """With SQLite, the host of a live server of the store that is not this one's (None
    if there is none). SQLite serves one host: its WAL needs memory shared by every
    process that opens the file, which no network filesystem gives."""
    if store.kind != "sqlite":
        return None
    with store.read() as conn:
        hosts = {row.host for row in server_store.live(conn, clock.now())}
    return next(iter(sorted(hosts - {socket.gethostname()})), None)


def refuse_other_host(store: Store, clock: Clock) -> None:
    host = other_host(store, clock)
    if host is not None:
        store.close()
        print(f"nozama server: a server on host {host!r} is serving this SQLite store; "
              f"SQLite serves one host (several processes of it with --workers N), "
              f"several hosts need PostgreSQL (--database-url postgresql://...)",
              file=sys.stderr)
        raise SystemExit(2)


def functions_dir(database_url: str) -> Path:
    """The root of the servers' work dirs for functions (code unpacked, workers marked):
    one per store; each server works in <root>/<server id> (functions/work_dirs.py)."""
    digest = hashlib.sha1(database_url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "nozama-functions" / digest


def serve(args: argparse.Namespace) -> int:
    from nozama.cli.main import _default_data_dir
    data_dir = args.data_dir or _default_data_dir()
    url = args.database_url or sqlite_url(data_dir)
    if args.auth == "off" and not is_loopback(args.host):
        # Any credentials would do: whoever reaches the port would be root on every host.
        print(f"nozama server: --auth off accepts any credentials, so it is allowed only "
              f"on a loopback address (--host 127.0.0.1 or ::1), not on {args.host!r}",
              file=sys.stderr)
        return 2
    if args.workers > 1 and args.worker_of is None:
        from nozama.cli.workers import supervise
        return supervise(args, url, data_dir)
    try:
        app = build_app(url, args.account_id, AllowedHosts(args.host, args.allowed_host),
                        data_dir, auth=args.auth == "on")
        refuse_other_host(app.gateway.store, app.gateway.clock)
        announce_admin_key(app, data_dir, args.account_id)
    except KeyMismatch as error:
        raise SystemExit(f"nozama server: {error}") from None
    try:
        context = tls.server_context(args.tls_cert, args.tls_key, args.tls, app.gateway.store,
                                     args.host)
    except tls.TlsError as error:
        app.gateway.store.close()
        print(f"nozama server: {error}", file=sys.stderr)
        return 2
    if context is not None and args.tls and app.gateway.functions is not None:
        # Functions' own calls come back over HTTPS: their SDKs trust Nozama's root.
        app.gateway.functions.ca_bundle = tls.write_root(app.gateway.store,
                                                         functions_dir(url) / "ca.pem")
    worker = args.worker_of is not None
    if worker and app.gateway.store.kind == "sqlite":
        app.wake_dir = run_dir(data_dir)   # the sibling workers hear each other's wake-ups
    try:
        uvloop.run(_serve(app, args.host, args.port, context, reuse_port=worker))
    finally:
        app.gateway.store.close()
    shutdown.finish(0)   # not waiting for outbound calls in flight, nor for teardown


def run_dir(data_dir: str | Path) -> Path:
    """Where the workers of `nozama server --workers N` on a SQLite store keep their
    wake-up sockets (kernel/unix_wakeups.py)."""
    return Path(data_dir) / "run"


async def _serve(app: App, host: str, port: int, context: ssl.SSLContext | None = None,
                 reuse_port: bool = False) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (the process exits 0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.stopping(stop))
    server = HttpServer(app.handle, clock=app.gateway.clock)
    await server.start(host, port, context, reuse_port=reuse_port)
    scheme = "https" if context is not None else "http"
    if app.gateway.functions is not None:
        # Functions' own AWS calls come back here.
        app.gateway.functions.endpoint_url = f"{scheme}://{_local(host)}:{server.port}"
    app.address = f"{scheme}://{_local(host)}:{server.port}"
    app.start_background()
    # Everything loaded so far (botocore's models above all) lives as long as the
    # process: moving it out of the collector's generations keeps full
    # collections, and the pauses they put into request latency, short.
    gc.collect()
    gc.freeze()
    log.info("Nozama %s serving on %s://%s:%d (store: %s)", _version(), scheme, host,
             server.port, app.gateway.store.kind)
    await stop.wait()
    app.stop_background()
    await server.stop()


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _version() -> str:
    from nozama import __version__
    return __version__
