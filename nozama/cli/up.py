"""`nozama up`: a whole cluster on this machine: the control plane, the load balancers'
data plane, ECR's image registry (when docker-registry is installed) and N agents.

Agents spread over the region's three zones (a, b, c). Everything runs as
child processes of this one; Ctrl-C or SIGTERM, at any moment from the first
child on, stops them all together within 5 s (one that is still running after
STOP_SECONDS is killed), but not the tasks' containers: the next `nozama up`
adopts them.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from nozama.store import admin_key

READY_TIMEOUT = 30.0
AGENT_CREDENTIALS = "agent-credentials"
AGENT_USER = "nozama-agent"
AGENT_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
# What ECS's documentation adds to the instance role for the awslogs driver: creating
# the group (awslogs-create-group), and reading a stream back (an adopted container's
# shipping resumes after the last event shipped).
AWSLOGS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Resource": "*", "Action": [
        "logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:GetLogEvents"]}]})
STOP_SECONDS = 4.5      # what the children get, together, to exit after the stop signal


class _Stop(Exception):
    """SIGINT or SIGTERM arrived."""


class _StopSignals:
    """Turns SIGINT and SIGTERM into _Stop, except while a child is being spawned (it
    would be left behind, unrecorded): then _Stop comes right after."""

    def __init__(self):
        self.received = False
        self.spawning = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, *_) -> None:
        self.received = True
        if not self.spawning:
            raise _Stop()

    def spawn(self, children: list[subprocess.Popen], arguments: list[str]) -> None:
        self.spawning = True
        try:
            children.append(_spawn(arguments))
        finally:
            self.spawning = False
        if self.received:
            raise _Stop()


def up(args: argparse.Namespace) -> int:
    from nozama.cli.main import _default_data_dir
    data_dir = Path(args.data_dir or _default_data_dir()).expanduser().resolve()
    endpoint = f"http://{args.host}:{args.port}"
    started = time.monotonic()
    allowed = [f"--allowed-host={name}" for name in args.allowed_host]
    signals = _StopSignals()
    children: list[subprocess.Popen] = []
    try:
        signals.spawn(children, ["server", "--host", args.host, "--port", str(args.port),
                                 "--data-dir", str(data_dir), "--log-level", args.log_level,
                                 *allowed])
        _wait_healthy(endpoint, children[0])
        admin = admin_key.read(data_dir)
        if admin is None:
            raise SystemExit(f"nozama up: {data_dir / admin_key.FILE_NAME} is missing (the "
                             "administrator key was deleted): nozama up needs it to give "
                             "the agents a key of their own")
        agent_file = agent_credentials(endpoint, args.region, admin, data_dir)
        signals.spawn(children, ["lb", "--data-dir", str(data_dir),
                                 "--log-level", args.log_level])
        registry = _registry_address(args.registry_port)
        if registry is not None:
            signals.spawn(children, ["registry", "--address", registry, "--data-dir",
                                     str(data_dir), "--log-level", args.log_level])
        zones = [f"{args.region}{z}" for z in "abc"]
        for n in range(args.agents):
            zone = zones[n % 3]
            signals.spawn(children, [
                "agent", "--endpoint", endpoint, "--region", args.region,
                "--cluster", "default", "--availability-zone", zone, "--runtime", args.runtime,
                "--data-dir", str(data_dir / "agents" / f"agent-{n}"),
                "--credentials-file", str(agent_file), "--log-level", args.log_level])
        _wait_agents(endpoint, args.region, args.agents, children, admin)
        if registry is not None:
            _wait_registry(registry, children)
        _announce(endpoint, args, time.monotonic() - started, admin, registry)
        return _supervise(children)
    except _Stop:
        return 0
    finally:
        _stop(children)


def _spawn(arguments: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nozama", *arguments])


def _wait_healthy(endpoint: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("nozama server exited; see its log above")
        try:
            with urllib.request.urlopen(f"{endpoint}/_nozama/health", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nozama server did not answer on {endpoint}")


def _client(service: str, endpoint: str, region: str, key: tuple[str, str]):
    import boto3
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key[0], aws_secret_access_key=key[1])


def agent_credentials(endpoint: str, region: str, admin: tuple[str, str], data_dir: Path
                      ) -> Path:
    """The agents' own key, in <data dir>/agent-credentials (mode 0600): the IAM user
    nozama-agent's, whose only policy is the ECS agent's (AmazonEC2ContainerServicefor
    EC2Role). Made at the first start, and again if it no longer works (deleted or made
    inactive): the agents never hold the administrator key."""
    from botocore.exceptions import ClientError
    path = data_dir / AGENT_CREDENTIALS
    saved = admin_key.read_file(path)
    if saved is not None:
        try:
            _client("sts", endpoint, region, saved).get_caller_identity()
            return path
        except ClientError:
            pass   # refused: make a new one
    iam = _client("iam", endpoint, region, admin)
    try:   # the keys that stopped working go (a user has two at most)
        for key in iam.list_access_keys(UserName=AGENT_USER)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=AGENT_USER, AccessKeyId=key["AccessKeyId"])
    except iam.exceptions.NoSuchEntityException:
        pass
    admin_key.write_file(path, *new_agent_key(iam, AGENT_USER))
    return path


def new_agent_key(iam, user: str) -> tuple[str, str]:
    """A new access key (id, secret) of the IAM user `user`, made with an agent's
    permissions if missing. `iam`: a client with the administrator's key."""
    try:
        iam.create_user(UserName=user)
        grant_agent_policies(iam, user)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    made = iam.create_access_key(UserName=user)["AccessKey"]
    return made["AccessKeyId"], made["SecretAccessKey"]


