"""`nozama deploy` and `nozama watch`: a service deployment as a person follows it.

`deploy` is UpdateService with the strategy's settings spelled as options;
`watch` polls the deployment and draws, until it ends, its lifecycle stage and the
time left in its bake, the production traffic split, each revision's running and
healthy tasks, the hooks it waits for, its alarms' and the canary analysis's
verdicts, its newest events, and the error rate the load balancer sees for each
target group: a live panel on a terminal, plain lines otherwise
(deployment_view.py draws both from a snapshot). It exits 0 when the
deployment succeeded and 1 when it was rolled back or stopped. Both only call
the public APIs (ECS, ELBv2, CloudWatch), as any client could.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime, timedelta

from nozama.cli import deployment_view, endpoints
from nozama.cli.deployment_view import ERROR_WINDOW
from nozama.cli.help import command
from nozama.controllers.traffic_shift import production_steps, uses_traffic_shift
from nozama.kernel.clock import Clock
from nozama.lb.meters import dimension

FINISHED = {"SUCCESSFUL": 0, "STOPPED": 1, "ROLLBACK_SUCCESSFUL": 1, "ROLLBACK_FAILED": 1}
POLL_SECONDS = 0.5
EVENTS = 5  # the newest service events shown
# What the control plane says of a traffic shift (controllers/traffic_shift.py).
SPLIT = re.compile(r"([\d.]+)% of production traffic on the new revision")
SHIFTED = re.compile(r"shifted ([\d.]+)% of production traffic")


def add_parsers(commands) -> None:
    deploy = command(commands, "deploy", "deploy a new revision of a service and follow it", (
        "nozama deploy web --task-definition web:2",
        "nozama deploy web --task-definition web:2 --strategy CANARY --canary-percent 10 "
        "--canary-bake-minutes 5 --alarm web-5xx",
        "nozama deploy web --task-definition web:3 --strategy LINEAR --step-percent 25 "
        "--step-bake-minutes 2 --bake-minutes 10 --no-watch"))
    _common(deploy)
    deploy.add_argument("--task-definition", required=True,
                        help="family:revision or ARN of the revision to deploy")
    deploy.add_argument("--strategy", choices=("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"),
                        help="deploymentConfiguration.strategy (default: the service's own)")
    deploy.add_argument("--canary-percent", metavar="PERCENT", type=float,
                        help="CANARY: percent of production traffic the canary step takes "
                        "(default: 10, percent)")
    deploy.add_argument("--canary-bake-minutes", metavar="MINUTES", type=int,
                        help="CANARY: minutes the canary step bakes before the rest of the "
                        "traffic moves (default: 10, minutes)")
    deploy.add_argument("--step-percent", metavar="PERCENT", type=float,
                        help="LINEAR: percent of production traffic each step adds "
                        "(default: 10, percent)")
    deploy.add_argument("--step-bake-minutes", metavar="MINUTES", type=int,
                        help="LINEAR: minutes each step bakes (default: 6, minutes)")
    deploy.add_argument("--bake-minutes", metavar="MINUTES", type=int,
                        help="minutes the old revision keeps running after all traffic moved, "
                        "for a quick rollback (default: the service's own, minutes)")
    deploy.add_argument("--alarm", action="append", default=[],
                        help="a CloudWatch alarm that rolls the deployment back (repeatable)")
    deploy.add_argument("--no-watch", action="store_true", help="start it and return")
    watch = command(commands, "watch", "follow a service's newest deployment until it ends", (
        "nozama watch web",
        "nozama watch web --cluster production --region eu-west-1",
        "nozama watch web | tee deploy.log            # plain lines when not a terminal"))
    _common(watch)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", help="the service's name or ARN")
    parser.add_argument("--cluster", default="default", help="the service's cluster")
    endpoints.add_argument(parser)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                        help="the service's region (env AWS_DEFAULT_REGION)")
    parser.add_argument("--log-level", default="warning", help="debug, info, warning or error")


class Clients:
    def __init__(self, args: argparse.Namespace):
        from nozama.cli import credentials
        session = credentials.session(args.region)
        # One set of endpoints: the three move on together when a server goes.
        self.ecs, self.elb, self.cloudwatch = (
            endpoints.Client(session, name, args.rotation)
            for name in ("ecs", "elbv2", "cloudwatch"))


def deploy(args: argparse.Namespace) -> int:
    clients = Clients(args)
    configuration: dict = {}
    if args.strategy:
        configuration["strategy"] = args.strategy
    if args.canary_percent is not None or args.canary_bake_minutes is not None:
        configuration["canaryConfiguration"] = _present(
            canaryPercent=args.canary_percent, canaryBakeTimeInMinutes=args.canary_bake_minutes)
    if args.step_percent is not None or args.step_bake_minutes is not None:
        configuration["linearConfiguration"] = _present(
            stepPercent=args.step_percent, stepBakeTimeInMinutes=args.step_bake_minutes)
    if args.bake_minutes is not None:
        configuration["bakeTimeInMinutes"] = args.bake_minutes
    if args.alarm:
        configuration["alarms"] = {"alarmNames": args.alarm, "enable": True, "rollback": True}
    request = {"cluster": args.cluster, "service": args.service,
               "taskDefinition": args.task_definition}
    if configuration:
        request["deploymentConfiguration"] = configuration
    try:
        clients.ecs.update_service(**request)
    except clients.ecs.exceptions.ClientError as error:
        print(f"nozama deploy: {error.response['Error']['Message']}", file=sys.stderr)
        return 2
    if args.no_watch:
        return 0
    return follow(clients, args.cluster, args.service)


def _present(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def watch(args: argparse.Namespace) -> int:
    return follow(Clients(args), args.cluster, args.service)


def follow(clients: Clients, cluster: str, service: str) -> int:
    """Draw the newest deployment of `service` until it ends; its exit status.

    On a terminal the view is a live panel redrawn in place (deployment_view.live);
    otherwise each change of the plain lines is appended, for logs and scripts."""
    if not sys.stdout.isatty():
        return _follow(clients, cluster, service, _Lines())
    from rich.live import Live
    with Live(auto_refresh=False, redirect_stderr=False) as screen:
        try:
            return _follow(clients, cluster, service, _Panel(screen))
        except KeyboardInterrupt:
            screen.stop()
            print("Stopped watching; the deployment goes on in the control plane.",
                  file=sys.stderr)
            return 130


class _Lines:
    def __init__(self):
        self.last = None

    def draw(self, view: dict) -> None:
        text = deployment_view.plain(view)
        if text != self.last:
            print(text, flush=True)
            self.last = text


class _Panel:
    def __init__(self, screen):
        self.screen = screen

    def draw(self, view: dict) -> None:
        self.screen.update(deployment_view.live(view), refresh=True)


def _follow(clients: Clients, cluster: str, service: str, out) -> int:
    while True:
        try:
            view = snapshot(clients, cluster, service)
        except clients.ecs.exceptions.ClientError as error:
            print(f"nozama watch: {error.response['Error']['Message']}", file=sys.stderr)
            return 2
        if view is None:
            print(f"nozama watch: the service {service} does not exist in the cluster "
                  f"{cluster}.", file=sys.stderr)
            return 2
        out.draw(view)
        if view["status"] in FINISHED:
            return FINISHED[view["status"]]
        time.sleep(POLL_SECONDS)


def snapshot(clients: Clients, cluster: str, service_name: str) -> dict | None:
    """The newest deployment of a service as deployment_view draws it, from the APIs."""
    ecs = clients.ecs
    found = ecs.describe_services(cluster=cluster, services=[service_name])["services"]
    if not found:
        return None
    service = found[0]
    listed = ecs.list_service_deployments(cluster=cluster, service=service_name)[
        "serviceDeployments"]
    deployment = ecs.describe_service_deployments(serviceDeploymentArns=[
        listed[0]["serviceDeploymentArn"]])["serviceDeployments"][0] if listed else {}
    now = Clock().now()
    revisions = [(d["taskDefinition"].rsplit("/", 1)[-1], d["status"],
                  d.get("runningCount", 0), d.get("desiredCount", 0),
                  d.get("rolloutState", "")) for d in service["deployments"]]
    primary = next((d for d in service["deployments"] if d["status"] == "PRIMARY"), None)
    events = _events_of(service, primary)
    view = {"service": service_name, "status": deployment.get("status", "UNKNOWN"),
            "stage": deployment.get("lifecycleStage"),
            "reason": deployment.get("statusReason", ""),
            "revisions": revisions, "groups": [],
            "old": next((r[0] for r in revisions if r[1] != "PRIMARY"), None),
            "new": next((r[0] for r in revisions if r[1] == "PRIMARY"), None),
            "split": _split(deployment),
            "bake": _bake(deployment, events, now.timestamp()),
            "hooks": [{"hookId": h["hookId"], "targetType": h.get("targetType", ""),
                       "status": h["status"],
                       "expiresIn": (h["expiresAt"] - now).total_seconds()
                       if h.get("expiresAt") else 0.0}
                      for h in deployment.get("lifecycleHookDetails") or []
                      if h.get("status") in ("IN_PROGRESS", "AWAITING_ACTION", "PENDING")],
            "alarms": _alarms(clients, deployment),
            "verdicts": [m for _, m in events if "analysis" in m or "alarm" in m.lower()][-3:],
            "events": [(datetime.fromtimestamp(at).strftime("%H:%M:%S"), message)
                       for at, message in (events or _events_of(service, None))[-EVENTS:]]}
    for entry in service.get("loadBalancers", []):
        advanced = entry.get("advancedConfiguration") or {}
        groups = [entry["targetGroupArn"]] + ([advanced["alternateTargetGroupArn"]]
                                              if advanced.get("alternateTargetGroupArn") else [])
        weights = _weights(clients, advanced.get("productionListenerRule"))
        for group in groups:
            view["groups"].append(_group_view(clients, group, weights))
    return view


def _events_of(service: dict, deployment: dict | None) -> list[tuple[float, str]]:
    """The service's events, oldest first, as (epoch seconds, message without the
    service's name); only those of `deployment` when one is given."""
    found = []
    for event in service.get("events", []):
        message = event["message"].removeprefix(f"(service {service['serviceName']}) ")
        if deployment is not None:
            mark = f"(deployment {deployment['id']}) "
            if not message.startswith(mark):
                continue
            message = message[len(mark):]
        found.append((event["createdAt"].timestamp(), message))
    return sorted(found, key=lambda item: item[0])


