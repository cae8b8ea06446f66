#!/usr/bin/env python3
"""Load balancer benchmark: Nozama's HAProxy against HAProxy configured by hand, side by side.

Issue 16's targets, measured in one run on loopback:
  - throughput: the HAProxy Nozama drives, with the configuration it generates for a
    listener with 10 rules and a 90/10 weighted forward, reaches at least 90% of the
    requests per second of an HAProxy configured by hand with one backend;
  - latency: at half of the hand-configured HAProxy's peak, Nozama's adds at most
    0.3 ms at p99 over it, at the same rate;
  - HTTPS: the same throughput comparison with TLS on both (keep-alive), >= 90%;
  - churn: 60 s of load while the forward's weights change every second and a rule is
    added or removed every 10 s (a reload): no failed request, the split 90/10 ± 1;
  - the controller (`nozama lb` without HAProxy) idle: under 1% of a core, 80 MiB.

Setup: two nginx backends (one worker each) serve a small static file on 127.0.0.1,
saying which they are in an X-Backend header. The hand-configured HAProxy has
`nbthread 1`, one frontend and one backend with keep-alive to it (and an HTTPS frontend
with a self-signed RSA 2048 certificate). Nozama runs `nozama server` and `nozama lb`
(NOZAMA_LB_THREADS=1): one load balancer whose HTTP and HTTPS listeners (the latter
with a certificate from `acm request-certificate`, RSA 2048) have 10 path rules the
load never matches and a default 90/10 forward to the two backends. Both HAProxys
are pinned to CPU 0; wrk, the backends and Nozama's controller to CPU 1. The same load
(`wrk`, one thread, --connections keep-alive connections, --duration seconds) goes
through each, rounds alternating. The churn's weight changes keep the ratio (90/10,
9/1, 180/20 in turn): each rewrites the forward's map at runtime.

Needs wrk, haproxy and nginx (Debian: apt-get install wrk haproxy nginx-light).

  python3 bench/lb.py                 # ~6 minutes
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402

BEGIN_MARK = "<!-- bench/lb.py results: begin -->"
END_MARK = "<!-- bench/lb.py results: end -->"
PROXY_CPU, LOAD_CPU = "0", "1"
RULES = 10
WRK_COUNT = """
counts = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) seen = {} end
function response(status, headers, body)
  local b = headers["X-Backend"] or headers["x-backend"] or "none"
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


