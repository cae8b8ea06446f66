"""The `nozama` command."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

from nozama import __version__


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.environ.get("NOZAMA_DATA_DIR") or os.path.join(base, "nozama")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nozama", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nozama {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="serve the AWS API until stopped")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=4566)
    where = server.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="directory of the embedded SQLite database "
                       f"(default: {_default_data_dir()})")
    where.add_argument("--database-url", default=os.environ.get("NOZAMA_DATABASE_URL"),
                       help="postgresql://user:password@host/db to keep state in PostgreSQL")
    server.add_argument("--account-id", default=os.environ.get("NOZAMA_ACCOUNT_ID",
                                                               "000000000000"))
    server.add_argument("--log-level", default=os.environ.get("NOZAMA_LOG_LEVEL", "info"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "account_id", "0" * 12) and not re.fullmatch(r"\d{12}", args.account_id):
        parser.error("--account-id must be 12 digits")
    if args.command == "server":
        from nozama.cli.server import serve
        logging.basicConfig(level=args.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
