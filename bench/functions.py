#!/usr/bin/env python3
"""Lambda functions benchmark: Invoke through the API against calling the handler directly.

Issue 7's targets, measured in one run on loopback against one `nozama server`:
  - warm overhead: a warm Invoke of a no-op handler through the API takes at most
    2 ms more at p50 than calling the same handler in-process (the limit);
  - throughput: at least 1,000 invocations per second on this 2-core machine,
    with no failed invocation;
  - cold start: an Invoke that finds no warm worker answers in under 300 ms
    (median over the trials);
  - weights: an alias routing 10% to a second version sends it 10 ± 1 points of
    10,000 invocations.

Setup: `nozama server` on an ephemeral port with a fresh data dir (embedded
SQLite); functions are created through boto3 with Runtime python3.11 and the
no-op handler `def handler(event, context): return None`, deployed as a zip.
Nothing is pinned: the server, its worker processes and the load share the
machine's cores, as a user's would.

How each figure is taken:
  - Direct call (the limit): the same zip unpacked here and its handler called
    in this process with an awslambdaric LambdaContext; each call timed on its
    own with perf_counter_ns (the clock read, ~0.1 us, is in the figure).
  - Warm latency: sequential Invokes over one keep-alive connection. The
    request is serialized by botocore for Invoke (POST
    /2015-03-31/functions/NAME/invocations, body `{}`) and SigV4-signed once for
    lambda in us-east-1 with the server's administrator key (a signature stays
    valid for 15 minutes, so the bytes are replayed); a minimal socket client
    sends them and reads the response by its Content-Length, so the figure is
    Nozama's time plus a loopback round trip, not an SDK's: boto3's own cost per
    call (1-2 ms of Python) would otherwise dominate. The same client's GET
    /_nozama/health on the same server (the HTTP round trip alone) and boto3's
    lambda.invoke are shown for reference.
    Rounds alternate the paths (--rounds), after a warm-up, so noise on the
    machine hits all of them. Warm overhead = API p50 - direct p50.
  - Throughput: wrk (--threads, --connections keep-alive connections,
    --duration s) posting the same signed request, after a 3 s warm-up at the
    same concurrency. The function has no reserved concurrency, so Nozama runs
    one worker per concurrent request; the warm-up starts them, and the
    measured run sees warm workers only. A Lua script counts status codes and
    X-Amz-Function-Error answers: any non-200, function error or socket error
    fails the target. The server's and the workers' CPU time per invocation
    over the run is shown, from /proc.
  - Cold start: time from sending Invoke to its answer when the version has no
    worker, two ways, --cold-trials each: after UpdateFunctionConfiguration
    (a new environment variable) retired the warm worker of $LATEST, and the
    first Invoke of a just-created function (which also unpacks its code). The
    Init Duration of the REPORT line (LogType Tail) is shown too. The target
    applies to the median of each; the maximum is shown.
  - Alias weights: versions 1 and 2 of a function, alias `live` -> 1 with
    AdditionalVersionWeights {"2": 0.1}; 10,000 sequential Invokes with
    ?Qualifier=live, counting X-Amz-Executed-Version.

Other work on the machine distorts the figures: the CPU used by processes
other than this script and its children is measured (/proc) during each phase
and reported.

  python3 bench/functions.py                 # ~1 minute
  python3 bench/functions.py --write-docs    # also updates docs/benchmarks.md

Needs wrk (Debian: apt-get install wrk). Exit status: 0 when every target
passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402
import _sigv4  # noqa: E402

BEGIN_MARK = "<!-- bench/functions.py results: begin -->"
END_MARK = "<!-- bench/functions.py results: end -->"
ROLE = "arn:aws:iam::000000000000:role/bench"
HANDLER_SOURCE = "def handler(event, context):\n    return None\n"
TARGET_OVERHEAD_MS = 2.0
TARGET_RPS = 1000.0
TARGET_COLD_MS = 300.0
ALIAS_WEIGHT = 0.1
ALIAS_TARGET_INVOCATIONS = 10_000
WRK_SCRIPT = """
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) codes = {} failed = 0 end
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  for k, v in pairs(headers) do
    if string.lower(k) == "x-amz-function-error" then failed = failed + 1 end
  end
