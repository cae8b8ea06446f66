#!/usr/bin/env python3
"""Load balancer benchmark: Nozama's data plane against HAProxy and nginx, side by side.

Issue 5's targets, measured in one run on loopback:
  - throughput: Nozama reaches at least 50% of HAProxy's requests per second,
    each proxy on one core;
  - latency: at half of its own peak rate, Nozama adds at most 1 ms at p99 over
    going to the backend directly;
  - weights: a 10/90 split holds within ±1 point over 100,000 requests.

Setup: two nginx backends (one worker each) serve a small static file on
127.0.0.1, saying which they are in an X-Backend header. The same load
(`wrk`, one thread, --connections keep-alive connections, --duration seconds)
goes straight to a backend, then through each proxy: Nozama (`nozama server` +
`nozama lb`, one listener forwarding to a target group of the backend),
HAProxy (one thread) and nginx as a proxy (one worker), all with keep-alive to
the backend. Each proxy is pinned to CPU 0; wrk and the backends to CPU 1.
The latency cell runs wrk with a per-connection delay chosen to offer about
half of Nozama's measured peak, through Nozama and directly. The weights cell
sends 100,000 requests through a 10/90 forward action and counts X-Backend.

Needs wrk, haproxy and nginx (Debian: apt-get install wrk haproxy nginx-light).

  python3 bench/lb.py                 # ~4 minutes
  python3 bench/lb.py --write-docs    # also updates docs/benchmarks.md

Exit status: 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402

BEGIN_MARK = "<!-- bench/lb.py results: begin -->"
END_MARK = "<!-- bench/lb.py results: end -->"
PROXY_CPU, LOAD_CPU = "0", "1"
WRK_COUNT = """
counts = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) seen = {} end
function response(status, headers, body)
  local b = headers["X-Backend"] or "none"
  seen[b] = (seen[b] or 0) + 1
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local s = t:get("seen")
    for k, v in pairs(s) do counts[k] = (counts[k] or 0) + v end
  end
  for k, v in pairs(counts) do io.write(string.format("backend %s %d\\n", k, v)) end
end
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pinned(cpu: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command]


