"""Every Nozama process stops within 5 s of SIGTERM, mid-work, and exits 0.

Each process is caught doing what it does: an agent with running tasks, log shippers,
a `docker stop` that takes its time and a long poll in flight; a server with an agent
polling, a slow function invocation, idle keep-alive connections and a client that
never reads its answers; the load balancers' data plane with a request in flight to a
slow target; `nozama up` as a whole. An agent stops without stopping its tasks: the
containers of a Docker agent still run afterwards, for the next agent to adopt.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import docker
import pytest

from support.agents import AgentProcess
from support.networks import vpc_of
from support.roles import lambda_role
from support.servers import ROOT, NozamaServer, admin_credentials, free_port, start_dataplane
from support.traffic import PORT, load_balancer
from support.waiting import wait_for

STOP_SECONDS = 5.0
IMAGE = "nozama-test/busybox:latest"
INSTANCE_LABEL = "io.nozama.container-instance-arn"


def stop_in_time(process: subprocess.Popen) -> tuple[int, float]:
    """SIGTERM, then the exit code and how long the exit took; fails past STOP_SECONDS."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"still running {STOP_SECONDS}s after SIGTERM") from None
    return code, time.monotonic() - started


@pytest.fixture
def own(tmp_path):
    """A SQLite server of the test's own (the test stops it; whatever is left is killed)."""
    server = NozamaServer(["--data-dir", str(tmp_path / "data")], tmp_path / "server.log")
    started: list[subprocess.Popen] = []
    yield server, started
    for process in [*started, server.process]:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def connected_instances(ecs, count: int) -> list[str]:
    def found():
        if not ecs.describe_clusters(clusters=["default"])["clusters"]:
            return []
        arns = ecs.list_container_instances(filter="agentConnected == true")
        return len(arns["containerInstanceArns"]) >= count and arns["containerInstanceArns"]
    return wait_for(found, timeout=30)


def run_tasks(ecs, containers: list[dict], count: int = 1, family: str = "app") -> list[str]:
    definition = ecs.register_task_definition(family=family, containerDefinitions=containers)
    arns = []
    for _ in range(count):
        run = ecs.run_task(taskDefinition=definition["taskDefinition"]["taskDefinitionArn"])
        assert run["failures"] == []
        arns.append(run["tasks"][0]["taskArn"])
    return arns


def all_running(ecs, arns: list[str], timeout: float = 60) -> None:
    wait_for(lambda: all(t["lastStatus"] == "RUNNING"
                         for t in ecs.describe_tasks(tasks=arns)["tasks"]), timeout=timeout)


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line contains `text`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if text.encode() in cmdline and state != "Z":
                found.append(int(entry))
    return found


# --- agents ----------------------------------------------------------------------------

def test_a_simulated_agent_with_running_tasks_stops_in_time(own, tmp_path):
    server, _ = own
    server.start()
    ecs = server.client("ecs")
    agent = AgentProcess(server, "us-east-1", "us-east-1a", tmp_path / "agent").start()
    connected_instances(ecs, 1)
    arns = run_tasks(ecs, [{"name": "app", "image": "app", "memory": 32,
                            "portMappings": [{"containerPort": 80}], "stopTimeout": 120}],
                     count=5)
    all_running(ecs, arns)
    ecs.stop_task(task=arns[0])      # one stop in flight, waiting out its stop timeout
    time.sleep(0.5)                  # the agent is back in its long poll

    code, _ = stop_in_time(agent.process)

    assert code == 0
    # The agent's exit did not stop its tasks.
    statuses = {t["lastStatus"] for t in ecs.describe_tasks(tasks=arns[1:])["tasks"]}
    assert statuses == {"RUNNING"}


@pytest.fixture
def engine():
    client = docker.from_env()
    yield client
    client.close()


def running_tasks(engine, instances: list[str]) -> set[str]:
    """The ARNs of the tasks whose containers run on these instances."""
    return {c.attrs["Labels"]["com.amazonaws.ecs.task-arn"] for i in instances
            for c in engine.containers.list(sparse=True, filters={
                "label": f"{INSTANCE_LABEL}={i}", "status": "running"})}


