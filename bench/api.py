#!/usr/bin/env python3
"""API benchmark: Nozama against moto_server, side by side.

For RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions and
DescribeClusters, at concurrency 1 and 32, measures requests per second and
p50/p99 latency of each server, then checks the targets:

  - throughput: Nozama >= 3x moto on every (operation, concurrency) cell;
  - latency:    Nozama p99 < 10 ms at concurrency 32, every operation;
  - a cell with any non-200 response fails.

How: the script starts both servers (Nozama on a fresh temporary data dir,
moto in memory), waits for them, and seeds each the same way (CreateCluster
"bench", 5 families x 10 revisions of a two-container task definition). Every
request is serialized by botocore and SigV4-signed into raw bytes, again for
each cell (a signature is valid for 15 minutes): for Nozama, which verifies
signatures as it does by default, with the administrator key it writes into
its data dir; for moto, which does not, with a made-up key. A separate
load-generator process (asyncio streams, uvloop when present) replays
those bytes over keep-alive HTTP/1.1 connections, one per concurrent worker,
reconnecting transparently (and counting it) when a server closes a
connection. Only one server is loaded at a time. Each cell's measured time is
split into rounds (--rounds) that alternate the servers, each round after a
short warm-up, so that a slow patch of a shared machine does not fall on one
server only. Before each round the script waits (up to --quiet-wait) for
processes outside the benchmark to go idle, measures the CPU they use during
the round, and runs a disturbed round again (up to --reruns times, within
--noise-budget seconds of waiting and reruns for the whole run). On Linux
the servers are pinned to CPU 0 and the load generator (and this process) to
the other CPUs, so that the two never compete for a core (--no-pin to let the
OS schedule).

Cells run in this order: DescribeClusters, DescribeTaskDefinition,
ListTaskDefinitions, RegisterTaskDefinition (last, so that the List and
Describe cells see the same 50 seeded revisions on both servers).

  python3 bench/api.py                  # ~1.5 minutes (quiet machine), prints the table
  python3 bench/api.py --write-docs     # also updates docs/benchmarks.md
  python3 bench/api.py --duration 10 --rounds 5 --concurrency 1 8 32

Exit status: 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import datetime
import json
import math
import multiprocessing
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cluster import admin_key  # noqa: E402
from _sigv4 import signed_request  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN_MARK = "<!-- bench/api.py results: begin -->"
END_MARK = "<!-- bench/api.py results: end -->"

REGION = "us-east-1"
ACCOUNT = "000000000000"
PEER_KEY = ("AKIDBENCHMARK0000000", "bench")   # moto accepts any key
CLUSTER = "bench"
FAMILIES = [f"bench-web-{i}" for i in range(5)]
REVISIONS_PER_FAMILY = 10
REGISTER_FAMILY = FAMILIES[0]
DESCRIBE_FAMILY = FAMILIES[2]

OPERATIONS = ["DescribeClusters", "DescribeTaskDefinition", "ListTaskDefinitions",
              "RegisterTaskDefinition"]
THROUGHPUT_RATIO_TARGET = 3.0
P99_TARGET_MS = 10.0
P99_TARGET_CONCURRENCY = 32
# Other processes using this much CPU (in cores) during a cell make its figures suspect.
OTHER_CPU_WARNING = 0.10


def task_definition(family: str) -> dict:
    """A realistic two-container task definition (the same for both servers)."""
    def log_config(prefix: str) -> dict:
        return {"logDriver": "awslogs",
                "options": {"awslogs-group": f"/ecs/{family}", "awslogs-region": REGION,
                            "awslogs-stream-prefix": prefix}}

    return {
        "family": family,
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [
            {
                "name": "proxy",
                "image": "public.ecr.aws/nginx/nginx:1.27-alpine",
                "essential": True,
                "cpu": 128,
                "memory": 256,
                "memoryReservation": 128,
                "portMappings": [
                    {"containerPort": 80, "hostPort": 0, "protocol": "tcp"},
                    {"containerPort": 443, "hostPort": 0, "protocol": "tcp"},
                ],
                "links": ["app"],
                "environment": [
                    {"name": "UPSTREAM", "value": "http://app:8080"},
                    {"name": "WORKER_CONNECTIONS", "value": "1024"},
                    {"name": "CLIENT_MAX_BODY_SIZE", "value": "10m"},
                ],
                "logConfiguration": log_config("proxy"),
                "dependsOn": [{"containerName": "app", "condition": "START"}],
            },
            {
                "name": "app",
                "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{family}:2024.11.3",
                "essential": True,
                "cpu": 384,
                "memory": 768,
                "command": ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "4", "app:wsgi"],
                "workingDirectory": "/srv/app",
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
                "environment": [
                    {"name": "APP_ENV", "value": "production"},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "DATABASE_HOST", "value": "db.internal.example.com"},
                    {"name": "DATABASE_PORT", "value": "5432"},
                    {"name": "FEATURE_FLAGS", "value": "checkout-v2,search-suggest"},
                ],
                "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
                "logConfiguration": log_config("app"),
            },
        ],
        "tags": [{"key": "team", "value": "payments"}, {"key": "env", "value": "bench"}],
    }


def operation_params() -> dict[str, dict]:
    return {
        "DescribeClusters": {"clusters": [CLUSTER]},
        "DescribeTaskDefinition": {"taskDefinition": DESCRIBE_FAMILY},
        "ListTaskDefinitions": {},
        "RegisterTaskDefinition": task_definition(REGISTER_FAMILY),
    }


# --- the load generator (runs in its own process) ---------------------------

class _Closed(Exception):
    """The server closed the connection before a complete response."""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, int]:
    """(status, keep_alive, body_size) of one HTTP/1.x response."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        raise _Closed() from error
    lines = head.split(b"\r\n")
    version, status = lines[0][:8], int(lines[0].split(b" ", 2)[1])
    keep_alive = version == b"HTTP/1.1"
    length, chunked = None, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            value = value.strip().lower()
            keep_alive = value != b"close" and (keep_alive or value == b"keep-alive")
    try:
        if chunked:
            size = 0
            while True:
                chunk = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if chunk == 0:
                    # optional trailers, then the empty line that ends the body
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                await reader.readexactly(chunk + 2)
                size += chunk
        elif length is not None:
            size = len(await reader.readexactly(length))
        else:
            size = len(await reader.read())
            keep_alive = False
    except asyncio.IncompleteReadError as error:
        raise _Closed() from error
    return status, keep_alive, size