def wrk(url: str, connections: int, duration: float, script: str | None = None,
        requests: int | None = None) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{math.ceil(duration)}s", "--latency", "--timeout", "5s"]
    if script:
        command += ["-s", script]
    run = subprocess.run(pinned(LOAD_CPU, command + [url]), capture_output=True, text=True,
                         timeout=duration + 60)
    out = run.stdout
    if "Requests/sec:" not in out:
        raise RuntimeError(f"wrk {url} failed: {out}{run.stderr}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "errors": 0, "backends": {}}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        result[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" \
            else value
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = (sum(int(g) for g in errors.groups()) if errors else 0) + \
        (int(non2xx.group(1)) if non2xx else 0)
    for name, count in re.findall(r"^backend (\S+) (\d+)$", out, re.M):
        result["backends"][name] = int(count)
    return result


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.processes: list[cl.Process] = []
        self.backend_ports = [cl.free_port(), cl.free_port()]

    def spawn(self, name: str, command: list[str]) -> cl.Process:
        process = cl.Process(name, command, self.work / f"{name}.log")
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def backends(self) -> None:
        (self.work / "www").mkdir()
        (self.work / "www" / "index.html").write_text("<html><body>hello</body></html>\n")
        servers = "".join(f"""
            server {{ listen 127.0.0.1:{port}; root {self.work / 'www'};
                     add_header X-Backend {name}; keepalive_requests 1000000; }}"""
                          for name, port in zip(("blue", "green"), self.backend_ports))
        self._nginx("backends", LOAD_CPU, servers)

    def _nginx(self, name: str, cpu: str, servers: str) -> None:
        conf = self.work / f"{name}.conf"
        conf.write_text(textwrap.dedent(f"""
            worker_processes 1; daemon off; pid {self.work / name}.pid;
            error_log {self.work / name}-error.log;
            events {{ worker_connections 4096; }}
            http {{ access_log off; {servers} }}
            """))
        self.spawn(name, pinned(cpu, ["nginx", "-c", str(conf), "-p", str(self.work)]))

    def nginx_proxy(self, port: int) -> None:
        backend = self.backend_ports[0]
        self._nginx("nginx-proxy", PROXY_CPU, f"""
            upstream b {{ server 127.0.0.1:{backend}; keepalive 64; }}
            server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
                     location / {{ proxy_pass http://b; proxy_http_version 1.1;
                                  proxy_set_header Connection ""; }} }}""")

    def haproxy(self, port: int) -> None:
        conf = self.work / "haproxy.cfg"
        conf.write_text(textwrap.dedent(f"""
            global
              nbthread 1
              maxconn 4096
            defaults
              mode http
              timeout connect 5s
              timeout client 60s
              timeout server 60s
              option http-keep-alive
            frontend f
              bind 127.0.0.1:{port}
              default_backend b
            backend b
              http-reuse always
              server s1 127.0.0.1:{self.backend_ports[0]}
            """))
        self.spawn("haproxy", pinned(PROXY_CPU, ["haproxy", "-f", str(conf)]))

    def nozama(self, port: int) -> tuple[str, str]:
        """Server and data plane; a load balancer forwarding to blue (and one to blue and
        green 10/90, on port + 1). Returns the two listener URLs."""
        api_port = cl.free_port()
        endpoint = f"http://127.0.0.1:{api_port}"
        self.spawn("nozama-server", [sys.executable, "-m", "nozama", "server", "--port",
                                     str(api_port), "--data-dir", str(self.work / "nozama"),
                                     "--log-level", "warning"])
        self.spawn("nozama-lb", pinned(PROXY_CPU, [
            sys.executable, "-m", "nozama", "lb", "--data-dir", str(self.work / "nozama"),
            "--log-level", "warning"]))
        import boto3
        elb = boto3.client("elbv2", endpoint_url=endpoint, region_name=cl.REGION,
                           aws_access_key_id="x", aws_secret_access_key="x")
        deadline = time.monotonic() + 60
        while True:
            try:
                elb.describe_load_balancers()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        lb = elb.create_load_balancer(Name="bench", Subnets=["s-1", "s-2"])["LoadBalancers"][0]
        groups = []
        for name, backend in zip(("blue", "green"), self.backend_ports):
            arn = elb.create_target_group(
                Name=name, Protocol="HTTP", Port=backend, VpcId="vpc-1", TargetType="ip",
                HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1"}])
            groups.append(arn)
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}])
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                            Port=port + 1, DefaultActions=[{"Type": "forward", "ForwardConfig": {
                                "TargetGroups": [{"TargetGroupArn": groups[0], "Weight": 10},
                                                 {"TargetGroupArn": groups[1], "Weight": 90}]}}])
        deadline = time.monotonic() + 60
        while any(d["TargetHealth"]["State"] != "healthy" for g in groups for d in
                  elb.describe_target_health(TargetGroupArn=g)["TargetHealthDescriptions"]):
            if time.monotonic() > deadline:
                raise RuntimeError("targets did not become healthy")
            time.sleep(0.5)
        host = lb["DNSName"]
        return f"http://{host}:{port}/", f"http://{host}:{port + 1}/"


