"""Task bookkeeping shared by RunTask, StopTask and the agents' state reports.

An instance's runningTasksCount, pendingTasksCount and remainingResources are
recomputed from its live tasks in the same transaction as every change, never
kept as running sums that could drift: one SQL aggregate over the reservation
columns of its live tasks (store.tasks.instance_usage), not a pass over their
documents, so a burst of N reports costs N aggregates, not N² decodes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, Row

from nozama.kernel.context import RequestContext
from nozama.kernel.clock import as_datetime
from nozama.model import arns
from nozama.model.resources import Requirements, requirements
from nozama.store import attributes as attribute_store
from nozama.store import tags as tag_store

from nozama.controllers.notify import wake_agent
from nozama.model.resources import remaining
from nozama.store import container_instances as instance_store
from nozama.store import tasks as task_store

TASK_ORDER = {s: i for i, s in enumerate(
    ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING",
     "DEPROVISIONING", "STOPPED"))}
CONTAINER_ORDER = {"PENDING": 0, "RUNNING": 1, "STOPPED": 2}


def refresh_instance(conn: Connection, instance_arn: str) -> None:
    instance = instance_store.get(conn, instance_arn)
    if instance is None:
        return
    reserved, running, pending = task_store.instance_usage(conn, instance_arn)
    doc = {**instance.doc, "remainingResources": remaining(instance.doc["registeredResources"],
                                                           [reserved])}
    instance_store.save(conn, instance_arn, doc=doc, running_tasks_count=running,
                        pending_tasks_count=pending)


def request_stop(ctx: RequestContext, conn: Connection, task: Row, reason: str, stop_code: str,
                 now: datetime, refresh: bool = True) -> None:
    """Set a task's desired status to STOPPED; its agent (woken) does the stopping.
    With refresh=False the caller refreshes the task's instance itself."""
    if task.desired_status == "STOPPED":
        return
    doc = {**task.doc, "desiredStatus": "STOPPED", "stopCode": stop_code,
           "stoppedReason": reason, "stoppingAt": now.timestamp()}
    if task.container_instance_arn is None or task.last_status in ("PROVISIONING",):
        # Never reached an agent: nothing runs, so it is stopped at once.
        doc.update(lastStatus="STOPPED", stoppedAt=now.timestamp())
        task_store.save(conn, task.arn, desired_status="STOPPED", last_status="STOPPED",
                        stopped_at=now, stop_code=stop_code, doc=doc)
    else:
        task_store.save(conn, task.arn, desired_status="STOPPED", stop_code=stop_code, doc=doc)
        wake_agent(ctx.wakeups, task.container_instance_arn)
    if task.container_instance_arn and refresh:
        refresh_instance(conn, task.container_instance_arn)


def apply_report(conn: Connection, task: Row, report: dict, now: datetime) -> bool:
    """Apply an agent's report on one task. Reports only move state forward, so a
    repeated or late report changes nothing. Returns whether anything changed.
    The caller refreshes the task's instance (once for a whole batch of reports)."""
    doc = dict(task.doc)
    last_status = _forward(task.last_status, report.get("lastStatus"), TASK_ORDER)
    doc["lastStatus"] = last_status
    doc["containers"] = _merge_containers(doc["containers"], report.get("containers", []))
    for member in ("pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt",
                   "executionStoppedAt", "healthStatus"):
        if report.get(member) is not None and (member == "healthStatus" or member not in doc):
            doc[member] = report[member]
    if last_status == "STOPPED":
        # As in ECS, a task that has stopped (on its own or as asked) is desired STOPPED.
        doc["desiredStatus"] = "STOPPED"
        doc.setdefault("stoppedAt", now.timestamp())
        doc.setdefault("executionStoppedAt", doc["stoppedAt"])
        for member in ("stopCode", "stoppedReason"):
            if report.get(member) and not task.doc.get(member):
                doc[member] = report[member]
    if doc == task.doc:
        return False
    stopped_at = now if last_status == "STOPPED" and task.last_status != "STOPPED" \
        else task.stopped_at
    started = doc.get("startedAt")
    task_store.save(conn, task.arn, last_status=last_status, desired_status=doc["desiredStatus"],
                    stopped_at=stopped_at,
                    started_at=as_datetime(started) if started is not None else None,
                    health_status=doc.get("healthStatus") or "UNKNOWN",
                    stop_code=doc.get("stopCode"), doc=doc)
    return True


def _forward(current: str, reported: str | None, order: dict[str, int]) -> str:
    if reported not in order:
        return current
    return reported if order[reported] > order[current] else current


def _merge_containers(current: list[dict], reported: list[dict]) -> list[dict]:
    by_name = {c.get("name"): c for c in reported}
    merged = []
    for container in current:
        report = by_name.get(container["name"])
        if report is None:
            merged.append(container)
            continue
        updated = dict(container)
        updated["lastStatus"] = _forward(container["lastStatus"], report.get("lastStatus"),
                                         CONTAINER_ORDER)
        for member in ("runtimeId", "exitCode", "reason", "networkBindings", "healthStatus"):
            if report.get(member) is not None:
                updated[member] = report[member]
        merged.append(updated)
    return merged


def _new_task(ctx: RequestContext, cluster: Row, definition: Row, instance: str,
              params: dict, zone: str | None) -> tuple[dict, Requirements]:
    """A new task's document, and what it reserves on its instance."""
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
    }
    if zone:
        doc["availabilityZone"] = zone
    if params.get("startedBy"):
        doc["startedBy"] = params["startedBy"]
    return doc, need


def create_tasks(ctx: RequestContext, conn: Connection, cluster: Row, definition: Row,
                 placed: list[str], params: dict, tags: dict[str, str],
                 service: str | None = None, deployment_id: str | None = None) -> list[dict]:
    """New tasks on the instances chosen for them; their agents are woken up."""
    zones = attribute_store.of_targets(conn, cluster.arn, list(set(placed)))
    new = [_new_task(ctx, cluster, definition, arn, params,
                     zones[arn].get("ecs.availability-zone")) for arn in placed]
    docs = [doc for doc, _ in new]
    task_store.create_many(conn, [{
        "region": ctx.region, "account": ctx.account_id, "cluster_arn": cluster.arn,
        "arn": d["taskArn"], "task_definition_arn": definition.arn,
        "family": definition.family, "container_instance_arn": d["containerInstanceArn"],
        "group_name": d["group"], "started_by": d.get("startedBy"),
        "service_name": service, "deployment_id": deployment_id,
        "launch_type": d["launchType"], "last_status": "PENDING", "desired_status": "RUNNING",
        "created_at": ctx.clock.now(), "version": 1, "reservation": need, "doc": d}
        for d, need in new])
    for doc in docs:
        tag_store.put(conn, doc["taskArn"], tags)
        doc["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    for arn in set(placed):
        refresh_instance(conn, arn)
        wake_agent(ctx.wakeups, arn)
    return docs
