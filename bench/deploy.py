#!/usr/bin/env python3
"""Deployment benchmark: each strategy against a plain ROLLING update, in one run.

Issue 6's figures, for ROLLING, BLUE_GREEN, CANARY (10%) and LINEAR (20% steps):
  - the total time to promote a good revision (UpdateService to the deployment
    SUCCESSFUL), and its failed requests (there should be none);
  - for a bad revision (answering 500 to 30% of requests): the time from its
    first bad response to the rollback decision (detection) and to the last bad
    response (all traffic back), and the share of the attempt's requests that
    failed.

Setup: `nozama server`, `nozama lb` and three simulated agents (one per zone),
a service of 3 tasks behind a load balancer (health checks every 5 s, 2 to be
healthy, deregistration delay 2 s), an alarm on the load balancer's
HTTPCode_Target_5XX_Count with a 1-second period, and --clients threads sending
requests all along and recording the time and status of every response. A bad
revision is watched by that alarm (deploymentConfiguration.alarms with rollback);
canary and linear steps and the final bake time last 10 minutes when the revision
is bad (the alarm must catch it) and 0 when it is good.

  python3 bench/deploy.py                 # ~4 minutes
  python3 bench/deploy.py --write-docs    # also updates docs/benchmarks.md

Exit status: 0 when no good deployment failed a request and every bad one was
rolled back, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402

BEGIN_MARK = "<!-- bench/deploy.py results: begin -->"
END_MARK = "<!-- bench/deploy.py results: end -->"
PORT = 8080
STRATEGIES = {
    "ROLLING": lambda bake: {"strategy": "ROLLING"},
    "BLUE_GREEN": lambda bake: {"strategy": "BLUE_GREEN"},
    "CANARY": lambda bake: {"strategy": "CANARY", "canaryConfiguration": {
        "canaryPercent": 10.0, "canaryBakeTimeInMinutes": bake}},
    "LINEAR": lambda bake: {"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 20.0, "stepBakeTimeInMinutes": bake}},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Load:
    """Client threads that record (time, status) of every response."""

    def __init__(self, address: str, clients: int):
        self.address, self.stop = address, threading.Event()
        self.responses: list[tuple[float, object]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self.address, PORT, timeout=10)
        while not self.stop.is_set():
            try:
                connection.request("GET", "/")
                response = connection.getresponse()
                response.read()
                outcome = response.status
            except (OSError, http.client.HTTPException):
                outcome = "error"
                connection.close()
                connection = http.client.HTTPConnection(self.address, PORT, timeout=10)
            with self.lock:
                self.responses.append((time.monotonic(), outcome))

    def since(self, start: float) -> list[tuple[float, object]]:
        with self.lock:
            return [r for r in self.responses if r[0] >= start]

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


class Bench:
    def __init__(self, clients: int):
        self.work = Path(tempfile.mkdtemp(prefix="nozama-bench-deploy-"))
        self.port = cl.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.processes: list[cl.Process] = []
        self.clients = clients

    def spawn(self, name: str, *args: str) -> None:
        self.processes.append(cl.Process(name, [sys.executable, "-m", "nozama", *args,
                                                "--log-level", "warning"],
                                         self.work / f"{name}.log"))

    def start(self) -> None:
        data = ["--data-dir", str(self.work / "data")]
        self.spawn("server", "server", "--port", str(self.port), *data)
        cl.wait_health(self.endpoint, self.processes[0])
        key = cl.admin_key(self.work / "data")
        self.ecs, self.elb, self.cloudwatch, ec2, iam = (
            cl.client(name, self.endpoint, key, retries={"max_attempts": 1},
                      max_pool_connections=20)
            for name in ("ecs", "elbv2", "cloudwatch", "ec2", "iam"))
        self.vpc, self.subnets = cl.default_network(ec2)
        self.spawn("lb", "lb", *data)
        self.ecs.create_cluster(clusterName="default")
        credentials = cl.agent_credentials(iam, self.work / "agent-credentials")
        for n in range(3):
            self.spawn(f"agent-{n}", "agent", "--endpoint", self.endpoint, "--region",
                       cl.REGION, "--availability-zone", f"{cl.REGION}{'abc'[n]}",
                       "--runtime", "simulated", "--data-dir", str(self.work / f"agent-{n}"),
                       "--credentials-file", str(credentials), "--cleanup-wait", "1")
        self._until(lambda: len(self.ecs.list_container_instances(
            filter="agentConnected == true")["containerInstanceArns"]) == 3, 60, "agents")
        self.blue, self.green = (self._group(name) for name in ("blue", "green"))
        lb = self.elb.create_load_balancer(Name="bench", Subnets=self.subnets)[
            "LoadBalancers"][0]
        self.lb_arn = lb["LoadBalancerArn"]
        listener = self.elb.create_listener(
            LoadBalancerArn=self.lb_arn, Protocol="HTTP", Port=PORT,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.blue}])["Listeners"][0]
        self.rule = self.elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"][-1][
            "RuleArn"]
        self.address = self._until(lambda: _resolve(lb["DNSName"]), 30, "the DNS name")
        self.cloudwatch.put_metric_alarm(
            AlarmName="bench-5xx", Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=1,
            EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching", Dimensions=[
                {"Name": "LoadBalancer", "Value": self.lb_arn.split(":loadbalancer/")[1]}])

    def _group(self, name: str) -> str:
        arn = self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=self.vpc, TargetType="instance",
            HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
            UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
        self.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
        return arn

    def revision(self, error_rate: float = 0.0) -> str:
        labels = {"nozama.simulated.error-rate": str(error_rate)} if error_rate else {}
        return self.ecs.register_task_definition(family="web", containerDefinitions=[{
            "name": "app", "image": "busybox", "memory": 64, "dockerLabels": labels,
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}])["taskDefinition"][
            "taskDefinitionArn"]

    def service(self, name: str) -> None:
        """A service of its own per strategy (a load balancer entry with the shared
        groups; the previous one is deleted first, as a group serves one service)."""
        advanced = {"alternateTargetGroupArn": self.green, "productionListenerRule": self.rule}
        self.ecs.create_service(
            serviceName=name, taskDefinition=self.revision(), desiredCount=3,
            loadBalancers=[{"targetGroupArn": self.blue, "containerName": "app",
                            "containerPort": 80, "advancedConfiguration": advanced}],
            deploymentConfiguration={"strategy": "BLUE_GREEN"})
        self._steady(name)

    def delete(self, name: str) -> None:
        self.ecs.update_service(service=name, desiredCount=0)
        self.ecs.delete_service(service=name, force=True)
        self._until(lambda: not self.ecs.list_tasks()["taskArns"] and self.ecs.describe_services(
            services=[name])["services"][0]["status"] == "INACTIVE", 60, "the service to go")
        # The next service starts from blue, with blue serving all production traffic.
        self.elb.modify_rule(RuleArn=self.rule, Actions=[
            {"Type": "forward", "TargetGroupArn": self.blue}])

    def _steady(self, name: str) -> dict:
        def check():
            s = self.ecs.describe_services(services=[name])["services"][0]
            return (s["runningCount"] == s["desiredCount"] and len(s["deployments"]) == 1 and
                    s["deployments"][0]["rolloutState"] == "COMPLETED" and s)
        return self._until(check, 180, f"{name} to be steady")

    def _newest(self, name: str) -> str:
        return self.ecs.list_service_deployments(service=name)["serviceDeployments"][0][
            "serviceDeploymentArn"]

    def _status(self, name: str, arn: str | None = None) -> str:
        """The status of a deployment (by default the newest: a rolling rollback is a
        deployment of its own, newer than the one it rolls back)."""
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[
            arn or self._newest(name)])["serviceDeployments"][0]["status"]

    @staticmethod
    def _until(check, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    def promote(self, name: str, strategy: str, load: Load) -> dict:
        started = time.monotonic()
        self.ecs.update_service(service=name, taskDefinition=self.revision(),
                                deploymentConfiguration={**STRATEGIES[strategy](0),
                                                         "bakeTimeInMinutes": 0})
        self._until(lambda: self._status(name) == "SUCCESSFUL", 180, "the promotion")
        seconds = time.monotonic() - started
        self._steady(name)
        seen = load.since(started)
        return {"seconds": seconds, "failed": sum(s != 200 for _, s in seen),
                "requests": len(seen)}

    def attempt(self, name: str, strategy: str, load: Load) -> dict:
        # Steps and the final bake last long enough for the alarm to decide.
        configuration = {**STRATEGIES[strategy](10), "bakeTimeInMinutes": 10, "alarms": {
            "alarmNames": ["bench-5xx"], "enable": True, "rollback": True}}
        started = time.monotonic()
        self.ecs.update_service(service=name, taskDefinition=self.revision(error_rate=0.3),
                                deploymentConfiguration=configuration)
        arn = self._newest(name)
        self._until(lambda: self._status(name, arn).startswith("ROLLBACK"), 180,
                    "the rollback")
        decided = time.monotonic()
        self._until(lambda: self._status(name, arn) == "ROLLBACK_SUCCESSFUL", 180,
                    "the rollback to end")
        self._steady(name)
        time.sleep(1)
        seen = load.since(started)
        bad = [t for t, s in seen if s != 200]
        # The next deployment of this service must not be failed by this alarm.
        self._until(lambda: self.cloudwatch.describe_alarms(AlarmNames=["bench-5xx"])[
            "MetricAlarms"][0]["StateValue"] != "ALARM", 30, "the alarm to clear")
        return {"detect": decided - bad[0] if bad else None,
                "back": bad[-1] - bad[0] if bad else None,
                "failed_share": len(bad) / max(1, len(seen)), "requests": len(seen),
                "rolled_back": True}

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def _resolve(name: str) -> str | None:
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None


def results_markdown(rows: dict, args, started: str, passed: bool) -> str:
    info = cl.machine()
    lines = [BEGIN_MARK, "## Deployments: each strategy against a ROLLING update "
             "(bench/deploy.py)", "", f"Run: {started}.", "",
             f"`{cl.command_line()}` on {info['nproc']} cores ({info['cpu']}), "
             f"{info['ram']}. Simulated agents, the real data plane, {args.clients} client "
             "threads; a bad revision answers 500 to 30% of its requests and a 1-second "
             "alarm on the load balancer's 5XX count rolls it back.", "",
             "| strategy | promote a good revision | its failed requests | bad: first 500 "
             "to rollback decision | bad: first to last 500 | bad: failed share of the "
             "attempt |", "| --- | --: | --: | --: | --: | --: |"]
    for strategy, row in rows.items():
        good, bad = row["good"], row["bad"]
        lines.append(
            f"| {strategy} | {good['seconds']:.1f} s | {good['failed']} of "
            f"{good['requests']:,} | {_s(bad['detect'])} | {_s(bad['back'])} | "
            f"{100 * bad['failed_share']:.2f}% of {bad['requests']:,} |")
    lines += ["", ("PASS" if passed else "FAIL") + " good revisions promoted without a failed "
              "request; bad ones rolled back", "",
              "A rolling update exposes a bad revision on every task it replaces before the "
              "alarm can act, and rolls back by starting tasks again; the traffic-shifted "
              "strategies roll back by rewriting the listener rule, so the last bad answer "
              "comes within the alarm's decision, and a canary or linear step limits the "
              "failed share to its slice of the traffic.", "", END_MARK]
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    started = cl.date_u()
    bench = Bench(args.clients)
    rows: dict[str, dict] = {}
    try:
        bench.start()
        load = Load(bench.address, args.clients)
        try:
            for strategy in STRATEGIES:
                name = f"web-{strategy.lower().replace('_', '-')}"
                bench.service(name)
                good = bench.promote(name, strategy, load)
                log(f"{strategy:10} promoted in {good['seconds']:.1f} s, {good['failed']} "
                    f"failed of {good['requests']}")
                bad = bench.attempt(name, strategy, load)
                log(f"{strategy:10} bad: detected {_s(bad['detect'])} after the first 500, "
                    f"last 500 {_s(bad['back'])} after it, "
                    f"{100 * bad['failed_share']:.2f}% of {bad['requests']} failed")
                rows[strategy] = {"good": good, "bad": bad}
                bench.delete(name)
        finally:
            load.close()
    except BaseException:
        for process in bench.processes:
            log(f"--- {process.name}:\n{process.output()[-1500:]}")
        raise
    finally:
        bench.close()
    passed = all(r["good"]["failed"] == 0 and r["bad"]["rolled_back"] for r in rows.values())
    section = results_markdown(rows, args, started, passed)
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