def _in_rounds(paths: dict[str, str], rounds: int, measure, by: str) -> dict[str, dict]:
    """Each path measured once a round, the paths alternating (this VM's speed drifts by
    a quarter within minutes); for each, the run with the median `by` (with the errors of
    all its runs)."""
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, url in paths.items():
            cl.settle()
            run = measure(url)
            runs[name].append(run)
            log(f"{name:24} {run['rps']:9,.0f} req/s  p50 {run['p50']:.2f} ms  "
                f"p99 {run['p99']:.2f} ms  errors {run['errors']}")
    cells = {}
    for name, done in runs.items():
        cells[name] = dict(sorted(done, key=lambda run: run[by])[len(done) // 2])
        cells[name]["errors"] = sum(run["errors"] for run in done)
    return cells


def wait_port(url: str, timeout: float = 30.0) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def results_markdown(cells: dict, checks: list[tuple], args, started: str) -> str:
    machine = cl.machine()
    lines = [BEGIN_MARK, "## Load balancer: Nozama against HAProxy and nginx (bench/lb.py)", "",
             f"- Date: {started}", f"- Command: `{cl.command_line()}`",
             f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram']} RAM, "
             f"{machine['os']}",
             f"- Load: wrk, 1 thread, {args.connections} keep-alive connections, "
             f"{args.duration:g} s per run; {args.rounds} rounds alternating the paths, the "
             "run of median throughput shown for each (at half load, of median p99); "
             f"proxies pinned to CPU {PROXY_CPU}, wrk and the nginx backends to CPU "
             f"{LOAD_CPU}.",
             f"- Versions: {subprocess.run(['haproxy', '-v'], capture_output=True, text=True).stdout.splitlines()[0]}; "
             f"{subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()}; "
             + ", ".join(f"{k} {v}" for k, v in cl.versions().items() if k != "Docker Engine"),
             "", "| path | req/s | p50 ms | p90 ms | p99 ms | errors |", "|---|--:|--:|--:|--:|--:|"]
    for name, cell in cells.items():
        lines.append(f"| {name} | {cell['rps']:,.0f} | {cell['p50']:.2f} | {cell['p90']:.2f} | "
                     f"{cell['p99']:.2f} | {cell['errors']} |")
    lines.append("")
    for verdict, text in checks:
        lines.append(f"{'PASS' if verdict else 'FAIL'}  {text}  ")
    lines.append(END_MARK)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each cell, alternating the paths; the median is kept")
    parser.add_argument("--weighted-requests", type=int, default=100_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    for tool in ("wrk", "haproxy", "nginx", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install wrk haproxy nginx-light", file=sys.stderr)
            return 1
    started = cl.date_u()
    work = Path(tempfile.mkdtemp(prefix="nozama-bench-lb-"))
    work.chmod(0o755)  # nginx's workers run as an unprivileged user
    bench = Bench(work)
    cells: dict[str, dict] = {}
    try:
        bench.backends()
        direct = f"http://127.0.0.1:{bench.backend_ports[0]}/"
        wait_port(direct)
        ports = {"haproxy": cl.free_port(), "nginx": cl.free_port()}
        bench.haproxy(ports["haproxy"])
        bench.nginx_proxy(ports["nginx"])
        nozama_url, weighted_url = bench.nozama(18000 + os.getpid() % 1000 * 2)
        urls = {"direct to the backend": direct, "Nozama": nozama_url,
                "HAProxy": f"http://127.0.0.1:{ports['haproxy']}/",
                "nginx (proxy)": f"http://127.0.0.1:{ports['nginx']}/"}
        for url in urls.values():
            wait_port(url)
        def peak(url: str) -> dict:
            wrk(url, args.connections, 2)  # warm-up: pools, caches
            return wrk(url, args.connections, args.duration)
        cells.update(_in_rounds(urls, args.rounds, peak, by="rps"))
        # Half of Nozama's peak: each connection waits between requests, the wait
        # calibrated by a short probe (latency falls with the load, so rate and wait
        # are not simply proportional).
        half = cells["Nozama"]["rps"] / 2
        script = work / "delay.lua"
        delay_ms = args.connections / half * 1000
        for _ in range(3):
            script.write_text(f"function delay() return {delay_ms:.3f} end\n")
            probe = wrk(nozama_url, args.connections, 3, str(script))
            delay_ms = max(0.0, delay_ms + args.connections * 1000 * (1 / half - 1 / probe["rps"]))
        paced = {"Nozama at half its peak": nozama_url, "direct at the same rate": direct}
        cells.update(_in_rounds(paced, args.rounds, lambda url: wrk(
            url, args.connections, args.duration, str(script)), by="p99"))
        count_script = work / "count.lua"
        count_script.write_text(WRK_COUNT)
        cl.settle()
        # wrk runs by time: run it again until the requests asked for have been sent.
        counts: dict[str, int] = {}
        total = 0
        for _ in range(5):
            seconds = max(5.0, (args.weighted_requests - total) / cells["Nozama"]["rps"] * 1.2)
            weighted = wrk(weighted_url, args.connections, seconds, str(count_script))
            for backend, count in weighted["backends"].items():
                counts[backend] = counts.get(backend, 0) + count
            total = sum(counts.values())
            if total >= args.weighted_requests:
                break
        blue_share = 100 * counts.get("blue", 0) / max(total, 1)
        log(f"weighted 10/90: {counts} ({blue_share:.2f}% blue of {total})")
    except BaseException:
        for process in bench.processes:
            log(f"--- {process.name}:\n{process.output()[-1500:]}")
        raise
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    ratio = cells["Nozama"]["rps"] / cells["HAProxy"]["rps"]
    added = cells["Nozama at half its peak"]["p99"] - cells["direct at the same rate"]["p99"]
    checks = [
        (ratio >= 0.5, f"Nozama's throughput is {ratio:.0%} of HAProxy's (target >= 50%)"),
        (added <= 1.0, f"At half its peak ({cells['Nozama at half its peak']['rps']:,.0f} "
                       f"req/s) Nozama adds {added:.2f} ms at p99 over going direct "
                       "(target <= 1 ms)"),
        (abs(blue_share - 10) <= 1 and total >= args.weighted_requests,
         f"A 10/90 split sent {blue_share:.2f}% of {total:,} requests to the 10 side "
         "(target 10 ± 1 points over >= 100,000)"),
        (all(c["errors"] == 0 for c in cells.values()), "No failed requests in any cell"),
    ]
    section = results_markdown(cells, checks, args, started)
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
