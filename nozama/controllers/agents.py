"""The control plane's side of the agent channel.

Agents long-poll for their assignments (the tasks their instance must run or
stop, with each task's definition) and report observed state back. A poll is
also the heartbeat: an agent that has not polled for AGENT_TIMEOUT seconds is
marked disconnected, and the scheduler stops placing tasks on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import timedelta

from nozama.kernel.context import RequestContext
from nozama.kernel import errors
from nozama.kernel.errors import ecs as ecs_errors
from nozama.kernel.intervals import scaled
from nozama.controllers.notify import agent_wait, wake_controller
from nozama.controllers import task_credentials
from nozama.controllers.tasks import apply_report, refresh_instance
from nozama.model import arns
from nozama.store import clusters as cluster_store
from nozama.store import container_instances as instance_store
from nozama.store import task_definitions as task_definition_store
from nozama.store import tasks as task_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT = scaled(20.0)
# Longer than a long poll (POLL_TIMEOUT) by a margin for a slow reconnect, and scaled
# with it: a service replaces the tasks of an instance disconnected this long
# (controllers/services.py), so tests that take an agent away need not wait 35 s.
AGENT_TIMEOUT = scaled(35.0)


def instance_context(make_context, instance_arn: str) -> RequestContext:
    parsed = arns.parse(instance_arn or "")
    if parsed is None or parsed.resource_type != "container-instance":
        raise ecs_errors.InvalidParameterException(
            "containerInstanceArn is not a container instance ARN.")
    return make_context(parsed.region)


def check_known(ctx: RequestContext, instance_arn: str | None) -> None:
    """An agent registering again as `instance_arn` must name an instance this control
    plane knows; ContainerInstanceUnknown tells it to register as a new one."""
    if not instance_arn:
        return
    with ctx.store.read() as conn:
        known = instance_store.get(conn, instance_arn) is not None
    if not known:
        raise errors.ContainerInstanceUnknown(
            f"The control plane has no container instance {instance_arn}.")


def assignments(ctx: RequestContext, instance_arn: str) -> tuple[list[dict], str]:
    """What the instance must run or stop, and a digest of the decisions in it."""
    with ctx.store.write() as conn:
        instance = instance_store.get(conn, instance_arn)
        if instance is None or instance.status == "INACTIVE":
            raise errors.ContainerInstanceDeregistered(
                "The container instance has been deregistered.")
        now = ctx.clock.now()
        instance_store.mark_seen(conn, instance_arn, now)
        rows = task_store.assigned(conn, instance_arn)
        definitions = task_definition_store.get_by_arns(conn, list({r.task_definition_arn
                                                                   for r in rows}))
        credentials = task_credentials.for_assignments(conn, ctx.store.access_keys, rows,
                                                       definitions, now)
    items = [{"task": r.doc,
              "taskDefinition": definitions[r.task_definition_arn].doc} for r in rows]
    for item in items:
        if item["task"]["taskArn"] in credentials:
            item["credentials"] = credentials[item["task"]["taskArn"]]
    # New credentials of a task are a new decision: the agent's long poll returns them.
    decisions = [(r.arn, r.desired_status, credentials.get(r.arn, {}).get("accessKeyId"))
                 for r in rows]
    digest = hashlib.sha1(json.dumps(decisions).encode()).hexdigest()
    return items, digest


async def poll(ctx: RequestContext, instance_arn: str, known_digest: str | None) -> dict:
    items, digest = assignments(ctx, instance_arn)
    if digest == known_digest:
        await agent_wait(ctx.wakeups, instance_arn, POLL_TIMEOUT)
        items, digest = assignments(ctx, instance_arn)
    return {"tasks": items, "digest": digest}


def report(ctx: RequestContext, instance_arn: str, reports: list[dict]) -> dict:
    applied = 0
    with ctx.store.write() as conn:
        now = ctx.clock.now()
        stopped = []
        # The cluster first (the lock order of ECS writes), then each task: a StopTask or
        # the service controller's stop on another server waits for this report, and
        # this report for it, instead of rewriting the task's doc from an old copy.
        instance = instance_store.get(conn, instance_arn)
        if instance is not None:
            cluster_store.lock(conn, instance.cluster_arn)
        for item in reports:
            task = task_store.get(conn, item.get("taskArn", ""), lock=True)
            # An agent speaks only for the tasks of its own instance.
            if task is not None and task.container_instance_arn == instance_arn:
                applied += apply_report(conn, task, item, now)
                if item.get("lastStatus") == "STOPPED":
                    stopped.append(task.arn)
        # A stopped task's role credentials are of no more use to anyone.
        gone = task_credentials.forget(conn, stopped)
        if applied:
            refresh_instance(conn, instance_arn)
    task_credentials.uncache(ctx.store.access_keys, gone)
    if applied:
        wake_controller(ctx.wakeups)
    return {"applied": applied}


async def watch_heartbeats(store, clock, interval: float = scaled(5.0)) -> None:
    """Mark instances whose agents went silent as disconnected, forever."""
    while True:
        await asyncio.sleep(interval)
        try:
            with store.write() as conn:
                gone = instance_store.mark_silent_disconnected(
                    conn, clock.now() - timedelta(seconds=AGENT_TIMEOUT))
            for arn in gone:
                log.info("agent of %s disconnected", arn)
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:  # keep watching through a transient database error
            log.exception("heartbeat sweep failed")
