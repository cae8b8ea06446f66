"""ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment: the history of a service's deployments."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel.context import RequestContext
from nozama.kernel import errors
from nozama.controllers import traffic_shift
from nozama.controllers.rolling import circuit_breaker_threshold
from nozama.controllers.notify import wake_controller
from nozama.controllers.services import ServicePass
from nozama.model import arns
from nozama.model.deployment_state import DeploymentState, Rollout
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import find_cluster, page_size
from nozama.aws.ecs.services import find_service
from nozama.store import clusters as cluster_store
from nozama.store import services as service_store
from nozama.store.pagination import decode_token, page

FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def _revision_summary(deployment: dict, arn: str, requested: int) -> dict:
    return {"arn": arn, "requestedTaskCount": requested,
            "runningTaskCount": deployment.get("runningCount", 0),
            "pendingTaskCount": deployment.get("pendingCount", 0)}


def _deployment(service: dict, state: DeploymentState, rollout: Rollout) -> dict:
    """The ServiceDeployment shape of a rollout (its deployment as last recorded)."""
    record = rollout.deployment
    breaker = rollout.configuration.get("deploymentCircuitBreaker", {})
    sources = [r for r in state.rollouts.values() if r.revision_arn in rollout.sources]
    view = {
        "serviceDeploymentArn": rollout.arn, "serviceArn": service["serviceArn"],
        "clusterArn": service["clusterArn"], "createdAt": record["createdAt"],
        "startedAt": record["createdAt"], "updatedAt": record["updatedAt"],
        "sourceServiceRevisions": [_revision_summary(r.deployment, r.revision_arn, 0)
                                   for r in sources],
        "targetServiceRevision": _revision_summary(record, rollout.revision_arn,
                                                   record["desiredCount"]),
        "status": rollout.status, "deploymentConfiguration": rollout.configuration,
        "deploymentCircuitBreaker": {
            "status": "DISABLED" if not breaker.get("enable") else
            "TRIGGERED" if record.get("rolloutState") == "FAILED" else
            "MONITORING_COMPLETE" if rollout.status in FINISHED else "MONITORING",
            "failureCount": record.get("failedTasks", 0),
            "threshold": circuit_breaker_threshold(record["desiredCount"])},
    }
    for member, value in (("finishedAt", rollout.finished_at),
                          ("stoppedAt", rollout.stopped_at), ("statusReason", rollout.reason),
                          ("rollback", rollout.rollback)):
        if value is not None:
            view[member] = value
    if rollout.stage is not None and rollout.blue is not None:
        view["lifecycleStage"] = traffic_shift.SHOWN_AS.get(rollout.stage, rollout.stage)
        view["lifecycleHookDetails"] = [hook.view() for hook in rollout.hooks.values()
                                        if hook.stage == rollout.stage]
        if rollout.status == "IN_PROGRESS":
            # The traffic split, in the only free-text member the shape has.
            view["statusReason"] = traffic_shift.describe_split(rollout)
    return view


def _brief(service: dict, state: DeploymentState, rollout: Rollout) -> dict:
    full = _deployment(service, state, rollout)
    brief = {k: full[k] for k in ("serviceDeploymentArn", "serviceArn", "clusterArn",
                                  "startedAt", "createdAt", "status") if k in full}
    brief["targetServiceRevisionArn"] = rollout.revision_arn
    for member in ("finishedAt", "statusReason"):
        if member in full:
            brief[member] = full[member]
    return brief


def _service_of(ctx: RequestContext, conn: Connection, arn: str, kind: str,
                lock: bool = False):
    """The service row an ECS service-deployment/service-revision ARN belongs to; with
    lock, it and its cluster stay locked until the transaction ends."""
    parsed = arns.parse(arn)
    parts = parsed.resource.split("/") if parsed else []
    if parsed is None or parts[0] != kind or len(parts) != 4:
        raise errors.ecs.InvalidParameterException(f"Invalid {kind} ARN: {arn}")
    if parsed.region != ctx.region or parsed.account != ctx.account_id:
        return None
    cluster = cluster_store.get(conn, ctx.region, ctx.account_id, parts[1])
    if cluster is None:
        return None
    if lock:
        cluster_store.lock(conn, cluster.arn)
    return service_store.find(conn, cluster.arn, parts[2], lock=lock)


@handlers.operation("ListServiceDeployments")
def list_service_deployments(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params, default=20)
    after = decode_token(params.get("nextToken"), "ListServiceDeployments", int,
                         error=errors.ecs.InvalidParameterException)
    statuses = set(params.get("status") or [])
    window = params.get("createdAt") or {}
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        row = find_service(ctx, conn, cluster, params["service"])
    service, state = row.doc, DeploymentState.from_json(row.deployment_state)
    rollouts = sorted(state.rollouts.values(), key=lambda r: -r.deployment["createdAt"])
    found = [r for r in rollouts
             if (not statuses or r.status in statuses)
             and (window.get("before") is None or
                  r.deployment["createdAt"] < window["before"].timestamp())
             and (window.get("after") is None or
                  r.deployment["createdAt"] > window["after"].timestamp())]
    numbered = list(enumerate(found))[after + 1 if after is not None else 0:]
    items, token = page(numbered, limit, "ListServiceDeployments", key=lambda item: item[0])
    result = {"serviceDeployments": [_brief(service, state, r) for _, r in items]}
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
            state = DeploymentState.from_json(row.deployment_state) if row else None
            rollout = state.rollouts.get(arn) if state else None
            if rollout is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(_deployment(row.doc, state, rollout))
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
            revision = (row.deployment_state.get("revisions") or {}).get(arn) if row else None
            if revision is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(revision)
    return {"serviceRevisions": found, "failures": failures}


def _pass_for(ctx: RequestContext, conn: Connection, arn: str) -> ServicePass:
    """A controller pass over the service of a deployment, to act on it at once."""
    row = _service_of(ctx, conn, arn, "service-deployment", lock=True)
    if row is None or arn not in DeploymentState.from_json(row.deployment_state).rollouts:
        raise errors.ecs.ServiceDeploymentNotFoundException(
            "The service deployment does not exist.")
    return ServicePass(ctx, conn, row)


@handlers.operation("StopServiceDeployment")
def stop_service_deployment(ctx: RequestContext, params: dict) -> dict:
    arn = params["serviceDeploymentArn"]
    if params.get("stopType", "ROLLBACK") != "ROLLBACK":
        raise errors.ecs.UnsupportedFeatureException("Only stopType ROLLBACK is supported.")
    with ctx.store.write() as conn:
        step = _pass_for(ctx, conn, arn)
        primary = step.state.of(step.primary)
        if primary.arn != arn or primary.status != "IN_PROGRESS":
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
        primary = step.state.of(step.primary)
        hook = primary.hooks.get(params["hookId"]) if primary.arn == arn else None
        if hook is None or hook.status != "AWAITING_ACTION":
            raise errors.ecs.InvalidParameterException(
                f"The deployment is not paused at a hook with the id {params['hookId']}.")
        hook.status = "SUCCEEDED" if params.get("action", "CONTINUE") == "CONTINUE" \
            else "FAILED"
        step.run()
    wake_controller(ctx.wakeups)
    return {"serviceDeploymentArn": arn}