def _split(deployment: dict) -> float | None:
    """Percent of production traffic on the new revision, for a traffic-shifting
    deployment (its statusReason says the split while it is in progress)."""
    configuration = deployment.get("deploymentConfiguration") or {}
    if not deployment or not uses_traffic_shift(configuration):
        return None
    status = deployment["status"]
    if status == "SUCCESSFUL":
        return 100.0
    if status != "IN_PROGRESS":
        return 0.0 if status.startswith("ROLLBACK") or status == "STOPPED" else None
    said = SPLIT.search(deployment.get("statusReason", ""))
    return float(said.group(1)) if said else 0.0


def _bake(deployment: dict, events: list[tuple[float, str]], now: float) -> dict | None:
    """The bake under way: the step's (or BAKE_TIME's) length and the time left, from the
    deployment's configuration and the event that started it."""
    configuration = deployment.get("deploymentConfiguration") or {}
    stage = deployment.get("lifecycleStage")
    if deployment.get("status") != "IN_PROGRESS" or not uses_traffic_shift(configuration):
        return None
    if stage == "PRODUCTION_TRAFFIC_SHIFT":
        for at, message in reversed(events):
            shifted = SHIFTED.match(message)
            if shifted:
                percent = float(shifted.group(1))
                total = next((bake for share, bake in production_steps(configuration)
                              if abs(share - percent) < 1e-6), 0.0)
                if not total:
                    return None
                return {"what": f"{percent:g}% step", "total": total,
                        "left": max(0.0, total - (now - at))}
        return None
    if stage == "BAKE_TIME":
        total = 60.0 * (configuration.get("bakeTimeInMinutes") or 0)
        started = next((at for at, message in reversed(events) if message == "bake time."),
                       None)
        if total and started is not None:
            return {"what": "bake time, old revision kept", "total": total,
                    "left": max(0.0, total - (now - started))}
    return None


