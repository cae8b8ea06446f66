"""`nozama functions`: traffic-shifted deployments of Lambda functions.

  nozama functions deploy --function-name F --alias-name A --new-version V \\
      --steps 10 --interval 120 --type linear
  nozama functions deploy ... --type canary --percent 10     # 10% for 5 minutes
  nozama functions deploy ... --deployment-config LambdaCanary10Percent5Minutes
  nozama functions deployment describe|follow|stop ID
  nozama functions deployment list [--function-name F]

Without --interval, a type bakes as CodeDeploy's default for it does (linear:
LambdaLinear10PercentEvery1Minute; canary: LambdaCanary10Percent5Minutes);
all-at-once needs --interval to watch, or --no-health-checks. The control plane
applies these rules (nozama/functions/deploy.py); this is one of its clients.

`deploy` starts the workflow in the control plane and follows it live (one line
per event) until it ends; Ctrl-C stops following, not the deployment, which
goes on in the control plane. Exit status: 0 when it succeeded, 1 when it was
rolled back or failed, 2 when the request was refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from nozama.cli import credentials, endpoints
from nozama.cli.help import command
from nozama.functions.deploy import CODEDEPLOY_CONFIGS, TYPES

POLL_SECONDS = 0.5
ACTIONS = {"describe": "print a deployment as JSON: its status, steps and events",
           "follow": "print a deployment's events as they happen, until it ends",
           "stop": "stop a deployment in progress: the alias goes back to the old version"}


def add_parsers(commands) -> None:
    functions = command(commands, "functions", "deploy Lambda functions safely", (
        "nozama functions deploy --function-name orders --alias-name live --new-version 2 "
        "--deployment-config LambdaCanary10Percent5Minutes",
        "nozama functions deployment list --function-name orders",
        "nozama functions deployment follow d-4K7Q2ZB9M"))
    verbs = functions.add_subparsers(dest="verb", required=True, metavar="VERB")
    deploy = command(verbs, "deploy", "shift an alias to a new version step by step", (
        "nozama functions deploy --function-name orders --alias-name live --new-version 2 "
        "--deployment-config LambdaLinear10PercentEvery1Minute",
        "nozama functions deploy --function-name orders --alias-name live --new-version 3 "
        "--type canary --percent 10 --interval 300 --alarm orders-errors",
        "nozama functions deploy --function-name orders --alias-name live --new-version 4 "
        "--no-follow"))
    _common(deploy)
    deploy.add_argument("--function-name", required=True,
                        help="the function's name or ARN")
    deploy.add_argument("--alias-name", required=True,
                        help="the alias whose traffic moves, e.g. live")
    deploy.add_argument("--new-version", required=True,
                        help="the published version the alias moves to")
    deploy.add_argument("--type", choices=TYPES, help="how the traffic moves")
    deploy.add_argument("--steps", type=int, help="linear: how many steps (default 10)")
    deploy.add_argument("--interval", type=float,
                        help="seconds each step bakes before its health check (default: "
                             "linear 60, canary 300, as CodeDeploy's defaults; all-at-once "
                             "has none); 0 only with --no-health-checks")
    deploy.add_argument("--percent", type=float,
                        help="canary: the first step's share of traffic, in percent "
                             "(default 10; 0.1 means 0.1%%, not 10%%)")
    deploy.add_argument("--deployment-config", choices=sorted(CODEDEPLOY_CONFIGS),
                        help="one of CodeDeploy's predefined Lambda configurations")
    deploy.add_argument("--alarm", action="append", default=[],
                        help="a CloudWatch alarm that fails the deployment (repeatable)")
    deploy.add_argument("--allow-no-invocations", action="store_true",
                        help="count a step in which the new version was not invoked as healthy")
    deploy.add_argument("--no-health-checks", action="store_true",
                        help="shift without judging any step (allows --interval 0); the "
                             "deployment's events say that no step was checked")
    deploy.add_argument("--pre-traffic-hook", help="a function to run before any shift")
    deploy.add_argument("--post-traffic-hook", help="a function to run after the last shift")
    deploy.add_argument("--no-follow", action="store_true", help="start it and return")

    deployment = command(verbs, "deployment", "look at or stop a deployment", (
        "nozama functions deployment list",
        "nozama functions deployment describe d-4K7Q2ZB9M",
        "nozama functions deployment stop d-4K7Q2ZB9M"))
    actions = deployment.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, what in ACTIONS.items():
        parser = command(actions, action, what, (
            f"nozama functions deployment {action} d-4K7Q2ZB9M",
            f"nozama functions deployment {action} d-4K7Q2ZB9M --region eu-west-1"))
        parser.add_argument("deployment_id", help="the id `deploy` printed (d-...)")
        _common(parser)
    listing = command(actions, "list", "list the deployments, newest first, one a line", (
        "nozama functions deployment list",
        "nozama functions deployment list --function-name orders"))
    listing.add_argument("--function-name", help="only this function's deployments")
    _common(listing)


def _common(parser: argparse.ArgumentParser) -> None:
    endpoints.add_argument(parser)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                        help="the function's region (env AWS_DEFAULT_REGION)")
    parser.add_argument("--log-level", default="warning",
                        help="debug, info, warning or error")


class Refused(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    try:
        if args.verb == "deploy":
            return _deploy(args)
        if args.action == "describe":
            print(json.dumps(_call(args, "GET", args.deployment_id), indent=2))
            return 0
        if args.action == "list":
            query = {"functionName": args.function_name} if args.function_name else {}
            for found in _call(args, "GET", "", query=query)["deployments"]:
                print(f"{found['deploymentId']}  {found['status']:<11} {found['functionName']}"
                      f":{found['aliasName']}  {found['fromVersion']} -> {found['toVersion']}")
            return 0
        if args.action == "stop":
            return _follow(args, _call(args, "POST", f"{args.deployment_id}/stop"))
        return _follow(args, _call(args, "GET", args.deployment_id))
    except Refused as error:
        print(f"nozama: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopped following; the deployment goes on in the control plane.",
              file=sys.stderr)
        return 130


def _deploy(args: argparse.Namespace) -> int:
    body = {"functionName": args.function_name, "aliasName": args.alias_name,
            "newVersion": args.new_version, "type": args.type, "steps": args.steps,
            "interval": args.interval, "percent": args.percent,
            "deploymentConfig": args.deployment_config, "alarms": args.alarm,
            "allowNoInvocations": args.allow_no_invocations,
            "healthChecks": False if args.no_health_checks else None,
            "preTrafficHook": args.pre_traffic_hook, "postTrafficHook": args.post_traffic_hook}
    found = _call(args, "POST", "", {k: v for k, v in body.items() if v not in (None, [])})
    # The plan as the control plane understood it, with its unit, before any traffic
    # moves far: "canary: 0.1% of traffic for 300 s, then 100%".
    print(f"Deployment {found['deploymentId']} started: {found.get('plan', '')}")
    if args.percent is not None and args.percent < 1:
        print(f"Note: --percent is a percentage: {args.percent:g} is {args.percent:g}% of "
              f"traffic (for {args.percent * 100:g}% give --percent {args.percent * 100:g}).")
    if args.no_follow:
        print(f"Follow it with: nozama functions deployment follow {found['deploymentId']}")
        return 0
    return _follow(args, found)


def _follow(args: argparse.Namespace, found: dict) -> int:
    shown = 0
    while True:
        for event in found["events"][shown:]:
            at = datetime.fromtimestamp(event["at"], timezone.utc).strftime("%H:%M:%S")
            print(f"{at}  {event['message']}", flush=True)
        shown = len(found["events"])
        if found["status"] != "InProgress":
            return 0 if found["status"] == "Succeeded" else 1
        time.sleep(POLL_SECONDS)
        found = _call(args, "GET", found["deploymentId"])


def _call(args: argparse.Namespace, method: str, path: str, body: dict | None = None,
          query: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)

    def request(endpoint: str) -> urllib.request.Request:
        url = f"{endpoint}/_nozama/v1/function-deployments"
        url += f"/{path}" if path else ""
        url += "?" + urllib.parse.urlencode({"region": args.region, **(query or {})})
        # Signed for Lambda with the command's key (cli/credentials.py); the client header
        # is what a server with auth off wants instead (api/guard.py).
        headers = credentials.signed_headers(method, url, data, {
            "content-type": "application/json", "x-nozama-client": "cli"}, args.region,
            "lambda")
        return urllib.request.Request(url, data=data, method=method, headers=headers)

    url = f"{args.endpoint}/_nozama/v1/function-deployments"
    try:
        with endpoints.urlopen(args.rotation, request) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())
            raise Refused(f"{detail.get('__type')}: {detail.get('message')}") from None
        except ValueError:
            raise Refused(f"HTTP {error.code} from {url}") from None
    except urllib.error.URLError as error:
        raise Refused(f"cannot reach Nozama at {', '.join(args.endpoints)}: "
                      f"{error.reason}") from None
    except OSError as error:
        raise Refused(f"cannot reach Nozama at {', '.join(args.endpoints)}: {error}") from None
