"""`nozama registry`: ECR's image registry (Docker Distribution behind a front and a gate,
registry/), on the store `nozama server` runs on.

Start-up: the token signer from the store, config.yml and the signer's certificate in
<data dir>/registry/<store>/, garbage collection while Distribution is stopped,
Distribution (restarted whenever it dies), the gate, the HAProxy front, then the
`registries` row that names it as the ECR proxy endpoint (renewed every few seconds,
removed on a clean stop), the tombstones and the adoption of unrecorded pushes. It prints
one JSON line once it serves. SIGTERM or Ctrl-C stop everything it started.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:5000"


def add_parser(commands, command, log_level: str, log_help: str, data_dir: str) -> None:
    registry = command(commands, "registry", "serve ECR's images (Docker Distribution)", (
        "nozama registry                                # beside `nozama server`, same data dir",
        "nozama registry --address 10.0.0.5:5000        # HTTPS, Nozama's CA",
        "nozama registry --database-url postgresql://nozama:secret@db/nozama"))
    registry.add_argument("--address", default=DEFAULT_ADDRESS, metavar="HOST:PORT",
                          help="where Docker clients reach the registry: plain HTTP on a "
                          "loopback address, HTTPS with a certificate from Nozama's CA on "
                          f"any other (default: {DEFAULT_ADDRESS})")
    registry.add_argument("--storage", metavar="DIR",
                          help="where Distribution keeps the images' blobs and manifests "
                          "(default: <data dir>/registry/<store>/storage)")
    registry.add_argument("--data-dir", help="directory of the embedded SQLite database, as "
                          "given to `nozama server`, and of the registry's configuration "
                          f"and logs (in registry/) (default: {data_dir})")
    registry.add_argument("--database-url", default=None,
                          help="the PostgreSQL URL given to `nozama server` "
                          "(env NOZAMA_DATABASE_URL)")
    registry.add_argument("--log-level", default=log_level, help=log_help)


def missing_programs() -> str | None:
    """Why `nozama registry` cannot run here, or None."""
    from nozama.lb import haproxy_master
    from nozama.registry import distribution
    if distribution.executable() is None:
        return (f"{distribution.EXECUTABLE} is not installed (Debian: apt-get install "
                "docker-registry; `make run` installs it)")
    if haproxy_master.executable() is None:
        return "HAProxy is not installed (Debian: apt-get install haproxy)"
    return None


def run_registry(args: argparse.Namespace) -> int:
    import uvloop

    from nozama.cli.main import _default_data_dir
    from nozama.kernel import shutdown
    from nozama.kernel.clock import Clock
    from nozama.lb import hosts
    from nozama.registry import front
    from nozama.registry.service import Registry, StartError
    from nozama.store import Store
    from nozama.store.db import sqlite_url
    shutdown.catch_early_stop()
    why = missing_programs()
    if why is not None:
        print(f"nozama registry: {why}", file=sys.stderr)
        return 2
    try:
        address = front.parse_address(args.address)
    except ValueError as error:
        print(f"nozama registry: --address {error}", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir or _default_data_dir()).expanduser().resolve()
    url = args.database_url or os.environ.get("NOZAMA_DATABASE_URL") or \
        sqlite_url(str(data_dir))
    run_dir = data_dir / "registry" / hosts.block_name(url)
    storage = Path(args.storage).expanduser().resolve() if args.storage else run_dir / "storage"
    store = Store.open(url)
    try:
        code = uvloop.run(Registry(store, Clock(), address, run_dir, storage).main())
    except (StartError, RuntimeError) as error:
        print(f"nozama registry: {error}", file=sys.stderr)
        code = 1
    finally:
        store.close()
    shutdown.finish(code)
