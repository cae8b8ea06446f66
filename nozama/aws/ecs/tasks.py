"""RunTask, StartTask, StopTask, DescribeTasks, ListTasks."""

from __future__ import annotations


from sqlalchemy import Connection, Row

from nozama.aws.iam import service_roles
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.controllers.tasks import create_tasks, request_stop
from nozama.model import arns
from nozama.model.resources import requirements
from nozama.controllers.placement import PlacementRequest, place_on_instances, place_tasks
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import (find_cluster, page_size, tags_from_request, tags_of)
from nozama.aws.ecs.container_instances import instance_arn
from nozama.aws.ecs.networking import check_awsvpc
from nozama.aws.ecs.task_definitions import find as find_task_definition
from nozama.store import tasks as task_store
from nozama.store.pagination import decode_token, page

LAUNCH_TYPES = ("EC2", "EXTERNAL")
MAX_STARTED_BY = 128


def describe(row: Row) -> dict:
    return dict(row.doc)


def _check_request(params: dict) -> None:
    if params.get("launchType", "EC2") not in LAUNCH_TYPES:
        raise errors.ecs.InvalidParameterException(
            f"Nozama runs tasks on EC2 and EXTERNAL instances, not {params['launchType']}.")
    if len(params.get("startedBy") or "") > MAX_STARTED_BY:
        raise errors.ecs.InvalidParameterException("startedBy can be at most 128 characters.")
    if params.get("group") is not None and not 1 <= len(params["group"]) <= 255:
        raise errors.ecs.InvalidParameterException("group must be 1 to 255 characters.")


def _active_task_definition(ctx: RequestContext, conn: Connection, reference: str) -> Row:
    row = find_task_definition(ctx, conn, reference)
    if row.status != "ACTIVE":
        raise errors.ecs.ClientException("TaskDefinition is inactive")
    return row


def _check_passed_roles(ctx: RequestContext, params: dict) -> None:
    """Roles a RunTask or StartTask override names are passed to ECS: iam:PassRole."""
    overrides = params.get("overrides") or {}
    for key in ("taskRoleArn", "executionRoleArn"):
        if overrides.get(key):
            service_roles.check_pass_role(ctx, overrides[key], service_roles.ECS_TASKS, "ecs")


def _group(params: dict, definition: Row) -> str:
    return params.get("group") or f"family:{definition.family}"


@handlers.operation("RunTask")
def run_task(ctx: RequestContext, params: dict) -> dict:
    _check_request(params)
    _check_passed_roles(ctx, params)
    count = params.get("count", 1)
    if not 1 <= count <= 10:
        raise errors.ecs.InvalidParameterException("count must be between 1 and 10.")
    check_awsvpc(ctx, params)
    with ctx.store.write() as conn:
        # ECS creates the `default` cluster when an instance registers into it, never
        # for RunTask: without it, RunTask is ClusterNotFoundException. Placement locks
        # the cluster (controllers/placement.py).
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        definition = _active_task_definition(ctx, conn, params["taskDefinition"])
        result = place_tasks(conn, cluster.arn, PlacementRequest(
            count, requirements(definition.doc, params.get("overrides")),
            _group(params, definition), constraints=params.get("placementConstraints") or [],
            strategies=params.get("placementStrategy"), task_definition=definition.doc,
            launch_type=params.get("launchType", "EC2")), require_instances=True)
        tasks = create_tasks(ctx, conn, cluster, definition, result.instance_arns, params,
                             tags_from_request(params.get("tags")))
    return {"tasks": tasks, "failures": result.failures}


@handlers.operation("StartTask")
def start_task(ctx: RequestContext, params: dict) -> dict:
    _check_request(params)
    _check_passed_roles(ctx, params)
    references = params["containerInstances"]
    if not 1 <= len(references) <= 10:
        raise errors.ecs.InvalidParameterException(
            "containerInstances must have between 1 and 10 items.")
    check_awsvpc(ctx, params)
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        definition = _active_task_definition(ctx, conn, params["taskDefinition"])
        result = place_on_instances(conn, cluster.arn,
                                    [instance_arn(ctx, cluster, r) for r in references],
                                    requirements(definition.doc, params.get("overrides")),
                                    _group(params, definition))
        tasks = create_tasks(ctx, conn, cluster, definition, result.instance_arns, params,
                             tags_from_request(params.get("tags")))
    return {"tasks": tasks, "failures": result.failures}


@handlers.operation("StopTask")
def stop_task(ctx: RequestContext, params: dict) -> dict:
    reason = params.get("reason") or "Task stopped by user"
    if len(reason) > 1024:
        raise errors.ecs.InvalidParameterException("reason can be at most 1024 characters.")
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"), lock=True)
        row = _find_task(ctx, conn, cluster, params["task"], lock=True)
        request_stop(ctx, conn, row, reason, "UserInitiated", ctx.clock.now())
        return {"task": describe(task_store.get(conn, row.arn))}


def task_arn(ctx: RequestContext, cluster: Row, reference: str) -> str:
    if arns.is_arn(reference):
        return reference
    return arns.arn("ecs", ctx.region, ctx.account_id, f"task/{cluster.name}/{reference}")


def _find_task(ctx: RequestContext, conn: Connection, cluster: Row, reference: str,
               lock: bool = False) -> Row:
    row = task_store.get(conn, task_arn(ctx, cluster, reference), lock=lock)
    if row is None or row.cluster_arn != cluster.arn:
        raise errors.ecs.InvalidParameterException("The referenced task was not found.")
    return row


@handlers.operation("DescribeTasks")
def describe_tasks(ctx: RequestContext, params: dict) -> dict:
    references = params["tasks"]
    if not 1 <= len(references) <= 100:
        raise errors.ecs.InvalidParameterException("tasks must have between 1 and 100 items.")
    with_tags = "TAGS" in (params.get("include") or [])
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        wanted = list(dict.fromkeys(task_arn(ctx, cluster, r) for r in references))
        rows = {r.arn: r for r in task_store.get_many(conn, cluster.arn, wanted)}
        found, failures = [], []
        for arn in wanted:
            if arn not in rows:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            task = describe(rows[arn])
            task["tags"] = tags_of(conn, arn) if with_tags else []
            found.append(task)
    return {"tasks": found, "failures": failures}


@handlers.operation("ListTasks")
def list_tasks(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params)
    after = decode_token(params.get("nextToken"), "ListTasks", str,
                         error=errors.ecs.InvalidParameterException)
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        filters = {}
        if params.get("containerInstance"):
            filters["container_instance_arn"] = instance_arn(ctx, cluster,
                                                             params["containerInstance"])
        for member, column in (("family", "family"), ("startedBy", "started_by"),
                               ("serviceName", "service_name"), ("launchType", "launch_type")):
            if params.get(member):
                filters[column] = params[member]
        found = task_store.search(conn, cluster.arn, filters,
                                  params.get("desiredStatus", "RUNNING"), after, limit + 1)
    items, token = page(found, limit, "ListTasks", key=lambda arn: arn)
    return {"taskArns": items, **({"nextToken": token} if token else {})}
