"""`nozama deploy` and `nozama watch`: a service deployment as a person follows it.

`deploy` is UpdateService with the strategy's settings spelled as options;
`watch` polls the deployment and draws, until it ends, its lifecycle stage, the
production traffic split, each revision's running and healthy tasks, and the
error rate the load balancer sees for each target group. It exits 0 when the
deployment succeeded and 1 when it was rolled back or stopped. Both only call
the public APIs (ECS, ELBv2, CloudWatch), as any client could.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta

from nozama.kernel.clock import Clock
from nozama.lb.meters import dimension

FINISHED = {"SUCCESSFUL": 0, "STOPPED": 1, "ROLLBACK_SUCCESSFUL": 1, "ROLLBACK_FAILED": 1}
POLL_SECONDS = 0.5
ERROR_WINDOW = 10


def add_parsers(commands) -> None:
    deploy = commands.add_parser("deploy", help="deploy a new revision of a service")
    _common(deploy)
    deploy.add_argument("--task-definition", required=True)
    deploy.add_argument("--strategy", choices=("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"))
    deploy.add_argument("--canary-percent", type=float)
    deploy.add_argument("--canary-bake-minutes", type=int)
    deploy.add_argument("--step-percent", type=float)
    deploy.add_argument("--step-bake-minutes", type=int)
    deploy.add_argument("--bake-minutes", type=int)
    deploy.add_argument("--alarm", action="append", default=[],
                        help="an alarm that rolls the deployment back (repeatable)")
    deploy.add_argument("--no-watch", action="store_true", help="start it and return")
    watch = commands.add_parser("watch", help="follow a service's deployment until it ends")
    _common(watch)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service")
    parser.add_argument("--cluster", default="default")
    parser.add_argument("--endpoint", default=os.environ.get(
        "AWS_ENDPOINT_URL", os.environ.get("NOZAMA_ENDPOINT", "http://127.0.0.1:4566")))
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--log-level", default="warning")


class Clients:
    def __init__(self, args: argparse.Namespace):
        import boto3
        session = boto3.session.Session(
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "nozama"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "nozama"),
            region_name=args.region)
        self.ecs, self.elb, self.cloudwatch = (
            session.client(name, endpoint_url=args.endpoint)
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
    """Draw the newest deployment of `service` until it ends; its exit status."""
    last = None
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
        text = render(view)
        if text != last:
            # On a terminal the view is redrawn in place; piped, each change is appended.
            print(("\033[H\033[J" if sys.stdout.isatty() else "") + text, flush=True)
            last = text
        if view["status"] in FINISHED:
            return FINISHED[view["status"]]
        time.sleep(POLL_SECONDS)


def snapshot(clients: Clients, cluster: str, service_name: str) -> dict | None:
    ecs = clients.ecs
    found = ecs.describe_services(cluster=cluster, services=[service_name])["services"]
    if not found:
        return None
    service = found[0]
    listed = ecs.list_service_deployments(cluster=cluster, service=service_name)[
        "serviceDeployments"]
    deployment = ecs.describe_service_deployments(serviceDeploymentArns=[
        listed[0]["serviceDeploymentArn"]])["serviceDeployments"][0] if listed else {}
    view = {"service": service_name, "status": deployment.get("status", "UNKNOWN"),
            "stage": deployment.get("lifecycleStage"),
            "reason": deployment.get("statusReason", ""),
            "revisions": [(d["taskDefinition"].rsplit("/", 1)[-1], d["status"],
                           d.get("runningCount", 0), d.get("desiredCount", 0),
                           d.get("rolloutState", "")) for d in service["deployments"]],
            "groups": []}
    for entry in service.get("loadBalancers", []):
        advanced = entry.get("advancedConfiguration") or {}
        groups = [entry["targetGroupArn"]] + ([advanced["alternateTargetGroupArn"]]
                                              if advanced.get("alternateTargetGroupArn") else [])
        weights = _weights(clients, advanced.get("productionListenerRule"))
        for group in groups:
            view["groups"].append(_group_view(clients, group, weights))
    return view


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


def render(view: dict) -> str:
    lines = [f"service {view['service']}: deployment {view['status']}"
             + (f", stage {view['stage']}" if view["stage"] else "")]
    for revision, status, running, desired, rollout in view["revisions"]:
        lines.append(f"  {status:8} {revision:32} {running}/{desired} running  {rollout}")
    for group in view["groups"]:
        share = f"{group['share']:5.1f}%" if group["share"] is not None else "   -  "
        rate = 100 * group["errors"] / group["requests"] if group["requests"] else 0.0
        lines.append(f"  {group['name']:32} traffic {share}  healthy "
                     f"{group['healthy']}/{group['targets']}  errors {rate:4.1f}% "
                     f"(last {ERROR_WINDOW} s)")
    return "\n".join(lines)
