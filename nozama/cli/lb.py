"""`nozama lb`: the load balancers' data plane, following the store the API writes.

It drives an HAProxy (lb/dataplane.py) whose configuration, sockets and log live
in <data dir>/lb/<store>. SIGTERM or Ctrl-C stop HAProxy gracefully with it; a
controller killed any other way leaves HAProxy serving, for the next one to adopt.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import ipaddress
import signal
import sys
from pathlib import Path

import uvloop

from nozama.kernel import shutdown
from nozama.kernel.host_address import AddressError, check_own
from nozama.lb import dns, haproxy_master, hosts
from nozama.lb.dataplane import DataPlane, PoolError
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
    pool = None
    if args.address_pool:
        try:
            pool = check_pool(args.address_pool)
        except ValueError as error:
            print(f"nozama lb: {error}", file=sys.stderr)
            return 2
    try:
        dns_address = dns.listen_address(args.dns) if args.dns else None
    except ValueError as error:
        print(f"nozama lb: --dns: {error}", file=sys.stderr)
        return 2
    responder = dns.DnsResponder() if dns_address else None
    data_dir = Path(args.data_dir or _default_data_dir()).expanduser().resolve()
    url = args.database_url or sqlite_url(str(data_dir))
    block = hosts.block_name(url)
    store = Store.open(url)
    try:
        uvloop.run(_main(DataPlane(store, block, data_dir / "lb" / block, address_pool=pool,
                                   dns_responder=responder), dns_address))
    except PoolError as error:
        print(f"nozama lb: --address-pool {pool}: {error}", file=sys.stderr)
        return 2
    except DnsError as error:
        print(f"nozama lb: --dns {args.dns}: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    shutdown.finish(0)   # without the interpreter's teardown


def check_pool(text: str) -> str:
    """The pool as a network, if this host owns its addresses (ValueError if not)."""
    try:
        pool = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        raise ValueError(f"--address-pool {text!r} is not an IPv4 network ({error})") from None
    for address in (pool[0], pool[-1]):
        try:
            check_own(str(address))
        except AddressError:
            raise ValueError(
                f"--address-pool {pool}: {address} is not an address of this host. Make "
                f"the pool local first (as root: ip route add local {pool} dev lo), and "
                "route it to this host from the others.") from None
    return str(pool)


class DnsError(Exception):
    """The DNS responder cannot listen where it was asked to."""


async def _main(dataplane: DataPlane, dns_address: tuple[str, int] | None = None) -> None:
    responder = dataplane.dns_responder
    if responder is not None:
        try:
            await responder.start(*dns_address)
        except OSError as error:
            raise DnsError(f"cannot answer DNS there: {error.strerror or error}") from None
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
    if responder is not None:
        await responder.close()
    if runner.done() and not runner.cancelled() and isinstance(runner.exception(), PoolError):
        raise runner.exception()
