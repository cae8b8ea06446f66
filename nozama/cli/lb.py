"""`nozama lb`: the load balancers' data plane, following the store the API writes.

It drives an HAProxy (lb/dataplane.py) whose configuration, sockets and log live
in <data dir>/lb/<store>. SIGTERM or Ctrl-C stop HAProxy gracefully with it; a
controller killed any other way leaves HAProxy serving, for the next one to adopt.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import uvloop

from nozama.kernel import shutdown
from nozama.lb import haproxy_master, hosts
from nozama.lb.dataplane import DataPlane
from nozama.store import Store
from nozama.store.db import sqlite_url

log = logging.getLogger("nozama.lb")


def run_lb(args: argparse.Namespace) -> int:
    from nozama.cli.main import _default_data_dir
    shutdown.catch_early_stop()   # (`python -m nozama lb` has already; a caller may not)
    if haproxy_master.executable() is None:
        print("nozama lb: HAProxy is not installed (Debian: apt-get install haproxy; "
              "`make run` installs it)", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir or _default_data_dir()).expanduser().resolve()
    url = args.database_url or sqlite_url(str(data_dir))
    block = hosts.block_name(url)
    store = Store.open(url)
    try:
        uvloop.run(_main(DataPlane(store, block, data_dir / "lb" / block)))
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
    if not shutdown.early_stop.is_set():
        await asyncio.wait([runner, asyncio.ensure_future(stop.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
    runner.cancel()
    await dataplane.close()
