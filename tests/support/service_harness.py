"""An in-process control plane for unit tests of the service controller's state
machines: the AWS operation handlers called directly on a real SQLite store, a
FakeClock, and a few lines standing in for the agents (tasks run, or fail to start,
as soon as they are asked to) and for the load balancer's data plane (targets pass
their health checks at once, drained targets go). Every tick runs one pass of the
service controller and moves the clock by one second.
"""

from __future__ import annotations

import json
from collections import defaultdict

from nozama.aws import registry
from nozama.controllers import agents
from nozama.controllers.services import reconcile_all
from nozama.kernel.clock import FakeClock
from nozama.kernel.context import RequestContext
from nozama.lb import meters
from nozama.metrics import per_second
from nozama.model.statistics import Aggregate
from nozama.store import Store, sql
from nozama.store import container_instances as instance_store
from nozama.store import load_balancers as lb_store
from nozama.store import target_groups as tg_store
from nozama.store.db import sqlite_url

from .networks import default_subnets, default_vpc

REGION, ACCOUNT = "us-east-1", "000000000000"
ZONES = tuple(f"{REGION}{z}" for z in "abc")


class Cloud:
    """A control plane in-process, with stand-ins for agents and the data plane."""

    def __init__(self, path, url: str | None = None):
        """A store in the directory `path`, or at the database `url`."""
        self.clock = FakeClock()
        self.url = url or sqlite_url(path)
        self.open()
        self.failing: set[str] = set()  # task definitions whose tasks fail to start
        self.dying: set[str] = set()    # tasks whose essential container exits (kill)
        self.port = 32768

    def open(self) -> None:
        """(Re)open the store: a restarted control plane knows only what is stored."""
        self.store = Store.open(self.url)
        self.ctx = RequestContext(REGION, ACCOUNT, "test", self.store, self.clock)
        self.handlers = registry()

    def call(self, aws_service: str, operation: str, /, **params) -> dict:
        return self.handlers[aws_service].operations[operation](self.ctx, params)

    def ecs(self, operation: str, /, **params) -> dict:
        return self.call("ecs", operation, **params)

    def elb(self, operation: str, /, **params) -> dict:
        return self.call("elbv2", operation, **params)

    # ------------------------------------------------------------ the world

    def instances(self, per_zone: int = 1) -> None:
        for zone in ZONES:
            for n in range(per_zone):
                arn = self.ecs("RegisterContainerInstance", instanceIdentityDocument=json.dumps(
                    {"instanceId": f"i-{zone}-{n}", "availabilityZone": zone}),
                    totalResources=[
                        {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192}])[
                    "containerInstance"]["containerInstanceArn"]
                with self.store.write() as conn:
                    instance_store.save(conn, arn, agent_connected=True)

    def revision(self) -> str:
        return self.ecs("RegisterTaskDefinition", family="web", containerDefinitions=[{
            "name": "app", "image": "busybox", "memory": 64,
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}])["taskDefinition"][
            "taskDefinitionArn"]

    def agents(self) -> None:
        """Each agent does at once what its tasks' desired status says."""
        now = self.clock.now().timestamp()
        with self.store.read() as conn:
            tasks = sql.all_rows(conn, "SELECT * FROM tasks WHERE last_status != 'STOPPED'")
        reports = defaultdict(list)
        for task in tasks:
            if task.arn in self.dying:
                report = {"lastStatus": "STOPPED", "stoppedAt": now,
                          "stopCode": "EssentialContainerExited",
                          "stoppedReason": "Essential container in task exited",
                          "containers": [{"name": "app", "lastStatus": "STOPPED",
                                          "exitCode": 137}]}
            elif task.desired_status == "STOPPED" or task.task_definition_arn in self.failing:
                report = {"lastStatus": "STOPPED", "stoppedAt": now,
                          "containers": [{"name": "app", "lastStatus": "STOPPED"}]}
                if task.desired_status != "STOPPED":
                    report.update(stopCode="TaskFailedToStart",
                                  stoppedReason="CannotPullContainerError")
            elif task.last_status != "RUNNING":
                self.port += 1
                report = {"lastStatus": "RUNNING", "startedAt": now, "containers": [{
                    "name": "app", "lastStatus": "RUNNING", "networkBindings": [{
                        "containerPort": 80, "hostPort": self.port, "protocol": "tcp"}]}]}
            else:
                continue
            reports[task.container_instance_arn].append({"taskArn": task.arn, **report})
        for instance, items in reports.items():
            agents.report(self.ctx, instance, items)

    def kill(self, task_arn: str) -> None:
        """The task's essential container exits: its agent reports it STOPPED at the next
        tick (the service did not ask for it)."""
        self.dying.add(task_arn)

    def data_plane(self) -> None:
        """Registered targets pass their health checks; drained ones go."""
        now = self.clock.now()
        with self.store.write() as conn:
            rows = sql.all_rows(conn, "SELECT * FROM targets")
            tg_store.record_health(conn, [(r.id, "healthy", None, None) for r in rows
                                          if r.state == "registered"
                                          and r.health_state != "healthy"])
            drained = [r.id for r in rows if r.state == "draining" and r.drain_ends_at <= now]
            if drained:
                tg_store.remove_drained(conn, drained)

    def traffic(self, balancer: str, group: str, requests: int,
                statuses: dict[int, int] | None = None, seconds: float = 0.01) -> None:
        """The data plane's metrics of one second (the fake clock's) of a target group
        behind a load balancer: `requests` answered, by status class per `statuses`
        ({4: 10} is ten 4XX; the rest are 2XX), each in `seconds`."""
        codes = [0] * 6
        for klass, count in (statuses or {}).items():
            codes[klass] += count
        codes[2] += requests - sum(codes)
        points = per_second.DataPoints(meters.NAMESPACE, int(self.clock.time()))

        def point(lb_arn, name, dims, agg, unit="Count"):
            points.add(REGION, ACCOUNT, name, dims, agg, unit)
        meters.Requests(requests, codes, Aggregate.of_values([seconds], [requests])).publish(
            point, balancer, [{"Name": "LoadBalancer", "Value": meters.dimension(balancer)},
                              {"Name": "TargetGroup", "Value": meters.dimension(group)}])
        per_second.write(self.store, points)

    def tick(self, seconds: float = 1.0) -> None:
        reconcile_all(lambda region: self.ctx)
        self.agents()
        self.data_plane()
        self.clock.advance(seconds)

    def until(self, condition, ticks: int = 120):
        for _ in range(ticks):
            found = condition()
            if found:
                return found
            self.tick()
        raise AssertionError(f"not reached in {ticks} ticks")

    # ------------------------------------------------------------ what the API shows

    def service(self) -> dict:
        return self.ecs("DescribeServices", services=["web"])["services"][0]

    def steady(self, ticks: int = 120) -> dict:
        def check():
            s = self.service()
            return (s["runningCount"] == s["desiredCount"] and len(s["deployments"]) == 1 and
                    s["deployments"][0]["rolloutState"] == "COMPLETED" and s)
        return self.until(check, ticks)

    def deployment(self) -> dict:
        """The newest service deployment, as DescribeServiceDeployments shows it."""
        arn = self.ecs("ListServiceDeployments", service="web")["serviceDeployments"][0][
            "serviceDeploymentArn"]
        return self.ecs("DescribeServiceDeployments", serviceDeploymentArns=[arn])[
            "serviceDeployments"][0]

    def events(self) -> list[str]:
        """The service's events, oldest first."""
        return [e["message"] for e in reversed(self.service()["events"])]

    def running(self, definition: str | None = None) -> list[dict]:
        arns = self.ecs("ListTasks", serviceName="web")["taskArns"]
        tasks = self.ecs("DescribeTasks", tasks=arns)["tasks"] if arns else []
        return [t for t in tasks if t["lastStatus"] == "RUNNING"
                and definition in (None, t["taskDefinitionArn"])]

    def alarm(self, name: str = "web-errors") -> None:
        self.call("cloudwatch", "PutMetricAlarm", AlarmName=name, Namespace="Web",
                  MetricName="Errors", Statistic="Sum", Period=60, EvaluationPeriods=1,
                  Threshold=0, ComparisonOperator="GreaterThanThreshold")

    def fire(self, name: str = "web-errors") -> None:
        self.call("cloudwatch", "SetAlarmState", AlarmName=name, StateValue="ALARM",
                  StateReason="test")