def test_a_docker_agent_stops_in_time_and_leaves_its_containers_running(own, tmp_path,
                                                                         engine):
    server, _ = own
    server.start()
    ecs = server.client("ecs")
    agent = AgentProcess(server, "us-east-1", "us-east-1a", tmp_path / "agent",
                         runtime="docker").start()
    (instance,) = connected_instances(ecs, 1)
    try:
        chatty = run_tasks(ecs, [{
            "name": "app", "image": IMAGE, "memory": 32, "stopTimeout": 1,
            "command": ["sh", "-c", "while true; do echo tick; sleep 0.02; done"],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/shutdown", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "app", "awslogs-create-group": "true"}}}],
            count=2, family="chatty")
        # PID 1 of a container ignores SIGTERM: `docker stop` waits out the stop timeout.
        stubborn = run_tasks(ecs, [{"name": "app", "image": IMAGE, "memory": 32,
                                    "command": ["sleep", "600"], "stopTimeout": 60}],
                             family="stubborn")
        all_running(ecs, chatty + stubborn)
        logs = server.client("logs")
        wait_for(lambda: _shipped(logs, "/ecs/shutdown"), timeout=30)
        ecs.stop_task(task=stubborn[0])
        time.sleep(1.0)              # `docker stop` has begun; the agent polls again

        code, _ = stop_in_time(agent.process)

        assert code == 0
        assert set(chatty) <= running_tasks(engine, [instance])
    finally:
        for container in engine.containers.list(all=True, sparse=True, filters={
                "label": f"{INSTANCE_LABEL}={instance}"}):
            container.remove(force=True)


def _shipped(logs, group: str) -> bool:
    try:
        return bool(logs.filter_log_events(logGroupName=group, limit=5)["events"])
    except logs.exceptions.ResourceNotFoundException:
        return False


# --- server and load balancers ---------------------------------------------------------

SLOW_FUNCTION = "import time\n\ndef handler(event, context):\n    time.sleep(60)\n"


def _slow_function_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", SLOW_FUNCTION)
    return buffer.getvalue()


def _workers_of(function_name: str) -> list[int]:
    wanted = f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if wanted in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_busy_server_stops_in_time(own, tmp_path):
    server, _ = own
    server.start()
    ecs = server.client("ecs")
    agent = AgentProcess(server, "us-east-1", "us-east-1a", tmp_path / "agent").start()
    try:
        connected_instances(ecs, 1)      # its agent waits in a long poll
        lam = server.client("lambda")
        lam.create_function(FunctionName="slow", Runtime="python3.11", Handler="app.handler",
                            Role=lambda_role(server), Timeout=120,
                            Code={"ZipFile": _slow_function_package()})
        invoker = threading.Thread(target=_invoke_quietly, args=(server, "slow"), daemon=True)
        invoker.start()
        wait_for(lambda: _workers_of("slow"), timeout=30)
        # An idle keep-alive connection, a half-sent request, and a client that sends
        # requests without ever reading the answers.
        idle = socket.create_connection(("127.0.0.1", server.port))
        idle.sendall(b"GET /_nozama/health HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.recv(65536)
        half = socket.create_connection(("127.0.0.1", server.port))
        half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        deaf = socket.create_connection(("127.0.0.1", server.port))
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.sendall(b"GET /_nozama/health HTTP/1.1\r\nHost: x\r\n\r\n" * 20000)
        time.sleep(0.5)

        code, _ = stop_in_time(server.process)

        assert code == 0
        # The function's worker did not outlive the server.
        wait_for(lambda: not _workers_of("slow"), timeout=2)
    finally:
        agent.stop()


def _invoke_quietly(server, name: str) -> None:
    try:
        server.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    except Exception:  # noqa: BLE001 - the server goes away mid-call
        pass


class SlowTarget:
    """A target that answers its health check at once and every other request after a
    minute."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path != "/health":
                    time.sleep(60)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_load_balancers_data_plane_stops_in_time(own, tmp_path):
    server, started = own
    server.start()
    lb = start_dataplane(server, tmp_path / "lb.log")
    started.append(lb)
    target = SlowTarget()
    try:
        elb = server.client("elbv2")
        group = elb.create_target_group(
            Name="slow", Protocol="HTTP", Port=target.port, VpcId=vpc_of(elb), TargetType="ip",
            HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2)["TargetGroups"][0][
            "TargetGroupArn"]
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.1"}])
        arn, address = load_balancer(elb, "shutdown")
        elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=PORT, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group}])
        # A request in flight to the slow target, and an idle connection.
        busy = wait_for(lambda: _connect(address), timeout=15)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        idle = socket.create_connection((address, PORT))
        time.sleep(1.0)

        code, _ = stop_in_time(lb)

        assert code == 0
        busy.close()
        idle.close()
    finally:
        target.close()
        server.stop()


def _connect(address: str) -> socket.socket | None:
    try:
        return socket.create_connection((address, PORT), timeout=1)
    except OSError:
        return None


# --- nozama up -------------------------------------------------------------------------

def start_up(tmp_path: Path, runtime: str, agents: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nozama", "up", "--runtime", runtime, "--agents", str(agents),
         "--port", str(port), "--data-dir", str(tmp_path / "up"), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "up.log", "ab"), cwd=ROOT)
    ready = json.loads(process.stdout.readline())     # the first line says it is ready
    return process, ready["endpoint"]


def _client(endpoint: str, service: str, data_dir: Path):
    """A client with the administrator key `nozama up` announced (its data dir's file)."""
    import boto3
    key, secret = admin_credentials(data_dir)
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


def test_nozama_up_stops_as_a_whole_in_time(tmp_path):
    up, endpoint = start_up(tmp_path, "simulated", agents=3)
    try:
        ecs = _client(endpoint, "ecs", tmp_path / "up")
        arns = run_tasks(ecs, [{"name": "app", "image": "app", "memory": 32,
                                "portMappings": [{"containerPort": 80}]}], count=6)
        all_running(ecs, arns)

        code, _ = stop_in_time(up)

        assert code == 0
        # No process of it is left: server, data plane, agents.
        assert processes_mentioning(str(tmp_path / "up")) == []
    finally:
        for pid in processes_mentioning(str(tmp_path / "up")):
            os.kill(pid, signal.SIGKILL)
        if up.poll() is None:
            up.kill()


def test_nozama_up_stopped_while_starting_leaves_nothing_behind(tmp_path):
    port = free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "nozama", "up", "--runtime", "simulated", "--agents", "3",
         "--port", str(port), "--data-dir", str(tmp_path / "up"), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "up.log", "ab"), cwd=ROOT)
    try:
        # The server answers: `nozama up` is starting the data plane and the agents.
        wait_for(lambda: _connect_port(port), timeout=30)

        code, _ = stop_in_time(up)

        assert code == 0
        assert processes_mentioning(str(tmp_path / "up")) == []
    finally:
        for pid in processes_mentioning(str(tmp_path / "up")):
            os.kill(pid, signal.SIGKILL)
        if up.poll() is None:
            up.kill()


def _connect_port(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_nozama_up_with_docker_agents_leaves_their_containers_running(tmp_path, engine):
    up, endpoint = start_up(tmp_path, "docker", agents=2)
    ecs = _client(endpoint, "ecs", tmp_path / "up")
    instances = connected_instances(ecs, 2)
    try:
        arns = run_tasks(ecs, [{"name": "app", "image": IMAGE, "memory": 32,
                                "command": ["sleep", "600"], "stopTimeout": 1}], count=2)
        all_running(ecs, arns)

        code, _ = stop_in_time(up)

        assert code == 0
        assert processes_mentioning(str(tmp_path / "up")) == []
        assert running_tasks(engine, instances) == set(arns)
    finally:
        for pid in processes_mentioning(str(tmp_path / "up")):
            os.kill(pid, signal.SIGKILL)
        if up.poll() is None:
            up.kill()
        for instance in instances:
            for container in engine.containers.list(all=True, sparse=True, filters={
                    "label": f"{INSTANCE_LABEL}={instance}"}):
                container.remove(force=True)
