"""`nozama server`: the control plane's API endpoint."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal

import uvicorn

from nozama.api.gateway import Gateway
from nozama.api.server import App
from nozama.clock import Clock
from nozama.store import Store
from nozama.store.db import sqlite_url

log = logging.getLogger("nozama")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        # SIGINT/SIGTERM stop the server gracefully and the process exits 0;
        # uvicorn's own handler would re-raise the signal after shutting down.
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def build_app(database_url: str, account_id: str = "000000000000") -> App:
    store = Store.open(database_url)
    return App(Gateway(store, Clock(), account_id))


def serve(args: argparse.Namespace) -> int:
    from nozama.cli.main import _default_data_dir
    url = args.database_url or sqlite_url(args.data_dir or _default_data_dir())
    app = build_app(url, args.account_id)
    config = uvicorn.Config(app, host=args.host, port=args.port, loop="uvloop", http="httptools",
                            lifespan="on", access_log=False, log_level="warning",
                            timeout_graceful_shutdown=5)
    server = _Server(config)
    log.info("Nozama %s serving on http://%s:%d (store: %s)", _version(), args.host, args.port,
             app.gateway.store.kind)
    server.run()
    app.gateway.store.close()
    return 0


def _version() -> str:
    from nozama import __version__
    return __version__
