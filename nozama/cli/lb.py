"""`nozama lb`: the load balancers' data plane, following the store the API writes."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

import uvloop

from nozama.kernel import shutdown
from nozama.lb import hosts
from nozama.lb.dataplane import DataPlane
from nozama.store import Store
from nozama.store.db import sqlite_url

log = logging.getLogger("nozama.lb")


def run_lb(args: argparse.Namespace) -> int:
    from nozama.cli.main import _default_data_dir
    url = args.database_url or sqlite_url(args.data_dir or _default_data_dir())
    store = Store.open(url)
    # What start-up made lives as long as the process: keep it out of the collector's
    # full passes, which would otherwise hold the traffic for tens of milliseconds.
    gc.collect()
    gc.freeze()
    try:
        uvloop.run(_main(DataPlane(store, hosts.block_name(url))))
    finally:
        store.close()
    shutdown.finish(0)   # without the interpreter's teardown


async def _main(dataplane: DataPlane) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.stopping(stop))
    runner = asyncio.ensure_future(dataplane.run())
    log.info("load balancer data plane running")
    await stop.wait()
    runner.cancel()
    await dataplane.close()