def _alarms(clients: Clients, deployment: dict) -> list[dict]:
    """Each deployment alarm's state: ALARM rolls the deployment back."""
    alarms = (deployment.get("deploymentConfiguration") or {}).get("alarms") or {}
    names = alarms.get("alarmNames") or []
    if not alarms.get("enable") or not names:
        return []
    found = {a["AlarmName"]: a["StateValue"] for a in clients.cloudwatch.describe_alarms(
        AlarmNames=names)["MetricAlarms"]}
    return [{"name": name, "state": found.get(name, "MISSING")} for name in names]


def _weights(clients: Clients, rule_arn: str | None) -> dict[str, int]:
    if not rule_arn:
        return {}
    action = clients.elb.describe_rules(RuleArns=[rule_arn])["Rules"][0]["Actions"][0]
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    return {g["TargetGroupArn"]: g.get("Weight", 1) for g in groups}


def _group_view(clients: Clients, arn: str, weights: dict[str, int]) -> dict:
    group = clients.elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    health = clients.elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    total_weight = sum(weights.values())
    share = 100 * weights.get(arn, 0) / total_weight if total_weight else None
    view = {"name": group["TargetGroupName"], "share": share, "targets": len(health),
            "healthy": sum(h["TargetHealth"]["State"] == "healthy" for h in health),
            "requests": 0.0, "errors": 0.0}
    if group.get("LoadBalancerArns"):
        dims = [{"Name": "LoadBalancer", "Value": dimension(group["LoadBalancerArns"][0])},
                {"Name": "TargetGroup", "Value": dimension(arn)}]
        now = Clock().now()
        queries = [{"Id": key, "MetricStat": {"Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": dims},
            "Period": ERROR_WINDOW, "Stat": "Sum"}} for key, name in (
            ("requests", "RequestCount"), ("errors", "HTTPCode_Target_5XX_Count"))]
        results = clients.cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=now - timedelta(seconds=2 * ERROR_WINDOW),
            EndTime=now)["MetricDataResults"]
        for result in results:
            view[result["Id"]] = sum(result["Values"][:1])
    return view


render = deployment_view.plain  # the plain lines, as earlier callers knew them