async def _run_cell(host: str, port: int, payload: bytes, concurrency: int, warmup: float,
                    duration: float) -> dict:
    clock = time.perf_counter
    start_all = clock()
    measure_start = start_all + warmup
    measure_end = measure_start + duration
    latencies = array.array("d")
    result = {"connects": 0, "retries": 0, "statuses": {}, "failures": {}, "body_size": 0,
              "warmup_requests": 0, "aborted": 0}

    async def worker() -> None:
        reader = writer = None
        while True:
            started = clock()
            if started >= measure_end:
                break
            status = None
            for attempt in range(3):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        result["connects"] += 1
                    writer.write(payload)
                    status, keep_alive, size = await _read_response(reader)
                    break
                except (_Closed, ConnectionError, OSError) as error:
                    # A keep-alive connection the server had already closed:
                    # reconnect and resend; the time counts for this request.
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    result["retries"] += 1
                    kind = type(error).__name__
                    if attempt == 2:
                        result["failures"][kind] = result["failures"].get(kind, 0) + 1
            finished = clock()
            if status is not None and not keep_alive:
                writer.close()
                reader = writer = None
            if started < measure_start:
                result["warmup_requests"] += 1
                continue
            latencies.append(finished - started)
            key = str(status) if status is not None else "no response"
            result["statuses"][key] = result["statuses"].get(key, 0) + 1
            if status == 200:
                result["body_size"] = size
        if writer is not None:
            writer.close()

    # A watchdog rather than a timeout per request (which would cost a task each).
    tasks = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    _, stuck = await asyncio.wait(tasks, timeout=warmup + duration + 15)
    for task in stuck:
        task.cancel()
    if stuck:
        result["failures"]["stuck worker"] = len(stuck)
        result["aborted"] += len(stuck)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            kind = f"worker crashed: {task.exception()!r}"
            result["failures"][kind] = result["failures"].get(kind, 0) + 1
            result["aborted"] += 1
    end = clock()
    result["elapsed"] = max(end, measure_end) - measure_start
    result["latencies"] = latencies.tobytes()
    return result


