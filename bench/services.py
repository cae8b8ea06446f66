#!/usr/bin/env python3
"""Service benchmark: how long a 1,000-task service takes to reach steady state.

Issue 4's target: a service of 1,000 tasks reaches steady state on simulated
instances in under 2 seconds.

How: one `nozama server` (fresh SQLite data dir) and --instances simulated
agents (`nozama agent --runtime simulated`, one process each, spread over
three zones) in one cluster. Each round creates a service of --tasks tasks
(the ECS defaults: rolling, 100%/200%, spread by zone then instance) and
polls DescribeServices every 20 ms until its events say "(service ...) has
reached a steady state." with runningCount equal to desiredCount. The time
is from just before CreateService to the DescribeServices answer that first
shows it; the time until all tasks are RUNNING is reported as well. Between
rounds the service is deleted (force) and the script waits until its tasks
are gone. The figure is the median of --rounds rounds; the worst is shown too.

  python3 bench/services.py                 # ~1 minute, prints the table
  python3 bench/services.py --write-docs    # also updates docs/benchmarks.md

Exit status: 0 when the median meets the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402

BEGIN_MARK = "<!-- bench/services.py results: begin -->"
END_MARK = "<!-- bench/services.py results: end -->"
CLUSTER = "bench-services"
TARGET_SECONDS = 2.0
POLL_SECONDS = 0.02


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, instances: int):
        self.workdir = Path(tempfile.mkdtemp(prefix="nozama-bench-services-"))
        self.port = cl.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.n_instances = instances
        self.server: cl.Process | None = None
        self.agents: list[cl.Process] = []
        self.ecs = None

    def start(self) -> None:
        data_dir = self.workdir / "server"
        self.server = cl.Process("nozama server", [
            sys.executable, "-m", "nozama", "server", "--port", str(self.port),
            "--data-dir", str(data_dir), "--log-level", "warning"],
            self.workdir / "server.log")
        cl.wait_health(self.endpoint, self.server)
        key = cl.admin_key(data_dir)
        self.ecs = cl.client("ecs", self.endpoint, key, retries={"max_attempts": 1})
        self.ecs.create_cluster(clusterName=CLUSTER)
        credentials = cl.agent_credentials(cl.client("iam", self.endpoint, key),
                                           self.workdir / "agent-credentials")
        for n in range(self.n_instances):
            zone = f"{cl.REGION}{'abc'[n % 3]}"
            self.agents.append(cl.Process(f"agent {n}", [
                sys.executable, "-m", "nozama", "agent", "--endpoint", self.endpoint,
                "--region", cl.REGION, "--cluster", CLUSTER, "--availability-zone", zone,
                "--runtime", "simulated", "--data-dir", str(self.workdir / f"agent-{n}"),
                "--credentials-file", str(credentials),
                "--cleanup-wait", "1", "--log-level", "warning"],
                self.workdir / f"agent-{n}.log"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for agent in self.agents:
                agent.check()
            described = self._instances()
            if sum(i["status"] == "ACTIVE" and i["agentConnected"] for i in described) \
                    == self.n_instances:
                return
            time.sleep(0.3)
        raise RuntimeError("the agents did not all register")

    def _instances(self) -> list[dict]:
        arns = self.ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
        if not arns:
            return []
        return self.ecs.describe_container_instances(
            cluster=CLUSTER, containerInstances=arns)["containerInstances"]

    def register(self) -> str:
        # Small tasks, so that the instances' default 4 vCPU / 8 GiB hold them all.
        return self.ecs.register_task_definition(
            family="bench-steady", requiresCompatibilities=["EC2"],
            containerDefinitions=[{"name": "app", "image": "busybox", "cpu": 8, "memory": 16,
                                   "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]

    def round(self, name: str, definition: str, tasks: int) -> dict:
        started = time.monotonic()
        self.ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=definition,
                                desiredCount=tasks)
        all_running = None
        while True:
            service = self.ecs.describe_services(cluster=CLUSTER,
                                                 services=[name])["services"][0]
            now = time.monotonic() - started
            if all_running is None and service["runningCount"] == tasks:
                all_running = now
            steady = any(e["message"] == f"(service {name}) has reached a steady state."
                         for e in service["events"])
            if steady and service["runningCount"] == tasks:
                return {"steady": now, "running": all_running}
            if now > 120:
                raise RuntimeError(f"{name} not steady after 120 s: {service['events'][:3]}")
            time.sleep(POLL_SECONDS)

    def clean(self, name: str) -> None:
        self.ecs.delete_service(cluster=CLUSTER, service=name, force=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not self.ecs.list_tasks(cluster=CLUSTER)["taskArns"] and all(
                    i["runningTasksCount"] == 0 and i["pendingTasksCount"] == 0
                    for i in self._instances()):
                return
            time.sleep(0.3)
        raise RuntimeError(f"the tasks of {name} did not stop")

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        if self.server:
            self.server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def results_markdown(rounds: list[dict], args, started: str) -> str:
    steady = [r["steady"] for r in rounds]
    running = [r["running"] for r in rounds]
    median = statistics.median(steady)
    verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
    lines = [
        BEGIN_MARK,
        "## Services: a 1,000-task service reaching steady state (bench/services.py)",
        "",
        f"- Date: {started}",
        f"- Command: `{cl.command_line()}`",
        f"- Setup: one `nozama server` (SQLite) and {args.instances} simulated agents in three "
        f"zones, one process each; a service of {args.tasks} tasks with ECS's defaults.",
        f"- Machine: {cl.machine()['nproc']} CPUs ({cl.machine()['cpu']}), "
        f"{cl.machine()['ram']} RAM, {cl.machine()['os']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in cl.versions().items()
                                   if k != "Docker Engine"),
        "",
        "| round | all tasks RUNNING (s) | steady state (s) |",
        "|--:|--:|--:|",
    ]
    for n, r in enumerate(rounds, 1):
        lines.append(f"| {n} | {r['running']:.2f} | {r['steady']:.2f} |")
    lines += [
        "",
        f"{verdict}  median time to steady state {median:.2f} s, worst {max(steady):.2f} s "
        f"(target < {TARGET_SECONDS:g} s); all RUNNING after {statistics.median(running):.2f} s "
        "(median).",
        "",
        "The service has no deployment circuit breaker (ECS's default). With one, a deployment "
        "also waits until its tasks have been RUNNING for 3 seconds (the stability window of "
        "nozama/controllers/services.py) before it completes, so that a task that crashes at "
        "once can still fail it.",
        END_MARK,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=12)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true",
                        help="write the results into docs/benchmarks.md")
    args = parser.parse_args(argv)
    started = cl.date_u()
    bench = Bench(args.instances)
    rounds = []
    try:
        log(f"starting the server and {args.instances} simulated agents")
        bench.start()
        definition = bench.register()
        for n in range(args.rounds):
            cl.settle()
            result = bench.round(f"steady-{n}", definition, args.tasks)
            log(f"round {n + 1}: all RUNNING {result['running']:.2f} s, "
                f"steady {result['steady']:.2f} s")
            rounds.append(result)
            bench.clean(f"steady-{n}")
    finally:
        bench.close()
    section = results_markdown(rounds, args, started)
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if statistics.median(r["steady"] for r in rounds) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