class Balanced:
    """A load balancer with a production and a test listener, a blue and a green group."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.blue, self.green = (self._group(name) for name in ("blue", "green"))
        lb = cloud.elb("CreateLoadBalancer", Name="web", Subnets=default_subnets(REGION))
        self.lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        self.production_rule = self._default_rule(self._listener(8080))
        self.test_rule = self._default_rule(self._listener(8081))

    def _group(self, name: str) -> str:
        arn = self.cloud.elb("CreateTargetGroup", Name=name, Protocol="HTTP", Port=80,
                             VpcId=default_vpc(REGION), TargetType="instance")[
            "TargetGroups"][0]["TargetGroupArn"]
        self.cloud.elb("ModifyTargetGroupAttributes", TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
        return arn

    def _listener(self, port: int) -> str:
        return self.cloud.elb("CreateListener", LoadBalancerArn=self.lb_arn, Protocol="HTTP",
                              Port=port, DefaultActions=[
                                  {"Type": "forward", "TargetGroupArn": self.blue}])[
            "Listeners"][0]["ListenerArn"]

    def _default_rule(self, listener: str) -> str:
        return self.cloud.elb("DescribeRules", ListenerArn=listener)["Rules"][-1]["RuleArn"]

    def load_balancers(self) -> list[dict]:
        return [{"targetGroupArn": self.blue, "containerName": "app", "containerPort": 80,
                 "advancedConfiguration": {
                     "alternateTargetGroupArn": self.green,
                     "productionListenerRule": self.production_rule,
                     "testListenerRule": self.test_rule,
                     "roleArn": "arn:aws:iam::000000000000:role/ecsInfrastructure"}}]

    def weights(self, rule: str | None = None) -> dict[str, int]:
        with self.cloud.store.read() as conn:
            action = lb_store.rule(conn, rule or self.production_rule).doc["Actions"][0]
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        return {g["TargetGroupArn"]: g["Weight"] for g in groups}

    def split(self) -> tuple[int, int]:
        weights = self.weights()
        return weights.get(self.blue, 0), weights.get(self.green, 0)

    def create(self, configuration: dict, count: int = 2) -> str:
        definition = self.cloud.revision()
        # Without Availability Zone rebalancing: the stages count the tasks each step
        # leaves, and a move after a rollback would add one.
        self.cloud.ecs("CreateService", serviceName="web", taskDefinition=definition,
                       desiredCount=count, loadBalancers=self.load_balancers(),
                       deploymentConfiguration=configuration,
                       availabilityZoneRebalancing="DISABLED")
        self.cloud.steady()
        return definition