def wrk(url: str, connections: int, duration: float, script: str | None = None) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{math.ceil(duration)}s", "--latency",
               "--timeout", "5s"]
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
        self.elb = self.acm = None
        self.groups: list[str] = []
        self.listener = ""

    def spawn(self, name: str, command: list[str], env: dict | None = None) -> cl.Process:
        if env:
            os.environ.update(env)
        try:
            process = cl.Process(name, command, self.work / f"{name}.log")
        finally:
            for key in env or {}:
                os.environ.pop(key, None)
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
        conf = self.work / "backends.conf"
        conf.write_text(textwrap.dedent(f"""
            worker_processes 1; daemon off; pid {self.work / 'backends'}.pid;
            error_log {self.work / 'backends'}-error.log;
            events {{ worker_connections 4096; }}
            http {{ access_log off; {servers} }}
            """))
        self.spawn("backends", pinned(LOAD_CPU, ["nginx", "-c", str(conf), "-p", str(self.work)]))

    def haproxy(self, port: int, tls_port: int) -> None:
        """HAProxy by hand: one thread, one backend, HTTP and HTTPS frontends."""
        pem = self.work / "hand.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=hand.example", "-keyout", str(pem), "-out",
                        str(pem.with_suffix(".crt"))], check=True, capture_output=True)
        pem.write_bytes(pem.with_suffix(".crt").read_bytes() + pem.read_bytes())
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
              bind 127.0.0.1:{tls_port} ssl crt {pem} alpn http/1.1
              default_backend b
            backend b
              server s1 127.0.0.1:{self.backend_ports[0]}
            """))
        self.spawn("haproxy", pinned(PROXY_CPU, ["haproxy", "-f", str(conf)]))

    def nozama(self, port: int, tls_port: int) -> tuple[str, str, int]:
        """Server and data plane, and a load balancer with an HTTP and an HTTPS listener.
        Returns the two URLs and the controller's pid."""
        api_port = cl.free_port()
        endpoint = f"http://127.0.0.1:{api_port}"
        data = self.work / "nozama"
        server = self.spawn("nozama-server", [sys.executable, "-m", "nozama", "server",
                                              "--port", str(api_port), "--data-dir", str(data),
                                              "--log-level", "warning"])
        controller = self.spawn("nozama-lb", pinned(LOAD_CPU, [
            sys.executable, "-m", "nozama", "lb", "--data-dir", str(data),
            "--log-level", "warning"]), env={"NOZAMA_LB_THREADS": "1"})
        cl.wait_health(endpoint, server)
        key = cl.admin_key(data)
        self.elb, self.acm = cl.client("elbv2", endpoint, key), cl.client("acm", endpoint, key)
        elb = self.elb
        vpc, subnets = cl.default_network(cl.client("ec2", endpoint, key))
        lb = elb.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0]
        for name, backend in zip(("blue", "green"), self.backend_ports):
            arn = elb.create_target_group(
                Name=name, Protocol="HTTP", Port=backend, VpcId=vpc, TargetType="ip",
                HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1"}])
            self.groups.append(arn)
        certificate = self.acm.request_certificate(DomainName=lb["DNSName"])["CertificateArn"]
        listeners = []
        for protocol, listener_port in (("HTTP", port), ("HTTPS", tls_port)):
            extra = {"Certificates": [{"CertificateArn": certificate}]} \
                if protocol == "HTTPS" else {}
            arn = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol=protocol,
                                      Port=listener_port, DefaultActions=self.forward(90, 10),
                                      **extra)["Listeners"][0]["ListenerArn"]
            for n in range(RULES):
                elb.create_rule(ListenerArn=arn, Priority=n + 1, Conditions=[
                    {"Field": "path-pattern", "Values": [f"/rule-{n}/*"]}], Actions=[
                    {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
            listeners.append(arn)
        self.listener = listeners[0]
        deadline = time.monotonic() + 60
        while any(d["TargetHealth"]["State"] != "healthy" for g in self.groups for d in
                  elb.describe_target_health(TargetGroupArn=g)["TargetHealthDescriptions"]):
            if time.monotonic() > deadline:
                raise RuntimeError("targets did not become healthy")
            time.sleep(0.5)
        host = lb["DNSName"]
        return f"http://{host}:{port}/", f"https://{host}:{tls_port}/", controller.pid

    def forward(self, blue: int, green: int) -> list[dict]:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": self.groups[0], "Weight": blue},
            {"TargetGroupArn": self.groups[1], "Weight": green}]}}]

    def pin_nozama_haproxy(self) -> None:
        """Nozama's HAProxy (master and workers; later workers inherit it) on the proxy
        CPU, as the hand-configured one."""
        pid_file = next((self.work / "nozama" / "lb").glob("*/haproxy.pid"))
        master = int(pid_file.read_text().split()[0])
        subprocess.run(["taskset", "-a", "-p", "-c", PROXY_CPU, str(master)], check=True,
                       capture_output=True)
        for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
            subprocess.run(["taskset", "-a", "-p", "-c", PROXY_CPU, child], check=True,
                           capture_output=True)

    def churn(self, stop: threading.Event, changes: list[str]) -> None:
        """Weights every second (the ratio kept), a rule added or removed every 10 s."""
        weights = [(9, 1), (180, 20), (90, 10)]
        second, rule = 0, None
        while not stop.wait(1.0):
            second += 1
            self.elb.modify_listener(ListenerArn=self.listener,
                                     DefaultActions=self.forward(*weights[second % 3]))
            changes.append("weights")
            if second % 10 == 0:
                if rule is None:
                    rule = self.elb.create_rule(
                        ListenerArn=self.listener, Priority=RULES + 1, Conditions=[
                            {"Field": "path-pattern", "Values": ["/churn/*"]}], Actions=[
                            {"Type": "fixed-response",
                             "FixedResponseConfig": {"StatusCode": "200"}}])["Rules"][0][
                        "RuleArn"]
                else:
                    self.elb.delete_rule(RuleArn=rule)
                    rule = None
                changes.append("reload")


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
            log(f"{name:40} {run['rps']:9,.0f} req/s  p50 {run['p50']:.2f} ms  "
                f"p99 {run['p99']:.2f} ms  errors {run['errors']}")
    cells = {}
    for name, done in runs.items():
        cells[name] = dict(sorted(done, key=lambda run: run[by])[len(done) // 2])
        cells[name]["errors"] = sum(run["errors"] for run in done)
    return cells


def wait_port(url: str, timeout: float = 30.0) -> None:
    import ssl
    import urllib.request
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2, context=context).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def paced_script(work: Path, url: str, rate: float, connections: int) -> Path:
    """A wrk script whose per-connection delay offers about `rate` requests per second
    (calibrated by short probes: latency falls with the load, so rate and delay are not
    simply proportional)."""
    script = work / f"delay-{len(list(work.glob('delay-*.lua')))}.lua"
    delay_ms = connections / rate * 1000
    for _ in range(5):
        # wrk waits whole milliseconds: round at random, so that the mean is the delay.
        whole, part = int(delay_ms), delay_ms - int(delay_ms)
        script.write_text("function delay()\n"
                          f"  if math.random() < {part:.4f} then return {whole + 1} end\n"
                          f"  return {whole}\nend\n")
        probe = wrk(url, connections, 3, str(script))
        if abs(probe["rps"] / rate - 1) < 0.02:
            break
        # Each connection's cycle is its delay plus the response time: move the delay by
        # what the cycle misses.
        delay_ms = max(0.0, delay_ms + connections * 1000 * (1 / rate - 1 / probe["rps"]))
    return script


def idle_controller(pid: int, seconds: float = 20.0) -> tuple[float, float]:
    """(share of a core, MiB) of the controller over `seconds` without traffic."""
    ticks = os.sysconf("SC_CLK_TCK")
    before = cl.cpu_ticks(pid)
    time.sleep(seconds)
    return (cl.cpu_ticks(pid) - before) / ticks / seconds, cl.rss_mib(pid)


def results_markdown(cells: dict, checks: list[tuple], notes: list[str], args,
                     started: str) -> str:
    machine = cl.machine()
    version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout
    lines = [BEGIN_MARK, "## Load balancer: Nozama's HAProxy against HAProxy by hand "
             "(bench/lb.py)", "",
             f"- Date: {started}", f"- Command: `{cl.command_line()}`",
             f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram']} RAM, "
             f"{machine['os']}",
             f"- Load: wrk, 1 thread, {args.connections} keep-alive connections, "
             f"{args.duration:g} s per run; {args.rounds} rounds alternating the paths, the "
             "run of median throughput shown for each (at half load, of median p99); "
             f"both HAProxys pinned to CPU {PROXY_CPU}, wrk, the nginx backends and "
             f"Nozama's controller to CPU {LOAD_CPU}. Nozama's listener has {RULES} path "
             "rules the load does not match and a 90/10 weighted default forward.",
             f"- Versions: {version.splitlines()[0]}; "
             + ", ".join(f"{k} {v}" for k, v in cl.versions().items() if k != "Docker Engine"),
             "", "| path | req/s | p50 ms | p90 ms | p99 ms | errors |",
             "|---|--:|--:|--:|--:|--:|"]
    for name, cell in cells.items():
        lines.append(f"| {name} | {cell['rps']:,.0f} | {cell['p50']:.2f} | {cell['p90']:.2f} | "
                     f"{cell['p99']:.2f} | {cell['errors']} |")
    lines.append("")
    lines += [f"{note}  " for note in notes]
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
    parser.add_argument("--churn-seconds", type=float, default=60.0)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    for tool in ("wrk", "haproxy", "nginx", "taskset", "openssl"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install wrk haproxy nginx-light openssl",
                  file=sys.stderr)
            return 1
    started = cl.date_u()
    work = Path(tempfile.mkdtemp(prefix="nozama-bench-lb-"))
    work.chmod(0o755)  # nginx's workers run as an unprivileged user
    bench = Bench(work)
    cells: dict[str, dict] = {}
    notes: list[str] = []
    try:
        bench.backends()
        wait_port(f"http://127.0.0.1:{bench.backend_ports[0]}/")
        hand, hand_tls = cl.free_port(), cl.free_port()
        bench.haproxy(hand, hand_tls)
        base = 18000 + os.getpid() % 1000 * 2
        nozama_url, nozama_tls, controller = bench.nozama(base, base + 1)
        bench.pin_nozama_haproxy()
        hand_url, hand_tls_url = f"http://127.0.0.1:{hand}/", f"https://127.0.0.1:{hand_tls}/"
        for url in (hand_url, hand_tls_url, nozama_url, nozama_tls):
            wait_port(url)

        def peak(url: str) -> dict:
            wrk(url, args.connections, 2)  # warm-up: pools, caches
            return wrk(url, args.connections, args.duration)
        cells.update(_in_rounds({"HAProxy by hand": hand_url, "Nozama's HAProxy": nozama_url},
                                args.rounds, peak, by="rps"))
        cells.update(_in_rounds({"HAProxy by hand, HTTPS": hand_tls_url,
                                 "Nozama's HAProxy, HTTPS": nozama_tls},
                                args.rounds, peak, by="rps"))
        # Both at half the hand-configured HAProxy's peak, each paced to that rate.
        half = cells["HAProxy by hand"]["rps"] / 2
        scripts = {url: paced_script(work, url, half, args.connections)
                   for url in (hand_url, nozama_url)}
        cells.update(_in_rounds({"HAProxy by hand at half its peak": hand_url,
                                 "Nozama's HAProxy at the same rate": nozama_url},
                                args.rounds, lambda url: wrk(
                                    url, args.connections, args.duration, str(scripts[url])),
                                by="p99"))
        count_script = work / "count.lua"
        count_script.write_text(WRK_COUNT)
        cl.settle()
        stop, changes = threading.Event(), []
        churner = threading.Thread(target=bench.churn, args=(stop, changes), daemon=True)
        churner.start()
        churn = wrk(nozama_url, args.connections, args.churn_seconds, str(count_script))
        stop.set()
        churner.join()
        cells["Nozama's HAProxy under churn"] = churn
        counts = churn["backends"]
        total = sum(counts.values())
        blue_share = 100 * counts.get("blue", 0) / max(total, 1)
        notes.append(f"Churn: {changes.count('weights')} weight changes and "
                     f"{changes.count('reload')} reloads in {args.churn_seconds:g} s; "
                     f"{counts}.")
        log(notes[-1])
        cl.settle()
        idle_cpu, idle_mib = idle_controller(controller)
        notes.append(f"Controller idle: {idle_cpu:.2%} of a core, {idle_mib:.0f} MiB RSS.")
        log(notes[-1])
    except BaseException:
        for process in bench.processes:
            log(f"--- {process.name}:\n{process.output()[-1500:]}")
        raise
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    ratio = cells["Nozama's HAProxy"]["rps"] / cells["HAProxy by hand"]["rps"]
    tls_ratio = cells["Nozama's HAProxy, HTTPS"]["rps"] / cells["HAProxy by hand, HTTPS"]["rps"]
    added = cells["Nozama's HAProxy at the same rate"]["p99"] - \
        cells["HAProxy by hand at half its peak"]["p99"]
    checks = [
        (ratio >= 0.9, f"Nozama's HAProxy's throughput is {ratio:.1%} of the hand-configured "
                       "HAProxy's (target >= 90%)"),
        (added <= 0.3, f"At {cells['HAProxy by hand at half its peak']['rps']:,.0f} req/s (half "
                       f"the hand-configured peak) Nozama's adds {added:.2f} ms at p99 "
                       "(target <= 0.3 ms)"),
        (tls_ratio >= 0.9, f"HTTPS: Nozama's HAProxy's throughput is {tls_ratio:.1%} of the "
                           "hand-configured HAProxy's (target >= 90%)"),
        (churn["errors"] == 0, f"Churn: {churn['errors']} failed requests of {total:,} "
                               "(target 0)"),
        (abs(blue_share - 90) <= 1, f"Churn: {blue_share:.2f}% of {total:,} requests went to "
                                    "the 90 side (target 90 ± 1 points)"),
        (idle_cpu < 0.01 and idle_mib < 80, f"The controller idle uses {idle_cpu:.2%} of a "
                                            f"core and {idle_mib:.0f} MiB (target < 1%, "
                                            "< 80 MiB)"),
        (all(c["errors"] == 0 for c in cells.values()), "No failed requests in any cell"),
    ]
    section = results_markdown(cells, checks, notes, args, started)
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
