"""ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment: the history of a service's deployments."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.controllers import traffic_shift
from nozama.controllers.rolling import circuit_breaker_threshold
from nozama.controllers.services import Pass, wake_controller
from nozama.model import arns
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import find_cluster, page_size
from nozama.aws.ecs.services import find_service
from nozama.store import clusters as cluster_store
from nozama.store import services as store
from nozama.store.pagination import decode_token, page

FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def _revision_summary(record: dict, arn: str, requested: int) -> dict:
    return {"arn": arn, "requestedTaskCount": requested,
            "runningTaskCount": record.get("runningCount", 0),
            "pendingTaskCount": record.get("pendingCount", 0)}


def _deployment(service: dict, record: dict) -> dict:
    breaker = record["_configuration"].get("deploymentCircuitBreaker", {})
    history = service.get("_history", {})
    sources = [h for h in history.values() if h["_revisionArn"] in record["_sources"]]
    view = {
        "serviceDeploymentArn": record["_arn"], "serviceArn": service["serviceArn"],
        "clusterArn": service["clusterArn"], "createdAt": record["createdAt"],
        "startedAt": record["createdAt"], "updatedAt": record["updatedAt"],
        "sourceServiceRevisions": [_revision_summary(h, h["_revisionArn"], 0) for h in sources],
        "targetServiceRevision": _revision_summary(record, record["_revisionArn"],
                                                   record["desiredCount"]),
        "status": record["_status"], "deploymentConfiguration": record["_configuration"],
        "deploymentCircuitBreaker": {
            "status": "DISABLED" if not breaker.get("enable") else
            "TRIGGERED" if record.get("rolloutState") == "FAILED" else
            "MONITORING_COMPLETE" if record["_status"] in FINISHED else "MONITORING",
            "failureCount": record.get("failedTasks", 0),
            "threshold": circuit_breaker_threshold(record["desiredCount"])},
    }
    for member, key in (("finishedAt", "_finishedAt"), ("stoppedAt", "_stoppedAt"),
                        ("statusReason", "_reason"), ("rollback", "_rollback")):
        if record.get(key) is not None:
            view[member] = record[key]
    if record.get("_stage") is not None and "_blue" in record:
        view["lifecycleStage"] = traffic_shift.SHOWN_AS.get(record["_stage"], record["_stage"])
        view["lifecycleHookDetails"] = [
            {k: v for k, v in hook.items() if not k.startswith("_")}
            for hook in (record.get("_hooks") or {}).values()
            if hook["_stage"] == record["_stage"]]
        if record["_status"] == "IN_PROGRESS":
            # The traffic split, in the only free-text member the shape has.
            view["statusReason"] = traffic_shift.describe_split(record)
    return view


def _brief(service: dict, record: dict) -> dict:
    full = _deployment(service, record)
    brief = {k: full[k] for k in ("serviceDeploymentArn", "serviceArn", "clusterArn",
                                  "startedAt", "createdAt", "status") if k in full}
    brief["targetServiceRevisionArn"] = record["_revisionArn"]
    for member in ("finishedAt", "statusReason"):
        if member in full:
            brief[member] = full[member]
    return brief


def _service_of(ctx: RequestContext, conn: Connection, arn: str, kind: str):
    """The service row an ECS service-deployment/service-revision ARN belongs to."""
    parsed = arns.parse(arn)
    parts = parsed.resource.split("/") if parsed else []
    if parsed is None or parts[0] != kind or len(parts) != 4:
        raise errors.ecs.InvalidParameterException(f"Invalid {kind} ARN: {arn}")
    if parsed.region != ctx.region or parsed.account != ctx.account_id:
        return None
    cluster = cluster_store.get(conn, ctx.region, ctx.account_id, parts[1])
    return store.find(conn, cluster.arn, parts[2]) if cluster else None


@handlers.operation("ListServiceDeployments")
def list_service_deployments(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params, default=20)
    after = decode_token(params.get("nextToken"), "ListServiceDeployments", int,
                         error=errors.ecs.InvalidParameterException)
    statuses = set(params.get("status") or [])
    window = params.get("createdAt") or {}
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        service = find_service(ctx, conn, cluster, params["service"]).doc
    records = sorted(service.get("_history", {}).values(), key=lambda r: -r["createdAt"])
    found = [r for r in records
             if (not statuses or r["_status"] in statuses)
             and (window.get("before") is None or r["createdAt"] < window["before"].timestamp())
             and (window.get("after") is None or r["createdAt"] > window["after"].timestamp())]
    numbered = list(enumerate(found))[after + 1 if after is not None else 0:]
    items, token = page(numbered, limit, "ListServiceDeployments", key=lambda item: item[0])
    result = {"serviceDeployments": [_brief(service, r) for _, r in items]}
    if token:
        result["nextToken"] = token
    return result


@handlers.operation("DescribeServiceDeployments")
def describe_service_deployments(ctx: RequestContext, params: dict) -> dict:
    wanted = params["serviceDeploymentArns"]
    if not 1 <= len(wanted) <= 20:
        raise errors.ecs.InvalidParameterException("serviceDeploymentArns must have 1 to 20 items.")
    found, failures = [], []
    with ctx.store.read() as conn:
        for arn in wanted:
            row = _service_of(ctx, conn, arn, "service-deployment")
            record = row.doc.get("_history", {}).get(arn) if row else None
            if record is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(_deployment(row.doc, record))
    return {"serviceDeployments": found, "failures": failures}


@handlers.operation("DescribeServiceRevisions")
def describe_service_revisions(ctx: RequestContext, params: dict) -> dict:
    wanted = params["serviceRevisionArns"]
    if not 1 <= len(wanted) <= 20:
        raise errors.ecs.InvalidParameterException("serviceRevisionArns must have 1 to 20 items.")
    found, failures = [], []
    with ctx.store.read() as conn:
        for arn in wanted:
            row = _service_of(ctx, conn, arn, "service-revision")
            revision = row.doc.get("_revisions", {}).get(arn) if row else None
            if revision is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(revision)
    return {"serviceRevisions": found, "failures": failures}


def _pass_for(ctx: RequestContext, conn: Connection, arn: str) -> Pass:
    """A controller pass over the service of a deployment, to act on it at once."""
    row = _service_of(ctx, conn, arn, "service-deployment")
    if row is None or arn not in row.doc.get("_history", {}):
        raise errors.ecs.ServiceDeploymentNotFoundException(
            "The service deployment does not exist.")
    return Pass(ctx, conn, row)


@handlers.operation("StopServiceDeployment")
def stop_service_deployment(ctx: RequestContext, params: dict) -> dict:
    arn = params["serviceDeploymentArn"]
    if params.get("stopType", "ROLLBACK") != "ROLLBACK":
        raise errors.ecs.UnsupportedFeatureException("Only stopType ROLLBACK is supported.")
    with ctx.store.write() as conn:
        step = _pass_for(ctx, conn, arn)
        primary = step.doc["deployments"][0]
        if primary["_arn"] != arn or primary["_status"] != "IN_PROGRESS":
            raise errors.ecs.ConflictException(
                "Only the service's deployment in progress can be stopped.")
        try:
            step.stop_and_roll_back("Rollback requested by StopServiceDeployment.")
        except LookupError as error:
            raise errors.ecs.ConflictException(str(error)) from None
        step.run()
    wake_controller(ctx.wakeups)
    return {"serviceDeploymentArn": arn}


@handlers.operation("ContinueServiceDeployment")
def continue_service_deployment(ctx: RequestContext, params: dict) -> dict:
    """Answer a PAUSE lifecycle hook: CONTINUE the deployment or ROLLBACK."""
    arn = params["serviceDeploymentArn"]
    with ctx.store.write() as conn:
        step = _pass_for(ctx, conn, arn)
        primary = step.doc["deployments"][0]
        hook = (primary.get("_hooks") or {}).get(params["hookId"]) \
            if primary["_arn"] == arn else None
        if hook is None or hook["status"] != "AWAITING_ACTION":
            raise errors.ecs.InvalidParameterException(
                f"The deployment is not paused at a hook with the id {params['hookId']}.")
        hook["status"] = "SUCCEEDED" if params.get("action", "CONTINUE") == "CONTINUE" \
            else "FAILED"
        step.run()
    wake_controller(ctx.wakeups)
    return {"serviceDeploymentArn": arn}
