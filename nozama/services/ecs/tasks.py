"""RunTask, StartTask, StopTask, DescribeTasks, ListTasks."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, Row

from nozama.api.context import RequestContext
from nozama.api.errors import ClientException, InvalidParameterException
from nozama.controllers.notify import notifier
from nozama.controllers.tasks import refresh_instance, request_stop
from nozama.model import arns
from nozama.model.resources import requirements
from nozama.scheduler.first_fit import Candidate, place
from nozama.services.ecs import handlers
from nozama.services.ecs.common import (find_cluster, find_or_create_cluster, page_size,
                                        tags_from_request, tags_of)
from nozama.services.ecs.container_instances import instance_arn
from nozama.services.ecs.task_definitions import find as find_task_definition
from nozama.store import attributes as attribute_store
from nozama.store import container_instances as instance_store
from nozama.store import tags as tag_store
from nozama.store import tasks as store
from nozama.store.pagination import decode_token, page

LAUNCH_TYPES = ("EC2", "EXTERNAL")
MAX_STARTED_BY = 128


def describe(row: Row) -> dict:
    return {k: v for k, v in row.doc.items() if k != "reservation"}


def _check_request(params: dict) -> None:
    if params.get("launchType", "EC2") not in LAUNCH_TYPES:
        raise InvalidParameterException(
            f"Nozama runs tasks on EC2 and EXTERNAL instances, not {params['launchType']}.")
    if len(params.get("startedBy") or "") > MAX_STARTED_BY:
        raise InvalidParameterException("startedBy can be at most 128 characters.")
    if params.get("group") is not None and not 1 <= len(params["group"]) <= 255:
        raise InvalidParameterException("group must be 1 to 255 characters.")


def _active_task_definition(ctx: RequestContext, conn: Connection, reference: str) -> Row:
    row = find_task_definition(ctx, conn, reference)
    if row.status != "ACTIVE":
        raise ClientException("TaskDefinition is inactive")
    return row


def _new_task(ctx: RequestContext, cluster: Row, definition: Row, instance: str,
              params: dict, zone: str | None) -> dict:
    task_id = uuid.uuid4().hex
    arn = arns.arn("ecs", ctx.region, ctx.account_id, f"task/{cluster.name}/{task_id}")
    td = definition.doc
    overrides = params.get("overrides") or {}
    now = ctx.clock.now()
    containers = [{
        "containerArn": arns.arn("ecs", ctx.region, ctx.account_id,
                                 f"container/{cluster.name}/{task_id}/{uuid.uuid4()}"),
        "taskArn": arn, "name": c["name"], "image": c["image"], "lastStatus": "PENDING",
        "networkBindings": [], "networkInterfaces": [], "healthStatus": "UNKNOWN",
        "cpu": str(c.get("cpu", 0)),
        **({"memory": str(c["memory"])} if c.get("memory") else {}),
        **({"memoryReservation": str(c["memoryReservation"])}
           if c.get("memoryReservation") else {}),
    } for c in td["containerDefinitions"]]
    need = requirements(td, overrides)
    doc = {
        "taskArn": arn, "clusterArn": cluster.arn, "taskDefinitionArn": definition.arn,
        "containerInstanceArn": instance, "overrides": {"containerOverrides": [],
                                                        "inferenceAcceleratorOverrides": [],
                                                        **overrides},
        "lastStatus": "PENDING", "desiredStatus": "RUNNING",
        "cpu": str(need.cpu), "memory": str(need.memory), "containers": containers,
        "version": 1, "createdAt": now.timestamp(), "group": params.get("group")
        or f"family:{td['family']}", "launchType": params.get("launchType", "EC2"),
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
        "healthStatus": "UNKNOWN", "enableExecuteCommand": False, "tags": [],
        "reservation": need.to_doc(),
    }
    if zone:
        doc["availabilityZone"] = zone
    if params.get("startedBy"):
        doc["startedBy"] = params["startedBy"]
    return doc


def _create(ctx: RequestContext, conn: Connection, cluster: Row, definition: Row,
            placed: list[str], params: dict) -> list[dict]:
    zones = attribute_store.of_targets(conn, cluster.arn, list(set(placed)))
    new_tags = tags_from_request(params.get("tags"))
    docs = [_new_task(ctx, cluster, definition, arn, params,
                      zones[arn].get("ecs.availability-zone")) for arn in placed]
    store.create_many(conn, [{
        "region": ctx.region, "account": ctx.account_id, "cluster_arn": cluster.arn,
        "arn": d["taskArn"], "task_definition_arn": definition.arn,
        "family": definition.family, "container_instance_arn": d["containerInstanceArn"],
        "group_name": d["group"], "started_by": d.get("startedBy"),
        "launch_type": d["launchType"], "last_status": "PENDING", "desired_status": "RUNNING",
        "created_at": ctx.clock.now(), "version": 1, "doc": d} for d in docs])
    for doc in docs:
        tag_store.put(conn, doc["taskArn"], new_tags)
        doc["tags"] = [{"key": k, "value": v} for k, v in new_tags.items()]
    for arn in set(placed):
        refresh_instance(conn, arn)
        notifier.changed(arn)
    return [{k: v for k, v in d.items() if k != "reservation"} for d in docs]


def _candidates(conn: Connection, rows: list[Row]) -> list[Candidate]:
    return [Candidate(r.arn, r.doc["remainingResources"], r.agent_connected, r.status)
            for r in rows]


@handlers.operation("RunTask")
def run_task(ctx: RequestContext, params: dict) -> dict:
    _check_request(params)
    count = params.get("count", 1)
    if not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    with ctx.store.write() as conn:
        cluster = find_or_create_cluster(ctx, conn, params.get("cluster"))
        definition = _active_task_definition(ctx, conn, params["taskDefinition"])
        instances = instance_store.scan(conn, cluster.arn, ("ACTIVE", "DRAINING"), None, 100000)
        if not instances:
            raise InvalidParameterException("No Container Instances were found in your cluster.")
        need = requirements(definition.doc, params.get("overrides"))
        placed, failures = place(_candidates(conn, instances), need, count)
        tasks = _create(ctx, conn, cluster, definition, placed, params)
    return {"tasks": tasks, "failures": failures}


@handlers.operation("StartTask")
def start_task(ctx: RequestContext, params: dict) -> dict:
    _check_request(params)
    references = params["containerInstances"]
    if not 1 <= len(references) <= 10:
        raise InvalidParameterException("containerInstances must have between 1 and 10 items.")
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        definition = _active_task_definition(ctx, conn, params["taskDefinition"])
        need = requirements(definition.doc, params.get("overrides"))
        placed, failures = [], []
        for reference in references:
            arn = instance_arn(ctx, cluster, reference)
            rows = instance_store.get_many(conn, cluster.arn, [arn])
            if not rows or rows[0].status == "INACTIVE":
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            got, why = place(_candidates(conn, rows), need, 1)
            placed += got
            failures += why
        tasks = _create(ctx, conn, cluster, definition, placed, params)
    return {"tasks": tasks, "failures": failures}


@handlers.operation("StopTask")
def stop_task(ctx: RequestContext, params: dict) -> dict:
    reason = params.get("reason") or "Task stopped by user"
    if len(reason) > 1024:
        raise InvalidParameterException("reason can be at most 1024 characters.")
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        row = _find_task(ctx, conn, cluster, params["task"])
        request_stop(conn, row, reason, "UserInitiated", ctx.clock.now())
        return {"task": describe(store.get(conn, row.arn))}


def task_arn(ctx: RequestContext, cluster: Row, reference: str) -> str:
    if arns.is_arn(reference):
        return reference
    return arns.arn("ecs", ctx.region, ctx.account_id, f"task/{cluster.name}/{reference}")


def _find_task(ctx: RequestContext, conn: Connection, cluster: Row, reference: str) -> Row:
    row = store.get(conn, task_arn(ctx, cluster, reference))
    if row is None or row.cluster_arn != cluster.arn:
        raise InvalidParameterException("The referenced task was not found.")
    return row


@handlers.operation("DescribeTasks")
def describe_tasks(ctx: RequestContext, params: dict) -> dict:
    references = params["tasks"]
    if not 1 <= len(references) <= 100:
        raise InvalidParameterException("tasks must have between 1 and 100 items.")
    with_tags = "TAGS" in (params.get("include") or [])
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        wanted = list(dict.fromkeys(task_arn(ctx, cluster, r) for r in references))
        rows = {r.arn: r for r in store.get_many(conn, cluster.arn, wanted)}
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
    after = decode_token(params.get("nextToken"), "ListTasks", str)
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
        found = store.search(conn, cluster.arn, filters, params.get("desiredStatus", "RUNNING"),
                             after, limit + 1)
    items, token = page(found, limit, "ListTasks", key=lambda arn: arn)
    return {"taskArns": items, **({"nextToken": token} if token else {})}
