"""The `nozama` command."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

from nozama import __version__
from nozama.cli import endpoints


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.environ.get("NOZAMA_DATA_DIR") or os.path.join(base, "nozama")


def _parser() -> argparse.ArgumentParser:
    from nozama.cli.help import Formatter, command, examples
    parser = argparse.ArgumentParser(
        prog="nozama", description=__doc__, formatter_class=Formatter, epilog=examples(
            "nozama up                      # control plane, load balancers, 3 agents",
            "nozama server --data-dir ./state",
            "nozama deploy web --task-definition web:2 --strategy CANARY"))
    parser.add_argument("--version", action="version", version=f"nozama {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    log_level = os.environ.get("NOZAMA_LOG_LEVEL", "info")
    log_help = "debug, info, warning or error (env NOZAMA_LOG_LEVEL)"

    server = command(commands, "server", "serve the AWS API until stopped", (
        "nozama server                                  # SQLite in the default data dir",
        "nozama server --database-url postgresql://nozama:secret@db/nozama",
        "nozama server --host 0.0.0.0 --tls              # HTTPS; clients: nozama ca"))
    server.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 for every interface)")
    server.add_argument("--port", type=int, default=4566, help="TCP port of the AWS API")
    server.add_argument("--data-dir", help="directory of the embedded SQLite database and "
                        "of the server's own files: secrets.key, which seals the access "
                        "keys' secrets, and admin-credentials, the first administrator key "
                        "(with --database-url, these files only: every server of one "
                        f"database needs the same secrets.key) (default: {_default_data_dir()}"
                        "; env NOZAMA_DATA_DIR)")
    server.add_argument("--database-url", default=os.environ.get("NOZAMA_DATABASE_URL"),
                        help="postgresql://user:password@host/db to keep state in PostgreSQL "
                        "instead of SQLite (env NOZAMA_DATABASE_URL)")
    server.add_argument("--account-id", default=os.environ.get("NOZAMA_ACCOUNT_ID",
                                                                "000000000000"),
                        help="the 12-digit account in every ARN (env NOZAMA_ACCOUNT_ID)")
    server.add_argument("--log-level", default=log_level, help=log_help)
    server.add_argument("--auth", choices=("on", "off"),
                        default=os.environ.get("NOZAMA_AUTH", "on"),
                        help="on (the default): verify every request's SigV4 signature "
                        "against the store's access keys and authorize it by the key's IAM "
                        "policies; off: accept any credentials, as a local emulator does "
                        "(only with a loopback --host; env NOZAMA_AUTH)")
    server.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a certificate that Nozama's certificate "
                        "authority issues at start (clients trust `nozama ca`)")
    server.add_argument("--tls-cert", metavar="FILE",
                        help="serve HTTPS with this certificate chain (PEM)")
    server.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert")
    server.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="a further name clients may call the server by (the Host "
                        "header; repeatable). Always allowed: the address it is bound to, "
                        "localhost when bound to loopback or 0.0.0.0, and the machine's "
                        "hostname and addresses when bound to 0.0.0.0. Example: "
                        "--allowed-host host.docker.internal")
    server.add_argument("--workers", type=_positive, default=1, metavar="N",
                        help="API processes sharing the port (SO_REUSEPORT), each a server "
                        "of the store, one of them leading the controllers; a supervisor "
                        "restarts one that dies. SQLite: on one host only (default: 1)")
    # Set by the supervisor of --workers for each of its workers.
    server.add_argument("--worker-of", type=int, help=argparse.SUPPRESS)

    agent = command(commands, "agent", "run a container instance's agent", (
        "nozama agent --cluster default --availability-zone us-east-1a",
        "nozama agent --endpoint http://10.0.0.5:4566 --region eu-west-1 "
        "--availability-zone eu-west-1b --attribute disk=ssd",
        "nozama agent --runtime simulated --cleanup-wait 5"))
    endpoints.add_argument(agent, ("NOZAMA_ENDPOINT",), "the control plane")
    agent.add_argument("--cluster", default="default", help="the ECS cluster to join")
    agent.add_argument("--availability-zone",
                       help="the instance's zone, e.g. us-east-1a (default: none)")
    agent.add_argument("--region", help="the cluster's region (default: the zone's region, "
                       "else env AWS_DEFAULT_REGION, else us-east-1)")
    agent.add_argument("--ca-bundle", metavar="FILE", default=os.environ.get("AWS_CA_BUNDLE"),
                       help="the certificates that an https:// --endpoint is trusted by "
                       "(env AWS_CA_BUNDLE; default: the system's)")
    agent.add_argument("--credentials-file", metavar="FILE",
                       help="the agent's own access key, in the AWS credentials file format "
                       "(its [default] profile, or AWS_PROFILE's); without it, where the "
                       "AWS SDKs look: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then "
                       "AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials. The key's "
                       "policy needs only the ECS agent's actions "
                       "(AmazonEC2ContainerServiceforEC2Role)")
    agent.add_argument("--disable-privileged", action="store_true",
                       default=os.environ.get("ECS_DISABLE_PRIVILEGED", "").lower() == "true",
                       help="never run privileged containers here, as the ECS agent's "
                       "ECS_DISABLE_PRIVILEGED=true (env ECS_DISABLE_PRIVILEGED)")
    agent.add_argument("--address", help="the address this host is reached at by load "
                       "balancers and clients (default: the source address of its route to "
                       "the control plane)")
    agent.add_argument("--runtime", choices=("docker", "simulated"), default="docker",
                       help="run tasks' containers on the local Docker Engine, or simulate "
                       "them (no containers; for benchmarks and fault tests)")
    agent.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE",
                       help="a custom attribute (repeatable)")
    agent.add_argument("--instance-type", default="nozama.local",
                       help="the ecs.instance-type attribute")
    agent.add_argument("--data-dir", help="where the agent keeps its instance identity "
                       "(default: <data dir>/agents/<region>-<cluster>-<zone>)")
    agent.add_argument("--cleanup-wait", metavar="SECONDS", type=float, default=float(os.environ.get(
        "NOZAMA_TASK_CLEANUP_WAIT", "3600")), help="seconds before a stopped task's "
                       "containers are removed (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION; "
                       "env NOZAMA_TASK_CLEANUP_WAIT)")
    agent.add_argument("--log-level", default=log_level, help=log_help)

    lb = command(commands, "lb", "run the load balancers' data plane", (
        "nozama lb                                      # beside `nozama server`, same data dir",
        "nozama lb --database-url postgresql://nozama:secret@db/nozama",
        "nozama lb --address-pool 198.18.64.0/24         # addresses other hosts reach"))
    lb.add_argument("--data-dir", help="directory of the embedded SQLite database, as given "
                    "to `nozama server`, and of HAProxy's configuration, sockets and log "
                    f"(in lb/) (default: {_default_data_dir()})")
    lb.add_argument("--database-url", default=os.environ.get("NOZAMA_DATABASE_URL"),
                    help="the PostgreSQL URL given to `nozama server` "
                    "(env NOZAMA_DATABASE_URL)")
    lb.add_argument("--address-pool", metavar="CIDR",
                    help="the IPv4 addresses this host owns for load balancers, one each "
                    "(default: loopback addresses 127.77.0.0/16, reached from this machine "
                    "only); make them local first: ip route add local CIDR dev lo")
    lb.add_argument("--dns", metavar="ADDRESS[:PORT]",
                    help="answer the load balancers' DNS names (NAME.REGION.elb.localhost) "
                    "here, over UDP and TCP (port 53 unless given), for clients on other "
                    "hosts")
    lb.add_argument("--log-level", default=log_level, help=log_help)

    up = command(commands, "up", "control plane plus agents on the local Docker Engine", (
        "nozama up",
        "nozama up --agents 6 --port 4567 --data-dir ./state",
        "nozama up --runtime simulated --region eu-west-1"))
    up.add_argument("--agents", metavar="N", type=int, default=3,
                    help="how many agents, spread over the region's zones a, b and c")
    up.add_argument("--port", type=int, default=4566, help="TCP port of the AWS API")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on")
    up.add_argument("--data-dir", default=None, help="where the state is kept "
                    f"(default: {_default_data_dir()})")
    up.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                    help="the agents' region (env AWS_DEFAULT_REGION)")
    up.add_argument("--runtime", choices=("docker", "simulated"), default="docker",
                    help="the agents' runtime (see `nozama agent --help`)")
    up.add_argument("--registry-port", type=int, default=5000,
                    help="port of ECR's image registry on 127.0.0.1 (`nozama registry`; "
                    "another free port if it is taken; 0: no registry)")
    up.add_argument("--log-level", default=log_level, help=log_help)
    up.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                    help="a further name the server answers to (see `nozama server --help`)")
    from nozama.cli import ca, deploy, functions, registry
    registry.add_parser(commands, command, log_level, log_help, _default_data_dir())
    deploy.add_parsers(commands)
    functions.add_parsers(commands)
    ca.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    endpoints.resolve(args, parser)
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
    if args.command == "registry":
        from nozama.cli.registry import run_registry
        return run_registry(args)
    if args.command == "up":
        from nozama.cli.up import up
        from nozama.kernel import shutdown
        shutdown.finish(up(args))   # its children are gone: skip the teardown (boto3's)
    if args.command == "functions":
        from nozama.cli import functions
        return functions.run(args)
    if args.command == "ca":
        from nozama.cli import ca
        return ca.run(args)
    if args.command in ("deploy", "watch"):
        from nozama.cli import deploy
        return getattr(deploy, args.command)(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 64")
    return value