def _loadgen_main(conn, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    while True:
        job = conn.recv()
        if job is None:
            break
        try:
            conn.send(runner(_run_cell(**job)))
        except Exception as error:  # report, do not hang the parent
            conn.send({"error": f"{type(error).__name__}: {error}"})
    conn.close()


class LoadGenerator:
    def __init__(self, cpus: set[int] | None):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_loadgen_main, args=(child, cpus), daemon=True)
        self.process.start()

    def run(self, **job) -> dict:
        self.conn.send(job)
        result = self.conn.recv()
        if "error" in result:
            raise RuntimeError(f"load generator: {result['error']}")
        return result

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


# --- the servers ------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    health_path: str
    cpus: set[int] | None
    process: subprocess.Popen | None = None
    log: object = None
    data_dir: str | None = None
    key: tuple[str, str] = PEER_KEY
    requests: dict[str, bytes] = field(default_factory=dict)

    def start(self) -> None:
        self.log = tempfile.TemporaryFile()
        cpus = self.cpus

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=pin, cwd=ROOT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{self.health_path}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:  # it answers HTTP: good enough for moto's "/"
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.output()}")

    def sign(self, params: dict[str, dict]) -> None:
        """The requests of the operations in `params`, signed now with the server's key."""
        self.requests = {op: signed_request("127.0.0.1", self.port, op, op_params, self.key)
                         for op, op_params in params.items()}

    def output(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def nozama_server(cpus: set[int] | None) -> Server:
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="nozama-bench-")
    server = Server("nozama", [sys.executable, "-m", "nozama", "server", "--port", str(port),
                               "--data-dir", data_dir, "--log-level", "warning"],
                    port, "/_nozama/health", cpus)
    server.data_dir = data_dir
    return server


