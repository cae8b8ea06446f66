"""Starting and stopping a service's tasks: where new ones go, which ones go first.

New tasks are placed by the scheduler (scheduler/placement.py) under the service's
placement constraints and strategies, and, in a zone wave, only in the wave's zone.
Tasks to stop are chosen as ECS does: on scale-in from the zone that has the most;
of an older deployment, those not yet running, then those on draining instances.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, Row

from nozama.controllers.service_events import ServiceEvents
from nozama.controllers.placement import PlacementRequest, place_on_instances, place_tasks
from nozama.controllers.service_targets import ServiceTargets
from nozama.controllers.tasks import create_tasks, refresh_instance, request_stop
from nozama.kernel.context import RequestContext
from nozama.model.resources import requirements
from nozama.store import attributes as attribute_store
from nozama.store import container_instances as instance_store
from nozama.store import tasks as task_store


def draining_instances(conn: Connection, cluster_arn: str) -> set[str]:
    rows = instance_store.scan(conn, cluster_arn, ("DRAINING",), None, 100000)
    return {r.arn for r in rows}


def with_docs(conn: Connection, cluster_arn: str, tasks: list[Row]) -> list[Row]:
    """The full rows of tasks read without their documents."""
    full = {t.arn: t for t in task_store.get_many(conn, cluster_arn, [t.arn for t in tasks])}
    return [full[t.arn] for t in tasks]


def start_tasks(ctx: RequestContext, conn: Connection, cluster: Row, service: dict,
                deployment: dict, definition: Row, count: int, zone: str | None,
                events: ServiceEvents, targets: ServiceTargets | None = None) -> None:
    """Place and create `count` tasks of `deployment` (in `zone`, when given; not on the
    hosts its load balancer cannot reach, nor in their zones)."""
    name = service["serviceName"]
    constraints = list(service.get("placementConstraints") or [])
    if zone is not None:
        constraints.append({"type": "memberOf",
                            "expression": f"attribute:ecs.availability-zone == {zone}"})
    avoid = targets.unreachable_instances() if targets is not None else frozenset()
    impaired = _zones_of(conn, cluster.arn, avoid)
    if impaired:
        # A host its load balancer cannot reach says its zone may be cut off: its other
        # hosts are likely next (their checks just have not failed yet), and a task
        # placed there would wait for an agent that may not answer. As ECS does with an
        # impaired zone, place elsewhere; rebalancing moves tasks back once it recovers.
        constraints.append({"type": "memberOf", "expression":
                            f"attribute:ecs.availability-zone not_in [{', '.join(impaired)}]"})
    result = place_tasks(conn, cluster.arn, PlacementRequest(
        count, requirements(definition.doc), f"service:{name}",
        constraints=constraints,
        strategies=service.get("placementStrategy") or None,
        task_definition=definition.doc, launch_type=service.get("launchType", "EC2"),
        service=True, avoid=avoid))
    placed, failures = result.instance_arns, result.failures
    _create(ctx, conn, cluster, service, deployment, definition, placed, events)
    if len(placed) < count:
        reason = failures[0]["reason"] if failures else "no container instance is ACTIVE"
        events.add("was unable to place a task because no container instance met all of "
                   f"its requirements. Reason: {reason}.", once=True)


def _zones_of(conn: Connection, cluster_arn: str, instance_arns: frozenset[str]) -> list[str]:
    found = attribute_store.of_targets(conn, cluster_arn, sorted(instance_arns))
    return sorted({attributes["ecs.availability-zone"] for attributes in found.values()
                   if attributes.get("ecs.availability-zone")})


def start_tasks_on(ctx: RequestContext, conn: Connection, cluster: Row, service: dict,
                   deployment: dict, definition: Row, instance_arns: list[str],
                   events: ServiceEvents) -> None:
    """A DAEMON service's tasks: one on each of `instance_arns` that has room for it (the
    caller chose them: controllers/daemon.py)."""
    name = service["serviceName"]
    result = place_on_instances(conn, cluster.arn, instance_arns, requirements(definition.doc),
                                f"service:{name}")
    _create(ctx, conn, cluster, service, deployment, definition, result.instance_arns, events)
    if result.failures:
        events.add("was unable to place a task because no container instance met all of "
                   f"its requirements. Reason: {result.failures[0]['reason']}.", once=True)


def _create(ctx: RequestContext, conn: Connection, cluster: Row, service: dict,
            deployment: dict, definition: Row, placed: list[str],
            events: ServiceEvents) -> list[dict]:
    if not placed:
        return []
    name = service["serviceName"]
    params = {"startedBy": deployment["id"], "group": f"service:{name}",
              "launchType": service.get("launchType", "EC2")}
    created = create_tasks(ctx, conn, cluster, definition, placed, params, {},
                           service=name, deployment_id=deployment["id"])
    ids = " ".join(f"(task {t['taskArn'].rsplit('/', 1)[1]})" for t in created)
    events.add(f"has started {len(created)} tasks: {ids}.")
    return created


def stop_tasks(ctx: RequestContext, conn: Connection, tasks: list[Row], deployment: dict,
               targets: ServiceTargets | None, now: datetime, events: ServiceEvents) -> None:
    """Stop `tasks` (full rows) for `deployment`; behind a load balancer, a task is
    deregistered and drained before it stops."""
    reason = f"Scaling activity initiated by (deployment {deployment['id']})"
    stopping = []
    for task in tasks:
        if targets is not None and targets.deregister(task, reason,
                                                      "ServiceSchedulerInitiated"):
            continue
        request_stop(ctx, conn, task, reason, "ServiceSchedulerInitiated", now, refresh=False)
        stopping.append(task)
    for instance in {t.container_instance_arn for t in stopping if t.container_instance_arn}:
        refresh_instance(conn, instance)
    if stopping:
        ids = " ".join(f"(task {t.arn.rsplit('/', 1)[1]})" for t in stopping)
        events.add(f"has stopped {len(stopping)} running tasks: {ids}.")
    if len(stopping) < len(tasks):
        events.add(f"has begun draining connections on {len(tasks) - len(stopping)} tasks.")


def scale_in_order(tasks: list[Row]) -> list[Row]:
    """Tasks (full rows) to stop first when scaling in: from the zone that has the most."""
    zones = Counter(t.doc.get("availabilityZone") for t in tasks)
    ordered, remaining = [], list(tasks)
    while remaining:
        zone = max(zones, key=lambda z: zones[z])
        pick = next(t for t in reversed(remaining) if t.doc.get("availabilityZone") == zone)
        remaining.remove(pick)
        zones[zone] -= 1
        ordered.append(pick)
    not_running = [t for t in ordered if t.last_status != "RUNNING"]
    return not_running + [t for t in ordered if t.last_status == "RUNNING"]


def stop_order(tasks: list[Row], draining: set[str]) -> list[Row]:
    """Old tasks to stop first: not yet running, then on draining instances, then the rest."""
    return sorted(tasks, key=lambda t: (t.last_status == "RUNNING",
                                        t.container_instance_arn not in draining))
