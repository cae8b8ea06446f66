"""`nozama server`: the control plane's API endpoint."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

import uvloop

from nozama.api.gateway import Gateway
from nozama.api.http_server import HttpServer
from nozama.api.server import App
from nozama.clock import Clock
from nozama.store import Store
from nozama.store.db import sqlite_url

log = logging.getLogger("nozama")


def build_app(database_url: str, account_id: str = "000000000000") -> App:
    store = Store.open(database_url)
    return App(Gateway(store, Clock(), account_id))


def serve(args: argparse.Namespace) -> int:
    from nozama.cli.main import _default_data_dir
    url = args.database_url or sqlite_url(args.data_dir or _default_data_dir())
    app = build_app(url, args.account_id)
    try:
        uvloop.run(_serve(app, args.host, args.port))
    finally:
        app.gateway.store.close()
    return 0


async def _serve(app: App, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (the process exits 0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = HttpServer(app.handle)
    await server.start(host, port)
    app.start_background()
    # Everything loaded so far (botocore's models above all) lives as long as the
    # process: moving it out of the collector's generations keeps full
    # collections, and the pauses they put into request latency, short.
    gc.collect()
    gc.freeze()
    log.info("Nozama %s serving on http://%s:%d (store: %s)", _version(), host, server.port,
             app.gateway.store.kind)
    await stop.wait()
    app.stop_background()
    await server.stop()


def _version() -> str:
    from nozama import __version__
    return __version__