def moto_server(cpus: set[int] | None) -> Server:
    port = free_port()
    return Server("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                           str(port)], port, "/moto-api/", cpus)


def seed(server: Server) -> None:
    """The same starting state on both servers, through an ordinary botocore client."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "ecs", region_name=REGION, endpoint_url=f"http://127.0.0.1:{server.port}",
        aws_access_key_id=server.key[0], aws_secret_access_key=server.key[1],
        config=Config(retries={"max_attempts": 1}))
    # The task definitions' roles must exist and trust ECS tasks (Nozama checks, as ECS).
    iam = botocore.session.get_session().create_client(
        "iam", region_name=REGION, endpoint_url=f"http://127.0.0.1:{server.port}",
        aws_access_key_id=server.key[0], aws_secret_access_key=server.key[1])
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    for name in [f"{family}-task" for family in FAMILIES] + ["ecsTaskExecutionRole"]:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.close()
    client.create_cluster(clusterName=CLUSTER)
    for _ in range(REVISIONS_PER_FAMILY):
        for family in FAMILIES:
            client.register_task_definition(**task_definition(family))
    arns = client.list_task_definitions()["taskDefinitionArns"]
    expected = len(FAMILIES) * REVISIONS_PER_FAMILY
    if len(arns) != expected:
        raise RuntimeError(f"{server.name}: {len(arns)} task definitions listed after "
                           f"seeding, expected {expected}")
    described = client.describe_task_definition(taskDefinition=DESCRIBE_FAMILY)
    if described["taskDefinition"]["revision"] != REVISIONS_PER_FAMILY:
        raise RuntimeError(f"{server.name}: DescribeTaskDefinition returned revision "
                           f"{described['taskDefinition']['revision']}")
    clusters = client.describe_clusters(clusters=[CLUSTER])["clusters"]
    if [c["clusterName"] for c in clusters] != [CLUSTER]:
        raise RuntimeError(f"{server.name}: DescribeClusters returned {clusters}")
    client.close()


# --- CPU accounting: is something else loading the machine? -------------------

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_ticks() -> int | None:
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def _process_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


class CpuMeter:
    """CPU used by the server under test, and by everything outside the benchmark."""

    def __init__(self, server_pid: int, own_pids: list[int]):
        self.server_pid, self.pids = server_pid, [server_pid, *own_pids]

    def __enter__(self):
        self.t0 = time.monotonic()
        self.busy0 = _busy_ticks()
        self.ours0 = sum(_process_ticks(p) for p in self.pids)
        self.server0 = _process_ticks(self.server_pid)
        return self

    def __exit__(self, *exc):
        wall = (time.monotonic() - self.t0) * _HZ
        busy = _busy_ticks()
        ours = sum(_process_ticks(p) for p in self.pids) - self.ours0
        self.server = (_process_ticks(self.server_pid) - self.server0) / wall
        self.other = max(0, busy - self.busy0 - ours) / wall if busy is not None else math.nan
        return False


QUIET_WINDOW = 0.5  # seconds over which wait_quiet looks at the background load


def wait_quiet(own_pids: list[int], timeout: float, window: float = QUIET_WINDOW) -> float:
    """Wait until processes other than ours use under OTHER_CPU_WARNING CPU for a window
    (or `timeout` seconds pass); the last window's background load, in CPUs."""
    if timeout <= 0:
        return math.nan
    deadline = time.monotonic() + timeout
    load = math.nan
    while True:
        with CpuMeter(own_pids[0], own_pids[1:]) as meter:
            time.sleep(window)
        load = meter.other
        if not load >= OTHER_CPU_WARNING or time.monotonic() >= deadline:
            return load


# --- figures ----------------------------------------------------------------

@dataclass
class Cell:
    server: str
    operation: str
    concurrency: int
    requests: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict
    connects: int
    retries: int
    body_size: int
    failures: dict
    server_cpu: float = math.nan   # cores the server used while measured
    rounds: int = 1
    latencies: array.array = field(default_factory=lambda: array.array("d"), repr=False)
    other_cpu: float = math.nan    # cores used by processes not in the benchmark

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def to_cell(server: str, operation: str, concurrency: int, raw: dict) -> Cell:
    latencies = array.array("d")
    latencies.frombytes(raw["latencies"])
    ordered = sorted(latencies)
    ok = raw["statuses"].get("200", 0)
    cell = Cell(server, operation, concurrency, len(ordered), raw["elapsed"],
                percentile(ordered, 50) * 1e3, percentile(ordered, 99) * 1e3,
                len(ordered) - ok + raw["aborted"], raw["statuses"], raw["connects"],
                raw["retries"], raw["body_size"], raw["failures"])
    cell.latencies = latencies
    return cell


class NoiseBudget:
    """Seconds the run may spend, in all, waiting for a quiet machine and rerunning
    disturbed rounds: on a busy machine the run ends anyway, with disturbed cells
    flagged."""

    def __init__(self, seconds: float):
        self.remaining = seconds

    def left(self) -> float:
        return max(0.0, self.remaining)

    def spend(self, seconds: float) -> None:
        self.remaining -= seconds


def measure(loadgen: "LoadGenerator", server: Server, op: str, conc: int, warmup: float,
            duration: float, quiet_wait: float, reruns: int, budget: NoiseBudget) -> Cell:
    """One run of one server on one operation; run again (up to `reruns` times, while
    the noise budget lasts) when other processes used the CPU meanwhile, keeping the
    least disturbed run."""
    own = [server.process.pid, os.getpid(), loadgen.process.pid]
    best = None
    for attempt in range(1 + reruns):
        started = time.monotonic()
        wait_quiet(own, min(quiet_wait, budget.left()))
        # Waiting past the first look, and reruns, come out of the budget.
        budget.spend(max(0.0, time.monotonic() - started - QUIET_WINDOW))
        if attempt:
            budget.spend(warmup + duration)
        with CpuMeter(server.process.pid, own[1:]) as meter:
            raw = loadgen.run(host="127.0.0.1", port=server.port, payload=server.requests[op],
                              concurrency=conc, warmup=warmup, duration=duration)
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} died:\n{server.output()}")
        cell = to_cell(server.name, op, conc, raw)
        cell.server_cpu, cell.other_cpu = meter.server, meter.other
        if best is None or cell.other_cpu < best.other_cpu:
            best = cell
        if not best.other_cpu >= OTHER_CPU_WARNING:
            break
        again = attempt < reruns and budget.left() > warmup + duration
        print(f"        {server.name} {op} c={conc}: other processes used "
              f"{cell.other_cpu:.2f} CPU, " + ("running it again" if again
                                               else "keeping the least disturbed run"),
              flush=True)
        if not again:
            break
    return best


