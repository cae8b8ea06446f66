#!/usr/bin/env python3
"""Task benchmarks: Nozama's Docker agent against plain `docker run`, side by side.

Three measurements, in one run, on one local cluster (a `nozama server` on a
fresh SQLite data dir and one `nozama agent --runtime docker`):

  1. start latency: RunTask until DescribeTasks (polled every 10 ms) shows the
     task RUNNING, against `docker run -d IMAGE sleep 3600` until it returns;
     interleaved, 20 of each (--iterations), median and p90.
     Targets: Nozama median <= 1.3x docker's AND <= docker's + 150 ms.
  2. burst: 100 tasks at once on the one host, 10 concurrent RunTask calls of
     count=10 until all 100 are RUNNING (DescribeTasks every 100 ms), against
     100 concurrent `docker run -d` until all have returned; 2 rounds of each
     in ABBA order (--burst-rounds), medians. Target: Nozama <= 1.5x docker's.
  3. agent idle footprint: RSS (VmRSS) and CPU (utime+stime) of the agent
     process over 30 s with no tasks, once fresh and once after it has run and
     stopped tasks that use the awslogs log driver (which loads botocore's
     CloudWatch Logs client). Targets: RSS < 60 MiB and CPU < 1% of a core.

The task definition has one container: nozama-test/busybox:latest running
`sleep 3600` with memory 16 and stopTimeout 1. One unmeasured warm-up start of
each kind precedes the latency samples. Every Nozama start is also broken down
into steps from timestamps (the task's pullStartedAt / pullStoppedAt /
startedAt, Docker's Created / State.StartedAt), so a miss shows where the time
went.

  python3 bench/tasks.py                 # ~4.5 minutes, prints the tables
  python3 bench/tasks.py --write-docs    # also updates docs/benchmarks.md
  python3 bench/tasks.py --only latency --iterations 50

Exit status: 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402

IMAGE = "nozama-test/busybox:latest"
FAMILY = "bench-sleep"
AWSLOGS_FAMILY = "bench-awslogs"
AWSLOGS_GROUP = "/nozama-bench/tasks"
BEGIN_MARK = "<!-- bench/tasks.py results: begin -->"
END_MARK = "<!-- bench/tasks.py results: end -->"
POLL = 0.010            # DescribeTasks interval while waiting for RUNNING (latency)
# In the burst each DescribeTasks describes up to 100 tasks: polling that every 20 ms costs
# the client and the server together ~0.3 CPU, which on a 2-CPU machine saturated by Docker
# slowed Nozama's burst by 10-30%. Every 100 ms adds at most 0.1 s to a ~20 s figure.
BURST_POLL = 0.100
BUSY = 0.25             # background CPUs above which a phase is flagged as disturbed

LATENCY_RATIO, LATENCY_EXTRA_MS = 1.3, 150.0
BURST_RATIO = 1.5
IDLE_RSS_MIB, IDLE_CPU_PCT = 60.0, 1.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def container_definition(**extra) -> dict:
    return {"name": "sleeper", "image": IMAGE, "command": ["sleep", "3600"], "memory": 16,
            "stopTimeout": 1, "essential": True, **extra}


# --- Nozama and docker primitives ---------------------------------------------------

class Bench:
    def __init__(self, cluster: cl.Cluster):
        self.c = cluster
        self.ecs = cluster.ecs

    def describe(self, arns: list[str], ecs=None) -> list[dict]:
        out = []
        for i in range(0, len(arns), 100):
            answer = (ecs or self.ecs).describe_tasks(cluster=self.c.cluster,
                                                      tasks=arns[i:i + 100])
            if answer.get("failures"):
                raise RuntimeError(f"DescribeTasks failures: {answer['failures']}")
            out += answer["tasks"]
        return out

    def run_task(self, family: str, count: int = 1, ecs=None) -> list[str]:
        answer = (ecs or self.ecs).run_task(cluster=self.c.cluster, taskDefinition=family,
                                            count=count)
        if answer.get("failures") or len(answer["tasks"]) != count:
            raise RuntimeError(f"RunTask failures: {answer.get('failures')}")
        return [t["taskArn"] for t in answer["tasks"]]

    def wait_status(self, arns: list[str], status: str, timeout: float,
                    interval: float = 0.05) -> dict[str, dict]:
        """Poll until every task has lastStatus `status`; the tasks as last described."""
        deadline = time.monotonic() + timeout
        seen: dict[str, dict] = {}
        pending = list(arns)
        while pending:
            for task in self.describe(pending):
                if task["lastStatus"] == status:
                    seen[task["taskArn"]] = task
                elif task["lastStatus"] == "STOPPED":
                    raise RuntimeError(f"task {task['taskArn']} stopped: "
                                       f"{task.get('stoppedReason')}")
            pending = [a for a in pending if a not in seen]
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(pending)} task(s) not {status} after {timeout}s")
                time.sleep(interval)
        return seen

    def stop_and_remove(self, arns: list[str], wait: bool = True) -> None:
        """StopTask each task, wait until all are STOPPED, and remove their containers."""
        for arn in arns:
            self.ecs.stop_task(cluster=self.c.cluster, task=arn, reason="benchmark cleanup")
        if wait:
            tasks = self.wait_status(arns, "STOPPED", timeout=120)
            ids = [c["runtimeId"] for t in tasks.values() for c in t["containers"]
                   if c.get("runtimeId")]
            cl.docker_rm(ids)


def docker_run() -> tuple[str, float, float]:
    """`docker run -d IMAGE sleep 3600`: (container id, wall start, seconds until it returned)."""
    wall = time.time()
    start = time.perf_counter()
    done = subprocess.run(["docker", "run", "-d", IMAGE, "sleep", "3600"],
                          capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"docker run failed: {done.stderr.strip()}")
    return done.stdout.strip(), wall, elapsed


class CpuUse:
    """CPU (ms) used over a window by: this script's own threads (the poller), its reaped
    children (docker CLI processes), the Nozama server and agent, dockerd + containerd."""

    def __init__(self, cluster: cl.Cluster | None):
        self.pids = {"server": cluster.server.pid, "agent": cluster.agent.pid} if cluster else {}
        self.daemons = cl.pids_named("dockerd", "containerd")

    def _read(self) -> dict[str, int]:
        own = cl.cpu_ticks(os.getpid())
        out = {"bench": own, "children": cl.cpu_ticks(os.getpid(), children=True) - own,
               "daemons": sum(cl.cpu_ticks(p) for p in self.daemons)}
        out.update({k: cl.cpu_ticks(p) for k, p in self.pids.items()})
        return out

    def __enter__(self):
        self.before = self._read()
        return self

    def stop(self) -> dict[str, float]:
        after = self._read()
        self.used = {k: (after[k] - self.before[k]) * 1000 / cl.HZ for k in after}
        return self.used


# --- 1. start latency --------------------------------------------------------------

NOZAMA_STEPS = [
    ("RunTask answered", "answer"),
    ("agent began the task (pullStartedAt)", "pull_started"),
    ("image checked (pullStoppedAt)", "pull_stopped"),
    ("container created (Docker Created)", "created"),
    ("container running (Docker State.StartedAt)", "running"),
    ("agent saw start return (startedAt)", "started_at"),
    ("DescribeTasks shows RUNNING", "seen"),
]
DOCKER_STEPS = [
    ("container created (Docker Created)", "created"),
    ("container running (Docker State.StartedAt)", "running"),
    ("`docker run -d` returned", "seen"),
]


@dataclass
class Latency:
    nozama: list[float] = field(default_factory=list)      # seconds
    docker: list[float] = field(default_factory=list)
    nozama_steps: list[dict] = field(default_factory=list)  # ms since RunTask was sent
    docker_steps: list[dict] = field(default_factory=list)
    background: list[float] = field(default_factory=list)


def nozama_start(b: Bench) -> tuple[float, dict]:
    cpu = CpuUse(b.c).__enter__()
    wall = time.time()
    start = time.perf_counter()
    [arn] = b.run_task(FAMILY)
    answered = time.perf_counter()
    deadline = start + 60
    while True:
        [task] = b.describe([arn])
        if task["lastStatus"] == "RUNNING":
            seen = time.perf_counter()
            break
        if task["lastStatus"] == "STOPPED":
            raise RuntimeError(f"task stopped: {task.get('stoppedReason')}")
        if time.perf_counter() > deadline:
            raise RuntimeError("task not RUNNING after 60 s")
        time.sleep(POLL)
    used = cpu.stop()
    runtime_id = task["containers"][0]["runtimeId"]
    created, running = cl.docker_times([runtime_id])[runtime_id]

    def ms(value) -> float:
        stamp = value.timestamp() if hasattr(value, "timestamp") else value
        return (stamp - wall) * 1000

    steps = {"answer": (answered - start) * 1000, "pull_started": ms(task["pullStartedAt"]),
             "pull_stopped": ms(task["pullStoppedAt"]), "created": ms(created),
             "running": ms(running), "started_at": ms(task["startedAt"]),
             "seen": (seen - start) * 1000,
             **{"cpu_" + k: v for k, v in used.items()}}
    b.stop_and_remove([arn])
    return seen - start, steps


def docker_start() -> tuple[float, dict]:
    cpu = CpuUse(None).__enter__()
    cid, wall, elapsed = docker_run()
    used = cpu.stop()
    created, running = cl.docker_times([cid])[cid]
    steps = {"created": (created - wall) * 1000, "running": (running - wall) * 1000,
             "seen": elapsed * 1000, **{"cpu_" + k: v for k, v in used.items()}}
    cl.docker_rm([cid])
    return elapsed, steps


def bench_latency(b: Bench, iterations: int, warmup: int) -> Latency:
    result = Latency()
    for _ in range(warmup):
        nozama_start(b)
        docker_start()
    for i in range(iterations):
        order = ("nozama", "docker") if i % 2 == 0 else ("docker", "nozama")
        with cl.Background() as load:
            for which in order:
                if which == "nozama":
                    seconds, steps = nozama_start(b)
                    result.nozama.append(seconds)
                    result.nozama_steps.append(steps)
                else:
                    seconds, steps = docker_start()
                    result.docker.append(seconds)
                    result.docker_steps.append(steps)
        result.background.append(load.cpus)
        log(f"  latency {i + 1}/{iterations}: nozama {result.nozama[-1] * 1000:.0f} ms, "
            f"docker {result.docker[-1] * 1000:.0f} ms (background {load.cpus:.2f} CPU)")
    return result


# --- 2. burst ------------------------------------------------------------------------

@dataclass
class Burst:
    nozama: float = 0.0
    docker: float = 0.0
    nozama_rounds: list[float] = field(default_factory=list)
    docker_rounds: list[float] = field(default_factory=list)
    nozama_detail: dict = field(default_factory=dict)
    docker_detail: dict = field(default_factory=dict)
    background: dict = field(default_factory=dict)


def burst_docker(total: int) -> tuple[float, dict]:
    go = threading.Event()
    results: list = [None] * total

    def worker(i: int) -> None:
        go.wait()
        try:
            results[i] = docker_run()
        except Exception as error:  # noqa: BLE001
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(total)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    cpu = CpuUse(None).__enter__()
    wall = time.time()
    start = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    used = cpu.stop()
    errors = [r for r in results if isinstance(r, Exception)]
    ids = [r[0] for r in results if not isinstance(r, Exception)]
    try:
        if errors:
            raise RuntimeError(f"{len(errors)} docker run(s) failed: {errors[0]}")
        times = cl.docker_times(ids)
        detail = {"last created": (max(c for c, _ in times.values()) - wall) * 1000,
                  "last running": (max(r for _, r in times.values()) - wall) * 1000,
                  "all returned": elapsed * 1000}
        detail["cpu"] = {"docker CLI processes": used["children"],
                         "dockerd + containerd": used["daemons"]}
    finally:
        cl.docker_rm(ids)
    return elapsed, detail


def burst_nozama(b: Bench, calls: int, per_call: int) -> tuple[float, dict]:
    cpu = CpuUse(b.c)
    clients = [b.c.client("ecs") for _ in range(calls)]
    for client in clients:       # open each client's connection before the clock starts
        client.describe_clusters(clusters=[b.c.cluster])
    go = threading.Event()
    results: list = [None] * calls

    def worker(i: int) -> None:
        go.wait()
        try:
            arns = b.run_task(FAMILY, count=per_call, ecs=clients[i])
            results[i] = (arns, time.perf_counter())
        except Exception as error:  # noqa: BLE001
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(calls)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    cpu.__enter__()
    wall = time.time()
    start = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    errors = [r for r in results if isinstance(r, Exception)]
    arns = [a for r in results if not isinstance(r, Exception) for a in r[0]]
    try:
        if errors:
            raise RuntimeError(f"{len(errors)} RunTask call(s) failed: {errors[0]}")
        answered = max(r[1] for r in results)
        pending, tasks = list(arns), {}
        deadline = start + 300
        while pending:
            for task in b.describe(pending):
                if task["lastStatus"] == "RUNNING":
                    tasks[task["taskArn"]] = task
                elif task["lastStatus"] == "STOPPED":
                    raise RuntimeError(f"task stopped: {task.get('stoppedReason')}")
            pending = [a for a in pending if a not in tasks]
            if pending:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{len(pending)} tasks not RUNNING after 300 s")
                time.sleep(BURST_POLL)
        elapsed = time.perf_counter() - start
        used = cpu.stop()
        ids = [t["containers"][0]["runtimeId"] for t in tasks.values()]
        times = cl.docker_times(ids)
        detail = {
            "all RunTask answered": (answered - start) * 1000,
            "first agent pickup": min(t["pullStartedAt"].timestamp() - wall
                                      for t in tasks.values()) * 1000,
            "last agent pickup": max(t["pullStartedAt"].timestamp() - wall
                                     for t in tasks.values()) * 1000,
            "last created": (max(c for c, _ in times.values()) - wall) * 1000,
            "last running": (max(r for _, r in times.values()) - wall) * 1000,
            "last startedAt": max(t["startedAt"].timestamp() - wall
                                  for t in tasks.values()) * 1000,
            "all RUNNING seen": elapsed * 1000,
            "cpu": {"agent": used["agent"], "server": used["server"],
                    "benchmark client (RunTask, DescribeTasks polling)": used["bench"],
                    "dockerd + containerd": used["daemons"]}}
    finally:
        cleanup_burst(b, arns)
    return elapsed, detail


def cleanup_burst(b: Bench, arns: list[str]) -> None:
    """Stop every task, remove the containers (the agent then reports them STOPPED at
    once instead of waiting out each stopTimeout), and wait until all are STOPPED."""
    started = time.monotonic()
    b.stop_and_remove(arns, wait=False)
    cl.docker_rm(b.c.our_containers())
    if arns:
        b.wait_status(arns, "STOPPED", timeout=180, interval=0.5)
    log(f"  cleanup of {len(arns)} tasks took {time.monotonic() - started:.1f} s")


def bench_burst(b: Bench, total: int, calls: int, rounds: int, quiet: float) -> Burst:
    """`rounds` bursts of each kind in ABBA order (docker, Nozama, Nozama, docker, ...),
    each on a settled machine; the figure of each side is the median of its rounds."""
    result = Burst()
    kinds = [k for r in range(rounds)
             for k in (("docker", "nozama") if r % 2 == 0 else ("nozama", "docker"))]
    times: dict[str, list[float]] = {"docker": [], "nozama": []}
    details: dict[str, list[dict]] = {"docker": [], "nozama": []}
    loads: dict[str, list[float]] = {"docker": [], "nozama": []}
    for i, kind in enumerate(kinds):
        # The agent removes a stopped task's resources cleanup_wait seconds after it
        # stopped; that, and the kernel tearing down 100 containers, must not fall
        # inside the next burst.
        time.sleep(b.c.cleanup_wait + 1 if i else 0)
        cl.settle(timeout=quiet)
        with cl.Background() as load:
            if kind == "docker":
                seconds, detail = burst_docker(total)
            else:
                seconds, detail = burst_nozama(b, calls, total // calls)
        times[kind].append(seconds)
        details[kind].append(detail)
        loads[kind].append(load.cpus)
        log(f"  {kind}: {total} started in {seconds:.2f} s (background {load.cpus:.2f} CPU)")
    result.docker, result.nozama = (statistics.median(times["docker"]),
                                    statistics.median(times["nozama"]))
    result.docker_rounds, result.nozama_rounds = times["docker"], times["nozama"]

    def median_detail(items: list[dict]) -> dict:
        out = {k: statistics.median(d[k] for d in items) for k in items[0] if k != "cpu"}
        out["cpu"] = {k: statistics.median(d["cpu"][k] for d in items) for k in items[0]["cpu"]}
        return out
    result.docker_detail = median_detail(details["docker"])
    result.nozama_detail = median_detail(details["nozama"])
    result.background = {k: max(v) for k, v in loads.items()}
    return result


# --- 3. idle footprint ---------------------------------------------------------------

@dataclass
class Idle:
    label: str
    seconds: float
    rss_max: float          # MiB
    rss_end: float
    hwm: float
    cpu_pct: float          # % of one core
    threads: int
    server_rss: float
    server_cpu_pct: float
    background: float


def measure_idle(c: cl.Cluster, label: str, seconds: float) -> Idle:
    pid, server = c.agent.pid, c.server.pid
    samples = []
    with cl.Background() as load:
        t0 = time.monotonic()
        a0, s0 = cl.cpu_ticks(pid), cl.cpu_ticks(server)
        while time.monotonic() - t0 < seconds:
            c.agent.check()
            samples.append(cl.rss_mib(pid))
            time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - t0))))
        a1, s1 = cl.cpu_ticks(pid), cl.cpu_ticks(server)
        wall = time.monotonic() - t0
    status = cl.proc_status(pid)
    samples.append(cl.rss_mib(pid))
    idle = Idle(label=label, seconds=wall, rss_max=max(samples), rss_end=samples[-1],
                hwm=int(status["VmHWM"].split()[0]) / 1024,
                cpu_pct=(a1 - a0) / cl.HZ / wall * 100, threads=int(status["Threads"]),
                server_rss=cl.rss_mib(server), server_cpu_pct=(s1 - s0) / cl.HZ / wall * 100,
                background=load.cpus)
    log(f"  idle ({label}): RSS {idle.rss_max:.1f} MiB, CPU {idle.cpu_pct:.2f}% "
        f"of a core, {idle.threads} threads")
    return idle


def run_awslogs_tasks(b: Bench, count: int) -> int:
    """Run `count` awslogs tasks, wait for their lines in the Logs API, stop them and
    wait until the agent has removed their containers. The number of log events seen."""
    arns = b.run_task(AWSLOGS_FAMILY, count=count)
    b.wait_status(arns, "RUNNING", timeout=60)
    deadline = time.monotonic() + 20
    events = 0
    while time.monotonic() < deadline:
        try:
            events = len(b.c.logs.filter_log_events(logGroupName=AWSLOGS_GROUP)["events"])
        except b.c.logs.exceptions.ResourceNotFoundException:
            events = 0
        if events >= 5 * count:
            break
        time.sleep(0.25)
    for arn in arns:
        b.ecs.stop_task(cluster=b.c.cluster, task=arn, reason="benchmark")
    b.wait_status(arns, "STOPPED", timeout=60)
    deadline = time.monotonic() + b.c.cleanup_wait + 30
    while b.c.our_containers():      # the agent's own cleanup, after --cleanup-wait
        if time.monotonic() > deadline:
            raise RuntimeError("the agent did not remove the awslogs containers")
        time.sleep(0.5)
    return events


# --- report --------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    nozama: str
    peer: str
    ratio: str
    target: str
    passed: bool


def checks_of(latency: Latency | None, burst: Burst | None, idles: list[Idle]) -> list[Check]:
    out = []
    if latency and latency.nozama:
        n, d = statistics.median(latency.nozama) * 1000, statistics.median(latency.docker) * 1000
        out.append(Check("start latency, median", f"{n:.0f} ms", f"{d:.0f} ms",
                         f"{n / d:.2f}x", f"<= {LATENCY_RATIO}x docker", n <= LATENCY_RATIO * d))
        out.append(Check("start latency, median", f"{n:.0f} ms", f"{d:.0f} ms",
                         f"+{n - d:.0f} ms", f"<= docker + {LATENCY_EXTRA_MS:.0f} ms",
                         n <= d + LATENCY_EXTRA_MS))
    if burst and burst.nozama:
        out.append(Check("100 tasks at once", f"{burst.nozama:.2f} s", f"{burst.docker:.2f} s",
                         f"{burst.nozama / burst.docker:.2f}x", f"<= {BURST_RATIO}x docker",
                         burst.nozama <= BURST_RATIO * burst.docker))
    for idle in idles:
        out.append(Check(f"agent idle RSS ({idle.label})", f"{idle.rss_max:.1f} MiB", "-", "-",
                         f"< {IDLE_RSS_MIB:.0f} MiB", idle.rss_max < IDLE_RSS_MIB))
        out.append(Check(f"agent idle CPU ({idle.label})", f"{idle.cpu_pct:.2f}% of a core",
                         "-", "-", f"< {IDLE_CPU_PCT:g}% of a core",
                         idle.cpu_pct < IDLE_CPU_PCT))
    return out


def md_table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    return ["| " + " | ".join(header) + " |",
            "|" + "|".join("--:" if a == "r" else "---" for a in align) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def text_table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(row):
        return "  ".join(str(v).rjust(w) if a == "r" else str(v).ljust(w)
                         for v, w, a in zip(row, widths, align))
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def report_lines(latency: Latency | None, burst: Burst | None, idles: list[Idle],
                 checks: list[Check], markdown: bool, args) -> list[str]:
    table = md_table if markdown else text_table
    out: list[str] = []

    def heading(text: str) -> None:
        out.extend([f"### {text}" if markdown else f"== {text}", ""])

    heading("Targets")
    out += table(["benchmark", "Nozama", "docker", "ratio / diff", "target", "result"],
                 [[c.name, c.nozama, c.peer, c.ratio, c.target,
                   "PASS" if c.passed else ("**FAIL**" if markdown else "FAIL")]
                  for c in checks], "lrrrll")
    passed = sum(c.passed for c in checks)
    out += ["", f"Overall: {'PASS' if passed == len(checks) else 'FAIL'} "
            f"({passed}/{len(checks)} targets met).", ""]
    loads = (latency.background if latency else []) + \
        (list(burst.background.values()) if burst else []) + [i.background for i in idles]
    if loads and max(loads) > BUSY:
        out += [f"Note: processes outside the benchmark used up to {max(loads):.2f} CPU "
                "during a phase (figures below): the run was disturbed; rerun on a quiet "
                "machine.", ""]

    if latency and latency.nozama:
        heading(f"1. Start latency ({len(latency.nozama)} starts of each, interleaved)")
        rows = []
        for name, values in (("Nozama: RunTask -> DescribeTasks RUNNING", latency.nozama),
                             ("docker run -d", latency.docker)):
            ms = [v * 1000 for v in values]
            rows.append([name, f"{statistics.median(ms):.0f}", f"{percentile(ms, 90):.0f}",
                         f"{min(ms):.0f}", f"{max(ms):.0f}"])
        out += table(["", "median ms", "p90 ms", "min ms", "max ms"], rows, "lrrrr")
        out += ["", "Where the time goes (median ms after the request was sent; "
                "each row is a median on its own, so the rows need not add up):", ""]
        rows = [["Nozama: " + name, f"{statistics.median(s[key] for s in latency.nozama_steps):.0f}"]
                for name, key in NOZAMA_STEPS]
        rows += [["docker: " + name, f"{statistics.median(s[key] for s in latency.docker_steps):.0f}"]
                 for name, key in DOCKER_STEPS]
        out += table(["step", "ms"], rows, "lr")
        n = latency.nozama_steps
        out += ["", "Median step durations, Nozama (ms): " + ", ".join(
            f"{label} {statistics.median(s[b] - s[a] for s in n):.0f}" for label, a, b in (
                ("RunTask -> agent pickup", "answer", "pull_started"),
                ("image check", "pull_started", "pull_stopped"),
                ("-> Docker created", "pull_stopped", "created"),
                ("created -> running", "created", "running"),
                ("running -> agent saw it", "running", "started_at"),
                ("-> DescribeTasks RUNNING", "started_at", "seen"))) + "; docker CLI: "
            + ", ".join(f"{label} {statistics.median(s[b] - s[a] for s in latency.docker_steps):.0f}"
                        for label, a, b in (("created -> running", "created", "running"),
                                            ("running -> CLI returned", "running", "seen")))
            + f", CLI start -> created {statistics.median(s['created'] for s in latency.docker_steps):.0f}.",
            ""]
        def cpu(steps, key):
            return statistics.median(x["cpu_" + key] for x in steps)
        n, d = latency.nozama_steps, latency.docker_steps
        out += [f"CPU used during one start (median ms of CPU time, {1000 // cl.HZ} ms ticks): "
                f"Nozama: agent {cpu(n, 'agent'):.0f}, server {cpu(n, 'server'):.0f}, "
                f"benchmark client (RunTask + DescribeTasks every {POLL * 1000:.0f} ms) "
                f"{cpu(n, 'bench'):.0f}, dockerd + containerd {cpu(n, 'daemons'):.0f}; "
                f"docker: docker CLI {cpu(d, 'children'):.0f}, dockerd + containerd "
                f"{cpu(d, 'daemons'):.0f}.", ""]
        bg = latency.background
        out += [f"Background load during the latency pairs: {statistics.mean(bg):.2f} CPU on "
                f"average, {max(bg):.2f} at most.", ""]

    if burst and burst.nozama:
        heading(f"2. {args.burst} tasks at once ({args.burst_calls} concurrent RunTask calls of "
                f"count={args.burst // args.burst_calls} vs {args.burst} concurrent "
                f"`docker run -d`; {len(burst.nozama_rounds)} round(s) of each)")
        out += ["Rounds, in the order run (s): Nozama " + ", ".join(
            f"{x:.2f}" for x in burst.nozama_rounds) + "; docker " + ", ".join(
            f"{x:.2f}" for x in burst.docker_rounds) + ". Milestones and CPU are medians "
            "over the rounds.", ""]
        rows = [["Nozama: " + k, f"{v:.0f}"] for k, v in burst.nozama_detail.items()
                if k != "cpu"]
        rows += [["docker: " + k, f"{v:.0f}"] for k, v in burst.docker_detail.items()
                 if k != "cpu"]
        out += table(["milestone", "ms after start"], rows, "lr")
        out += ["", "CPU used until the last start (s of CPU time): Nozama: " + ", ".join(
            f"{k} {v / 1000:.1f}" for k, v in burst.nozama_detail["cpu"].items())
            + "; docker: " + ", ".join(f"{k} {v / 1000:.1f}"
                                      for k, v in burst.docker_detail["cpu"].items()) + "."]
        out += ["", f"Background load: up to {burst.background.get('docker', 0):.2f} CPU during "
                f"the docker bursts, {burst.background.get('nozama', 0):.2f} during Nozama's.", ""]

    if idles:
        heading("3. Agent idle footprint")
        rows = [[i.label, f"{i.seconds:.0f}", f"{i.rss_max:.1f}", f"{i.hwm:.1f}",
                 f"{i.cpu_pct:.2f}", str(i.threads), f"{i.server_rss:.1f}",
                 f"{i.server_cpu_pct:.2f}", f"{i.background:.2f}"] for i in idles]
        out += table(["agent", "window s", "RSS MiB (max)", "peak RSS MiB (VmHWM)",
                      "CPU % of a core", "threads", "server RSS MiB", "server CPU %",
                      "background CPU"], rows, "lrrrrrrrr")
        out.append("")
    return out


def docs_section(lines: list[str], started: str, args) -> str:
    m, v = cl.machine(), cl.versions()
    head = [
        BEGIN_MARK,
        "## Results: task start latency, burst and agent footprint (`bench/tasks.py`)",
        "",
        f"- Date: {started}",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['os']}",
        f"- Command: `{cl.command_line()}`",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
    ]
    body = [line.replace("### ", "#### ", 1) if line.startswith("### ") else line
            for line in lines]
    return "\n".join(head + body).rstrip("\n") + "\n" + END_MARK


# --- main ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20,
                        help="latency samples of each kind (default 20)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured starts of each kind first (default 1)")
    parser.add_argument("--burst", type=int, default=100, help="tasks in the burst (100)")
    parser.add_argument("--burst-calls", type=int, default=10,
                        help="concurrent RunTask calls sharing the burst (10)")
    parser.add_argument("--burst-rounds", type=int, default=2,
                        help="bursts of each kind, in ABBA order; the median counts (2)")
    parser.add_argument("--idle-seconds", type=float, default=30.0,
                        help="length of each idle window (30)")
    parser.add_argument("--awslogs-tasks", type=int, default=3,
                        help="awslogs tasks run before the second idle window (3)")
    parser.add_argument("--quiet-wait", type=float, default=10.0,
                        help="seconds to wait at most for the machine to go idle (under "
                        "0.3 CPU) before each phase and burst (10)")
    parser.add_argument("--only", nargs="+", choices=["latency", "burst", "idle"],
                        default=["latency", "burst", "idle"])
    parser.add_argument("--write-docs", action="store_true",
                        help="replace the results section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.burst % args.burst_calls:
        parser.error("--burst must be a multiple of --burst-calls")

    started = cl.date_u()
    cl.docker("image", "inspect", IMAGE)      # the image must be there: no registry
    cluster = cl.Cluster(cleanup_wait=5)
    latency = burst = None
    idles: list[Idle] = []
    try:
        log(f"starting nozama server and agent in {cluster.workdir}")
        cluster.start()
        b = Bench(cluster)
        b.ecs.register_task_definition(family=FAMILY,
                                       containerDefinitions=[container_definition()])
        b.ecs.register_task_definition(family=AWSLOGS_FAMILY, containerDefinitions=[
            container_definition(
                command=["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo bench line $i; "
                         "done; exec sleep 3600"],
                logConfiguration={"logDriver": "awslogs", "options": {
                    "awslogs-group": AWSLOGS_GROUP, "awslogs-region": cl.REGION,
                    "awslogs-stream-prefix": "bench", "awslogs-create-group": "true"}})])

        if "idle" in args.only:
            time.sleep(2)
            cl.settle(timeout=args.quiet_wait)
            log(f"idle footprint, fresh agent ({args.idle_seconds:g} s)")
            idles.append(measure_idle(cluster, "fresh, no task run yet", args.idle_seconds))
        if "latency" in args.only:
            cl.settle(timeout=args.quiet_wait)
            log(f"start latency: {args.warmup} warm-up + {args.iterations} pairs")
            latency = bench_latency(b, args.iterations, args.warmup)
        if "burst" in args.only:
            log(f"burst of {args.burst}")
            burst = bench_burst(b, args.burst, args.burst_calls, args.burst_rounds,
                                args.quiet_wait)
        if "idle" in args.only:
            log(f"{args.awslogs_tasks} awslogs tasks, then idle footprint")
            events = run_awslogs_tasks(b, args.awslogs_tasks)
            log(f"  {events} log events shipped; containers removed by the agent")
            time.sleep(2)
            cl.settle(timeout=args.quiet_wait)
            idles.append(measure_idle(
                cluster, ("after the benchmarks above and " if len(args.only) > 1 else
                          "after ") + f"{args.awslogs_tasks} awslogs tasks", args.idle_seconds))
    finally:
        cluster.close()

    checks = checks_of(latency, burst, idles)
    print("\n".join(report_lines(latency, burst, idles, checks, markdown=False, args=args)))
    if args.write_docs:
        section = docs_section(report_lines(latency, burst, idles, checks, markdown=True,
                                            args=args), started, args)
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
        log(f"wrote the results to {cl.DOCS}")
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