def grant_agent_policies(iam, user: str) -> None:
    """An agent's permissions, on an IAM user: the ECS agent's and awslogs'."""
    iam.attach_user_policy(UserName=user, PolicyArn=AGENT_POLICY)
    iam.put_user_policy(UserName=user, PolicyName="awslogs", PolicyDocument=AWSLOGS_POLICY)


def _wait_agents(endpoint: str, region: str, count: int, children,
                 admin: tuple[str, str]) -> None:
    """Until `count` instances of the default cluster have a connected agent."""
    ecs = _client("ecs", endpoint, region, admin)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise SystemExit("an agent exited; see its log above")
        try:
            arns = ecs.list_container_instances(cluster="default",
                                                filter="agentConnected == true")
            if len(arns["containerInstanceArns"]) >= count:
                return
        except ecs.exceptions.ClusterNotFoundException:
            pass
        time.sleep(0.1)
    raise SystemExit("the agents did not connect in time")


def _registry_address(port: int) -> str | None:
    """Where `nozama registry` listens: 127.0.0.1:`port`, or another free port if that
    one is taken; None (with the reason on stderr) when it cannot run here."""
    from nozama.cli.registry import missing_programs
    if port == 0:
        return None
    why = missing_programs()
    if why is not None:
        print(f"nozama up: no ECR image registry: {why}", file=sys.stderr)
        return None
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.bind(("127.0.0.1", 0))
            print(f"nozama up: port {port} is taken; the image registry listens on "
                  f"{sock.getsockname()[1]}", file=sys.stderr)
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _wait_registry(address: str, children) -> None:
    """Until the registry's front answers (its 401 challenge)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise SystemExit("a Nozama process exited; see its log above")
        try:
            urllib.request.urlopen(f"http://{address}/v2/", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the image registry did not answer on {address}")


def _announce(endpoint: str, args: argparse.Namespace, seconds: float,
              key: tuple[str, str], registry: str | None = None) -> None:
    # The administrator key the server made at its first start (store/admin_key.py).
    print(json.dumps({"endpoint": endpoint, "agents": args.agents, "region": args.region,
                      "registry": registry, "readyInSeconds": round(seconds, 2)}))
    print(f"""
Nozama is up: {endpoint}, {args.agents} agents in {args.region}a/b/c, cluster "default".
Use it with:

  export AWS_ENDPOINT_URL={endpoint}
  export AWS_DEFAULT_REGION={args.region}
  export AWS_ACCESS_KEY_ID={key[0]} AWS_SECRET_ACCESS_KEY={key[1]}

{_registry_text(registry, args.region)}\
Ctrl-C stops Nozama; running containers keep running and are adopted next time.
""", flush=True)


def _registry_text(registry: str | None, region: str) -> str:
    if registry is None:
        return ""
    return f"""ECR images: push to {registry}/{region}/<repository>:<tag> after

  aws ecr get-login-password | docker login --username AWS --password-stdin {registry}

"""


def _supervise(children: list[subprocess.Popen]) -> int:
    """Until a stop signal (_Stop), or until a child exits (1)."""
    while True:
        if any(child.poll() is not None for child in children):
            print("a Nozama process exited; stopping the rest", file=sys.stderr)
            return 1
        time.sleep(0.2)


def _stop(children: list[subprocess.Popen]) -> None:
    """SIGTERM to every child at once; SIGKILL to those still running after
    STOP_SECONDS (an agent's containers survive either)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)     # a second Ctrl-C must not cut this short
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"nozama {child.args[3]} (pid {child.pid}) did not stop in time; killing it",
                  file=sys.stderr)
            child.kill()
            child.wait()