end
function done(summary, latency, requests)
  local all, errors = {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes")) do all[k] = (all[k] or 0) + v end
    errors = errors + t:get("failed")
  end
  for k, v in pairs(all) do io.write(string.format("status %d %d\\n", k, v)) end
  io.write(string.format("function-errors %d\\n", errors))
end
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- requests -------------------------------------------------------------------

def invoke_request(port: int, key: tuple[str, str], name: str, qualifier: str | None = None,
                   tail: bool = False) -> bytes:
    """The raw bytes of a keep-alive Invoke of `name` with payload {}, as botocore
    serializes it, signed with `key`."""
    from urllib.parse import urlencode

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.serialize import create_serializer

    model = _sigv4.service_model("lambda")
    params = {"FunctionName": name, "Payload": b"{}"}
    if qualifier:
        params["Qualifier"] = qualifier
    if tail:
        params["LogType"] = "Tail"
    parts = create_serializer("rest-json").serialize_to_request(
        params, model.operation_model("Invoke"))
    target = parts["url_path"] + (f"?{urlencode(parts['query_string'])}"
                                  if parts["query_string"] else "")
    authority = f"127.0.0.1:{port}"
    request = AWSRequest(method="POST", url=f"http://{authority}{target}", data=parts["body"],
                         headers=dict(parts["headers"]))
    request.headers["User-Agent"] = _sigv4.USER_AGENT
    SigV4Auth(Credentials(*key), "lambda", cl.REGION).add_auth(request)
    headers = [("Host", authority)] + [(k, v.decode() if isinstance(v, bytes) else v)
                                       for k, v in request.headers.items()
                                       if k.lower() not in ("host", "content-length")]
    headers.append(("Content-Length", str(len(parts["body"]))))
    return (f"POST {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
            + "\r\n").encode("latin-1") + parts["body"]


class Connection:
    """A minimal keep-alive HTTP/1.1 client: send prepared bytes, read one response by
    its Content-Length. Lean, so that the client's own cost stays out of the figure."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def roundtrip(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        self.sock.sendall(request)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        lines = data[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise RuntimeError(f"a response without Content-Length: {lines}")
        stop = end + 4 + int(headers["content-length"])
        while len(data) < stop:
            data += self._recv()
        self.pending = data[stop:]
        return int(lines[0].split(" ", 2)[1]), headers, data[end + 4:stop]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def percentile(sorted_values: list[float], pct: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * pct / 100))]


class Series:
    """Latencies of one path (ns), failures, and the wall time spent."""

    def __init__(self):
        self.ns: list[int] = []
        self.failed = 0
        self.wall = 0.0

    def summary(self) -> dict:
        values = sorted(self.ns)
        return {"n": len(values), "rps": len(values) / self.wall if self.wall else 0.0,
                "p50": percentile(values, 50) / 1e6, "p99": percentile(values, 99) / 1e6,
                "failed": self.failed}


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("noop.py", HANDLER_SOURCE)
    return buffer.getvalue()


# --- the bench ---------------------------------------------------------------------

class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.port = cl.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server: cl.Process | None = None
        self.key: tuple[str, str] | None = None   # the server's administrator key
        self.lam = None
        self.zip = package()

    def start(self) -> None:
        # Unpacked code and worker scratch inside the work dir, removed with it.
        os.environ["NOZAMA_FUNCTIONS_DIR"] = str(self.work / "functions")
        self.server = cl.Process("nozama-server", [
            sys.executable, "-m", "nozama", "server", "--port", str(self.port),
            "--data-dir", str(self.work / "server"), "--log-level", "warning"],
            self.work / "server.log")
        cl.wait_health(self.endpoint, self.server)
        self.key = cl.admin_key(self.work / "server")
        self.lam = cl.client("lambda", self.endpoint, self.key, retries={"max_attempts": 1},
                             max_pool_connections=20)
        # CreateFunction wants a role that exists and trusts Lambda.
        cl.client("iam", self.endpoint, self.key).create_role(
            RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}))

    def close(self) -> None:
        if self.server:
            self.server.stop()

    def create(self, name: str, **extra) -> dict:
        return self.lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                        Handler="noop.handler", Code={"ZipFile": self.zip},
                                        **extra)

    def wait_updated(self, name: str) -> None:
        deadline = time.monotonic() + 30
        while self.lam.get_function_configuration(FunctionName=name).get(
                "LastUpdateStatus", "Successful") != "Successful":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the update did not finish")
            time.sleep(0.05)

    def worker_ticks(self) -> tuple[int, int]:
        """(the server's CPU ticks, its live children's: the workers)."""
        snapshot = cl._snapshot()
        return (cl.cpu_ticks(self.server.pid),
                sum(ticks for _, ppid, _, ticks in snapshot.values()
                    if ppid == self.server.pid))

    def workers(self) -> int:
        return sum(1 for _, ppid, _, _ in cl._snapshot().values() if ppid == self.server.pid)

    # --------------------------------------------------------------- warm

    def direct_handler(self):
        """The function's handler imported here from the same zip, and a context."""
        from awslambdaric.lambda_context import LambdaContext
        code = self.work / "direct"
        with zipfile.ZipFile(io.BytesIO(self.zip)) as archive:
            archive.extractall(code)
        spec = importlib.util.spec_from_file_location("noop", code / "noop.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        context = LambdaContext("00000000-0000-0000-0000-000000000000", None, None,
                                int(time.time() * 1000) + 3_600_000,
                                f"arn:aws:lambda:{cl.REGION}:000000000000:function:noop")
        return module.handler, context

    def warm(self, name: str, rounds: int, per_round: int) -> dict[str, Series]:
        handler, context = self.direct_handler()
        invoke = invoke_request(self.port, self.key, name)
        health = f"GET /_nozama/health HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode()
        connection = Connection(self.port)
        series = {key: Series() for key in ("direct", "health", "api", "boto3")}
        clock = time.perf_counter_ns

        def direct(n: int) -> None:
            s = series["direct"]
            for _ in range(n):
                t0 = clock()
                handler({}, context)
                s.ns.append(clock() - t0)

        def raw(key: str, request: bytes, n: int) -> None:
            s = series[key]
            for _ in range(n):
                t0 = clock()
                status, headers, body = connection.roundtrip(request)
                s.ns.append(clock() - t0)
                if status != 200 or "x-amz-function-error" in headers:
                    s.failed += 1

        def sdk(n: int) -> None:
            s = series["boto3"]
            for _ in range(n):
                t0 = clock()
                answer = self.lam.invoke(FunctionName=name, Payload=b"{}")
                answer["Payload"].read()
                s.ns.append(clock() - t0)
                if answer["StatusCode"] != 200 or "FunctionError" in answer:
                    s.failed += 1

        runs = {"direct": lambda n: direct(n * 20), "health": lambda n: raw("health", health, n),
                "api": lambda n: raw("api", invoke, n), "boto3": lambda n: sdk(max(1, n // 5))}
        for key, run in runs.items():  # warm-up: the worker, the route cache, the code
            run(max(1, per_round // 5))
            series[key] = Series()
        try:
            for _ in range(rounds):
                for key, run in runs.items():
                    t0 = time.perf_counter()
                    run(per_round)
                    series[key].wall += time.perf_counter() - t0
        finally:
            connection.close()
        return series

    # ---------------------------------------------------------- throughput

    def throughput(self, name: str, threads: int, connections: int, duration: float) -> dict:
        request = invoke_request(self.port, self.key, name).decode("latin-1")
        head, _, body = request.partition("\r\n\r\n")
        lines = ['wrk.method = "POST"', f'wrk.body = "{body}"']
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(": ")
            if key.lower() not in ("host", "content-length"):
                lines.append(f'wrk.headers["{key}"] = "{value}"')
        script = self.work / "invoke.lua"
        script.write_text("\n".join(lines) + "\n" + WRK_SCRIPT)
        url = f"{self.endpoint}{head.split(' ')[1]}"
        wrk(url, script, threads, connections, 3)  # warm-up: one worker per connection
        workers = self.workers()
        server0, workers0 = self.worker_ticks()
        client0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk: the one child reaped
        result = wrk(url, script, threads, connections, duration)
        client1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        server1, workers1 = self.worker_ticks()
        per_request = 1e6 / result["requests"]
        result["workers"] = workers
        result["server_us"] = (server1 - server0) / cl.HZ * per_request
        result["workers_us"] = (workers1 - workers0) / cl.HZ * per_request
        result["wrk_us"] = (client1.ru_utime + client1.ru_stime - client0.ru_utime
                            - client0.ru_stime) * per_request
        return result

    # ---------------------------------------------------------- cold start

    def cold_after_update(self, name: str, trials: int) -> list[tuple[float, float | None]]:
        """UpdateFunctionConfiguration retires $LATEST's warm worker; the next Invoke
        starts a new one."""
        self.create(name)
        self.wait_updated(name)
        request = invoke_request(self.port, self.key, name, tail=True)
        connection = Connection(self.port)
        out = []
        try:
            connection.roundtrip(request)  # first run: unpacks the code, warms the route path
            for trial in range(trials):
                self.lam.update_function_configuration(
                    FunctionName=name, Environment={"Variables": {"TRIAL": str(trial)}})
                self.wait_updated(name)
                time.sleep(0.3)  # the retired worker's exit is not part of the next start
                out.append(timed_cold(connection, request))
        finally:
            connection.close()
        return out

    def cold_new_function(self, prefix: str, trials: int) -> list[tuple[float, float | None]]:
        """The first Invoke of a function just created: unpacks its code too."""
        connection = Connection(self.port)
        out = []
        try:
            for trial in range(trials):
                name = f"{prefix}-{trial}"
                self.create(name)
                self.wait_updated(name)
                time.sleep(0.1)
                out.append(timed_cold(connection,
                                      invoke_request(self.port, self.key, name, tail=True)))
                self.lam.delete_function(FunctionName=name)  # and its worker with it
                time.sleep(0.2)
        finally:
            connection.close()
        return out

    # -------------------------------------------------------------- weights

    def alias_weights(self, name: str, invocations: int) -> tuple[dict[str, int], int]:
        self.create(name, Environment={"Variables": {"RELEASE": "1"}})
        self.wait_updated(name)
        first = self.lam.publish_version(FunctionName=name)["Version"]
        self.lam.update_function_configuration(FunctionName=name,
                                               Environment={"Variables": {"RELEASE": "2"}})
        self.wait_updated(name)
        second = self.lam.publish_version(FunctionName=name)["Version"]
        self.lam.create_alias(FunctionName=name, Name="live", FunctionVersion=first,
                              RoutingConfig={"AdditionalVersionWeights": {second: ALIAS_WEIGHT}})
        request = invoke_request(self.port, self.key, name, qualifier="live")
        connection = Connection(self.port)
        counts: dict[str, int] = {}
        failed = 0
        try:
            for _ in range(invocations):
                status, headers, _ = connection.roundtrip(request)
                if status != 200 or "x-amz-function-error" in headers:
                    failed += 1
                version = headers.get("x-amz-executed-version", "none")
                counts[version] = counts.get(version, 0) + 1
        finally:
            connection.close()
        return counts, failed


def timed_cold(connection: Connection, request: bytes) -> tuple[float, float | None]:
    """(ms from sending Invoke to its answer, the REPORT line's Init Duration in ms)."""
    t0 = time.perf_counter()
    status, headers, _ = connection.roundtrip(request)
    elapsed = (time.perf_counter() - t0) * 1000
    if status != 200 or "x-amz-function-error" in headers:
        raise RuntimeError(f"cold Invoke failed: {status} {headers}")
    tail = base64.b64decode(headers.get("x-amz-log-result", "")).decode(errors="replace")
    init = re.search(r"Init Duration: ([\d.]+) ms", tail)
    if init is None:
        raise RuntimeError(f"no Init Duration in the REPORT line: the Invoke was warm?\n{tail}")
    return elapsed, float(init.group(1))


def wrk(url: str, script: Path, threads: int, connections: int, duration: float) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--latency", "--timeout", "10s", "-s", str(script), url]
    run = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    out = run.stdout
    if "Requests/sec:" not in out:
        raise RuntimeError(f"wrk failed: {out}{run.stderr}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    statuses = {int(code): int(n) for code, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    function_errors = int(re.search(r"^function-errors (\d+)$", out, re.M).group(1))
    result["statuses"] = statuses
    result["failed"] = (sum(int(g) for g in errors.groups()) if errors else 0) + \
        sum(n for code, n in statuses.items() if code != 200) + function_errors
    return result


# --- report ------------------------------------------------------------------------

def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return out.split(" [")[0].strip() or "wrk"


def fmt_latency(ms: float) -> str:
    return f"{ms * 1000:.2f} µs" if ms < 0.1 else f"{ms:.3f} ms"


def results_markdown(r: dict, checks: list[tuple[bool, str]], args, started: str) -> str:
    machine = cl.machine()
    warm, load = r["warm"], r["load"]
    lines = [
        BEGIN_MARK, "## Lambda functions: Invoke against a direct call (bench/functions.py)", "",
        f"- Date: {started}", f"- Command: `{cl.command_line()}`",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram']} RAM, "
        f"{machine['os']}",
        "- Setup: one `nozama server` (SQLite), python3.11 functions with the no-op handler "
        "`def handler(event, context): return None`; nothing pinned. Sequential paths use one "
        "keep-alive connection and pre-signed request bytes; the rows alternate in "
        f"{args.rounds} round(s) of {args.requests:,} requests (direct calls: 20x as many, boto3: "
        "1/5).",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in cl.versions().items()
                                   if k != "Docker Engine")
        + f"; {wrk_version()}",
        "",
        "| path | calls/s | p50 | p99 | failed |", "|---|--:|--:|--:|--:|"]
    names = {"direct": "direct in-process call `handler({}, context)` (the limit)",
             "api": "Invoke through the API, sequential (raw HTTP, one connection)",
             "health": "reference: `GET /_nozama/health`, same client and server (HTTP round trip)",
             "boto3": "reference: boto3 `lambda.invoke`, sequential (SDK cost included)"}
    for key in ("direct", "api", "health", "boto3"):
        s = warm[key]
        lines.append(f"| {names[key]} | {s['rps']:,.0f} | {fmt_latency(s['p50'])} | "
                     f"{fmt_latency(s['p99'])} | {s['failed']} |")
    lines.append(f"| Invoke through the API under load (wrk, {args.threads} threads, "
                 f"{args.connections} connections, {args.duration:g} s) | {load['rps']:,.0f} | "
                 f"{load['p50']:.3f} ms | {load['p99']:.3f} ms | {load['failed']} |")
    lines += [
        "",
        f"Under load: {load['requests']:,} invocations on {load['workers']} warm workers; CPU "
        f"per invocation: server {load['server_us']:.0f} µs, workers {load['workers_us']:.0f} µs "
        f"(10 ms ticks from /proc), wrk itself {load['wrk_us']:.0f} µs.",
        "",
        "| cold start | trials | median ms | max ms | Init Duration median ms |",
        "|---|--:|--:|--:|--:|"]
    for label, trials in r["cold"].items():
        times = [t for t, _ in trials]
        inits = [i for _, i in trials]
        lines.append(f"| {label} | {len(trials)} | {statistics.median(times):.1f} | "
                     f"{max(times):.1f} | {statistics.median(inits):.1f} |")
    counts = r["alias"]["counts"]
    lines += [
        "",
        f"Alias `live` -> version 1 with AdditionalVersionWeights {{\"2\": {ALIAS_WEIGHT}}}: "
        + ", ".join(f"version {v} ran {n:,}" for v, n in sorted(counts.items()))
        + f" of {sum(counts.values()):,} invocations.",
        "",
        "Background load (CPU used by other processes): "
        + ", ".join(f"{phase} {cpus:.2f}" for phase, cpus in r["background"].items()) + ".",
        ""]
    for verdict, text in checks:
        lines.append(f"{'PASS' if verdict else 'FAIL'}  {text}  ")
    lines.append(END_MARK)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds alternating the sequential paths")
    parser.add_argument("--requests", type=int, default=1000,
                        help="sequential Invokes per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--cold-trials", type=int, default=10)
    parser.add_argument("--alias-invocations", type=int, default=10_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 1
    # A kill runs the cleanup below as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = cl.date_u()
    work = Path(tempfile.mkdtemp(prefix="nozama-bench-functions-"))
    bench = Bench(work)
    r: dict = {"background": {}, "cold": {}}
    try:
        bench.start()
        bench.create("noop")
        bench.wait_updated("noop")

        cl.settle(timeout=5)
        with cl.Background() as background:
            series = bench.warm("noop", args.rounds, args.requests)
        r["background"]["warm latency"] = background.cpus
        r["warm"] = {key: s.summary() for key, s in series.items()}
        for key, s in r["warm"].items():
            log(f"{key:8} {s['rps']:12,.0f}/s  p50 {fmt_latency(s['p50']):>10}  "
                f"p99 {fmt_latency(s['p99']):>10}  failed {s['failed']}")

        cl.settle(timeout=5)
        with cl.Background() as background:
            r["load"] = bench.throughput("noop", args.threads, args.connections, args.duration)
        r["background"]["throughput"] = background.cpus
        load = r["load"]
        log(f"wrk      {load['rps']:12,.0f}/s  p50 {load['p50']:.3f} ms  p99 {load['p99']:.3f} ms"
            f"  failed {load['failed']}  statuses {load['statuses']}  workers {load['workers']}"
            f"  CPU/invoke server {load['server_us']:.0f} us, workers {load['workers_us']:.0f} us,"
            f" wrk {load['wrk_us']:.0f} us")

        cl.settle(timeout=5)
        with cl.Background() as background:
            r["cold"]["after UpdateFunctionConfiguration (a new worker for $LATEST)"] = \
                bench.cold_after_update("cold", args.cold_trials)
            r["cold"]["first Invoke of a new function (unpacks the code too)"] = \
                bench.cold_new_function("fresh", args.cold_trials)
        r["background"]["cold starts"] = background.cpus
        for label, trials in r["cold"].items():
            log(f"cold: {label}: " + ", ".join(f"{t:.0f}" for t, _ in trials)
                + " ms; Init Duration " + ", ".join(f"{i:.0f}" for _, i in trials) + " ms")

        with cl.Background() as background:
            counts, failed = bench.alias_weights("weighted", args.alias_invocations)
        r["background"]["alias weights"] = background.cpus
        r["alias"] = {"counts": counts, "failed": failed}
        log(f"alias: {counts}, failed {failed}")
    except BaseException:
        if bench.server:
            log(f"--- {bench.server.name}:\n{bench.server.output()[-3000:]}")
        raise
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)

    warm = r["warm"]
    overhead = warm["api"]["p50"] - warm["direct"]["p50"]
    cold_medians = {label: statistics.median(t for t, _ in trials)
                    for label, trials in r["cold"].items()}
    total = sum(counts.values())
    share = 100 * counts.get("2", 0) / max(total, 1)
    checks = [
        (overhead < TARGET_OVERHEAD_MS and warm["api"]["failed"] == 0,
         f"Warm overhead at p50: {overhead:.3f} ms (Invoke p50 {warm['api']['p50']:.3f} ms - "
         f"direct p50 {warm['direct']['p50'] * 1000:.2f} µs; target < 2 ms); Invoke p99 "
         f"{warm['api']['p99']:.3f} ms"),
        (load["rps"] >= TARGET_RPS and load["failed"] == 0,
         f"Throughput: {load['rps']:,.0f} invocations/s, {load['failed']} failed "
         f"(target >= 1,000/s, none failed)"),
        (all(m < TARGET_COLD_MS for m in cold_medians.values()),
         "Cold start, median: " + "; ".join(f"{m:.1f} ms {label.split(' (')[0]}"
                                            for label, m in cold_medians.items())
         + " (target < 300 ms)"),
        (abs(share - 100 * ALIAS_WEIGHT) <= 1 and total >= ALIAS_TARGET_INVOCATIONS
         and failed == 0 and set(counts) <= {"1", "2"},
         f"Alias weights: version 2 ran {share:.2f}% of {total:,} invocations, {failed} failed "
         f"(target {100 * ALIAS_WEIGHT:.0f} ± 1 points over >= 10,000)"),
    ]
    section = results_markdown(r, checks, args, started)
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