def merge(parts: list[Cell]) -> Cell:
    """The rounds of one cell as one: all their requests, over all their time."""
    if len(parts) == 1:
        return parts[0]
    ordered = sorted(x for part in parts for x in part.latencies)
    statuses: dict[str, int] = {}
    failures: dict[str, int] = {}
    for part in parts:
        for key, n in part.statuses.items():
            statuses[key] = statuses.get(key, 0) + n
        for key, n in part.failures.items():
            failures[key] = failures.get(key, 0) + n
    first = parts[0]
    cell = Cell(first.server, first.operation, first.concurrency, len(ordered),
                sum(p.elapsed for p in parts), percentile(ordered, 50) * 1e3,
                percentile(ordered, 99) * 1e3, sum(p.errors for p in parts), statuses,
                sum(p.connects for p in parts), sum(p.retries for p in parts),
                first.body_size, failures)
    cell.server_cpu = sum(p.server_cpu for p in parts) / len(parts)
    cell.other_cpu = max(p.other_cpu for p in parts)
    cell.rounds = len(parts)
    return cell


def verdicts(cells: dict[tuple[str, str, int], Cell], concurrencies: list[int]) -> list[tuple]:
    """(target, operation, concurrency, passed, detail) per checked target."""
    out = []
    for op in OPERATIONS:
        for conc in concurrencies:
            noz, moto = cells[("nozama", op, conc)], cells[("moto", op, conc)]
            ratio = noz.rps / moto.rps if moto.rps else math.inf
            errors = noz.errors + moto.errors
            passed = ratio >= THROUGHPUT_RATIO_TARGET and errors == 0
            detail = f"{ratio:.2f}x (target >= {THROUGHPUT_RATIO_TARGET:g}x)"
            if errors:
                detail += f", {errors} non-200 responses"
            out.append(("throughput", op, conc, passed, detail))
        if P99_TARGET_CONCURRENCY in concurrencies:
            noz = cells[("nozama", op, P99_TARGET_CONCURRENCY)]
            passed = noz.p99_ms < P99_TARGET_MS and noz.errors == 0
            detail = f"{noz.p99_ms:.2f} ms (target < {P99_TARGET_MS:g} ms)"
            if noz.errors:
                detail += f", {noz.errors} non-200 responses"
            out.append(("p99", op, P99_TARGET_CONCURRENCY, passed, detail))
    return out


def _fmt_notes(cell: Cell) -> str:
    notes = []
    if cell.errors:
        notes.append("status " + ", ".join(f"{k}x{v}" for k, v in sorted(cell.statuses.items())))
    if cell.failures:
        notes.append(", ".join(f"{k} x{v}" for k, v in cell.failures.items()))
    if cell.retries:
        notes.append(f"{cell.retries} resends")
    if cell.connects > cell.concurrency * cell.rounds:  # each round opens its own
        notes.append(f"{cell.connects} connections")
    if cell.other_cpu >= OTHER_CPU_WARNING:
        notes.append(f"disturbed: other processes used {cell.other_cpu:.2f} CPU")
    return "; ".join(notes)


def background_load(cells: dict) -> tuple[float, float, bool]:
    """(mean, max) CPU used by processes outside the benchmark, and whether it matters."""
    loads = [c.other_cpu for c in cells.values() if not math.isnan(c.other_cpu)]
    if not loads:
        return math.nan, math.nan, False
    return sum(loads) / len(loads), max(loads), max(loads) >= OTHER_CPU_WARNING


def background_text(cells: dict) -> str:
    mean, peak, disturbed = background_load(cells)
    if math.isnan(mean):
        return "Background load: not measured (no /proc)."
    text = (f"Background load: processes outside the benchmark used {mean:.2f} CPU on average "
            f"during the cells, {peak:.2f} at most")
    if disturbed:
        text += (f". WARNING: above {OTHER_CPU_WARNING:.2f} CPU, the figures are disturbed by "
                 "other work on this machine; rerun on a quiet machine")
    return text + "."


