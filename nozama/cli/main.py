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

    agent = commands.add_parser("agent", help="run a container instance's agent")
    agent.add_argument("--endpoint", default=os.environ.get("NOZAMA_ENDPOINT",
                                                            "http://127.0.0.1:4566"))
    agent.add_argument("--cluster", default="default")
    agent.add_argument("--availability-zone", help="e.g. us-east-1a")
    agent.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    agent.add_argument("--runtime", choices=("docker", "simulated"), default="docker")
    agent.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE",
                       help="a custom attribute (repeatable)")
    agent.add_argument("--instance-type", default="nozama.local")
    agent.add_argument("--data-dir", help="where the agent keeps its instance identity")
    agent.add_argument("--cleanup-wait", type=float, default=float(os.environ.get(
        "NOZAMA_TASK_CLEANUP_WAIT", "3600")), help="seconds before a stopped task's "
                       "containers are removed (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION)")
    agent.add_argument("--log-level", default=os.environ.get("NOZAMA_LOG_LEVEL", "info"))

    lb = commands.add_parser("lb", help="run the load balancers' data plane")
    where = lb.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="directory of the embedded SQLite database "
                       f"(default: {_default_data_dir()})")
    where.add_argument("--database-url", default=os.environ.get("NOZAMA_DATABASE_URL"))
    lb.add_argument("--log-level", default=os.environ.get("NOZAMA_LOG_LEVEL", "info"))

    up = commands.add_parser("up", help="control plane plus agents on the local Docker Engine")
    up.add_argument("--agents", type=int, default=3)
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--data-dir", default=None)
    up.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    up.add_argument("--runtime", choices=("docker", "simulated"), default="docker")
    up.add_argument("--log-level", default=os.environ.get("NOZAMA_LOG_LEVEL", "info"))
    from nozama.cli import deploy, functions
    deploy.add_parsers(commands)
    functions.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d{12}", getattr(args, "account_id", "0" * 12)):
        parser.error("--account-id must be 12 digits")
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every start-up at INFO; only its warnings matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "server":
        from nozama.cli.server import serve
        return serve(args)
    if args.command == "agent":
        from nozama.cli.agent import run_agent
        return run_agent(args, parser)
    if args.command == "lb":
        from nozama.cli.lb import run_lb
        return run_lb(args)
    if args.command == "up":
        from nozama.cli.up import up
        from nozama.kernel import shutdown
        shutdown.finish(up(args))   # its children are gone: skip the teardown (boto3's)
    if args.command == "functions":
        from nozama.cli import functions
        return functions.run(args)
    if args.command in ("deploy", "watch"):
        from nozama.cli import deploy
        return getattr(deploy, args.command)(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