def table(cells: dict, concurrencies: list[int], markdown: bool) -> str:
    header = ["operation", "conc", "nozama req/s", "nozama p50 ms", "nozama p99 ms",
              "moto req/s", "moto p50 ms", "moto p99 ms", "ratio", "notes"]
    rows = []
    for op in OPERATIONS:
        for conc in concurrencies:
            noz, moto = cells[("nozama", op, conc)], cells[("moto", op, conc)]
            ratio = noz.rps / moto.rps if moto.rps else math.inf
            notes = "; ".join(f"{c.server}: {n}" for c in (noz, moto) if (n := _fmt_notes(c)))
            rows.append([op, str(conc), f"{noz.rps:,.0f}", f"{noz.p50_ms:.2f}",
                         f"{noz.p99_ms:.2f}", f"{moto.rps:,.0f}", f"{moto.p50_ms:.2f}",
                         f"{moto.p99_ms:.2f}", f"{ratio:.2f}x", notes])
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] + ["--:"] * 8 + ["---"]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    def line(row):
        return "  ".join(c.ljust(w) if i in (0, 9) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


# --- the machine and the docs -----------------------------------------------

def machine() -> dict:
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu_model, "ram": ram}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for package in ("nozama", "moto", "botocore", "httptools", "uvloop", "werkzeug", "SQLAlchemy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "nozama"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if commit:
            out["git"] = commit + (" (nozama/ modified)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(ROOT))
    except ValueError:
        script_text = str(script)
    return shlex.join(["python3", script_text] + sys.argv[1:])


def results_markdown(cells: dict, concurrencies: list[int], checks: list[tuple],
                     args: argparse.Namespace, started: str, pinned: bool) -> str:
    m, v = machine(), versions()
    lines = [
        BEGIN_MARK,
        "## Results: API throughput and latency (`bench/api.py`)",
        "",
        f"- Date: {started}",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, "
        f"{platform.system()} {platform.release()}",
        f"- Command: `{command_line()}`",
        f"- Cells: {args.duration:g} s measured per (server, operation, concurrency), in "
        f"{args.rounds} round(s) alternating the servers, each after {args.warmup:g} s of "
        "warm-up; one server loaded at a time"
        + ("; servers pinned to CPU 0, load generator to the rest" if pinned else "; no CPU "
           "pinning") + ".",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        table(cells, concurrencies, markdown=True),
        "",
        "Response sizes (bytes, nozama / moto): " + ", ".join(
            f"{op} {cells[('nozama', op, concurrencies[0])].body_size} / "
            f"{cells[('moto', op, concurrencies[0])].body_size}" for op in OPERATIONS) + ".",
        "",
        background_text(cells),
        "",
        "| target | operation | conc | result | figure |",
        "|---|---|--:|---|---|",
    ]
    for target, op, conc, passed, detail in checks:
        label = ("Nozama >= 3x moto req/s" if target == "throughput"
                 else "Nozama p99 < 10 ms")
        lines.append(f"| {label} | {op} | {conc} | {'PASS' if passed else '**FAIL**'} "
                     f"| {detail} |")
    passed = sum(1 for c in checks if c[3])
    lines += ["", f"Overall: {'PASS' if passed == len(checks) else 'FAIL'} "
              f"({passed}/{len(checks)} targets met).", END_MARK]
    return "\n".join(lines)


DOC_INTRO = """# Benchmarks

The benchmarks live in `bench/`; each is a standalone script. `make bench` runs
every `bench/*.py` (files starting with `_` are helpers) in the project venv
with the `bench` extra installed, and fails if any benchmark misses its
targets. Run one on its own with `python3 bench/<name>.py`; `--write-docs`
replaces that benchmark's results section below with the new figures.

"""


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else DOC_INTRO
    pattern = re.compile(re.escape(BEGIN_MARK) + r".*?" + re.escape(END_MARK), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


# --- main -------------------------------------------------------------------

def _cpu_split(enabled: bool) -> tuple[set[int] | None, set[int] | None]:
    if not enabled or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="seconds of warm-up before each round (default 0.5)")
    parser.add_argument("--duration", type=float, default=4.0,
                        help="measured seconds per cell, all rounds together (default 4)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32],
                        help="concurrency levels (default: 1 32)")
    parser.add_argument("--operations", nargs="+", choices=OPERATIONS, default=OPERATIONS,
                        help="operations to run (default: all four)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="split each cell's measured time into this many rounds, "
                        "alternating the servers (default 2)")
    parser.add_argument("--quiet-wait", type=float, default=10.0, metavar="SECONDS",
                        help="before each round, wait up to this long for other processes to "
                        f"use under {OTHER_CPU_WARNING} CPU (default 10; 0: do not wait)")
    parser.add_argument("--reruns", type=int, default=2,
                        help="run a round again (up to this many times) when other processes "
                        "used the CPU during it; the least disturbed run is kept (default 2)")
    parser.add_argument("--noise-budget", type=float, default=60.0, metavar="SECONDS",
                        help="at most this much time in all for waiting and reruns "
                        "(default 60)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin servers and load generator to separate CPUs")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"write the results section of {DOCS.relative_to(ROOT)}")
    parser.add_argument("--keep-going", action="store_true",
                        help="exit 0 even when a target is missed")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0 or args.reruns < 0:
        parser.error("--rounds must be >= 1, --duration > 0, --warmup and --reruns >= 0")
    OPERATIONS[:] = [op for op in OPERATIONS if op in args.operations]
    concurrencies = sorted(set(args.concurrency))

    started = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip() \
        or datetime.datetime.now(datetime.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")
    server_cpus, client_cpus = _cpu_split(not args.no_pin)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)

    servers = [nozama_server(server_cpus), moto_server(server_cpus)]
    loadgen = LoadGenerator(client_cpus)
    cells: dict[tuple[str, str, int], Cell] = {}
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
            if server.data_dir:   # Nozama: its administrator key, there once it answers
                server.key = admin_key(Path(server.data_dir))
            t = time.perf_counter()
            seed(server)
            print(f"{server.name}: ready on port {server.port}, pid {server.process.pid}, "
                  f"seeded in {time.perf_counter() - t:.1f}s", flush=True)
        params = {op: op_params for op, op_params in operation_params().items()
                  if op in OPERATIONS}
        total = len(OPERATIONS) * len(concurrencies) * len(servers)
        done = 0
        budget = NoiseBudget(args.noise_budget)
        for op in OPERATIONS:
            for conc in concurrencies:
                for server in servers:
                    server.sign(params)
                # Rounds alternate the servers, so that a slow patch of the machine
                # does not fall on one server's whole cell.
                rounds: dict[str, list[Cell]] = {server.name: [] for server in servers}
                for _ in range(args.rounds):
                    for server in servers:
                        rounds[server.name].append(measure(
                            loadgen, server, op, conc, args.warmup,
                            args.duration / args.rounds, args.quiet_wait, args.reruns,
                            budget))
                for server in servers:
                    cell = merge(rounds[server.name])
                    cells[(server.name, op, conc)] = cell
                    done += 1
                    print(f"[{done:2d}/{total}] {server.name:6s} {op:24s} c={conc:<3d} "
                          f"{cell.rps:8,.0f} req/s  p50 {cell.p50_ms:6.2f} ms  "
                          f"p99 {cell.p99_ms:6.2f} ms  server CPU {cell.server_cpu:4.2f}  "
                          f"other CPU {cell.other_cpu:4.2f}  {_fmt_notes(cell)}", flush=True)
    finally:
        loadgen.close()
        for server in servers:
            server.stop()

    checks = verdicts(cells, concurrencies)
    print()
    print(table(cells, concurrencies, markdown=False))
    print()
    for target, op, conc, passed, detail in checks:
        label = "Nozama >= 3x moto req/s" if target == "throughput" else "Nozama p99 < 10 ms"
        print(f"{'PASS' if passed else 'FAIL'}  {label:24s} {op:24s} c={conc:<3d} {detail}")
    ok = all(c[3] for c in checks)
    print("\n" + background_text(cells))
    print(f"\nOverall: {'PASS' if ok else 'FAIL'} "
          f"({sum(1 for c in checks if c[3])}/{len(checks)} targets met)")
    if args.write_docs:
        write_docs(results_markdown(cells, concurrencies, checks, args, started,
                                    pinned=server_cpus is not None))
        print(f"wrote {DOCS.relative_to(ROOT)}")
    return 0 if ok or args.keep_going else 1


if __name__ == "__main__":
    sys.exit(main())
