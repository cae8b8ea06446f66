"""DAEMON services: one task on every ACTIVE container instance that meets the service's
placement constraints, as ECS runs them.

- desiredCount is not given but computed: the instances that should run the task
  (ACTIVE, meeting the constraints, and reachable — an instance whose agent is
  disconnected counts only while it holds its task: nothing can be started on it,
  and its task, which most likely still runs, is not replaced elsewhere, since a
  daemon belongs to its instance);
- an instance that joins (registers, or is ACTIVE again) gets a task;
- a task on an instance that no longer qualifies (its attributes changed, it was
  deregistered) is stopped; on a DRAINING instance, only once the instance's other
  tasks are gone (ECS stops the daemon last, so that what the replicas rely on, a log
  shipper say, outlives them);
- a deployment replaces the task of an instance by stopping it and then starting the
  new revision there (maximumPercent is at most 100), as many instances at a time as
  minimumHealthyPercent allows (ECS's default, 0, replaces them all at once).

`daemon_step` is the arithmetic, pure; `DaemonInstances.load` reads what it needs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection

from nozama.controllers.cluster_state import cluster_state
from nozama.scheduler.qualify import qualifying_instances
from nozama.scheduler.state import DRAINING
from nozama.store import services as service_store
from nozama.store import tasks as task_store


@dataclass(frozen=True)
class DaemonTask:
    arn: str
    instance: str | None
    primary: bool   # of the PRIMARY deployment
    healthy: bool


@dataclass(frozen=True)
class DaemonInstances:
    eligible: frozenset[str]   # ACTIVE and meeting the placement constraints
    connected: frozenset[str]  # of those, the ones whose agent is connected
    waiting: frozenset[str]    # DRAINING, still running tasks of other (non-daemon) services

    @classmethod
    def load(cls, conn: Connection, cluster_arn: str, service: dict,
             definition: dict, instances_in_use: set[str]) -> DaemonInstances:
        group = f"service:{service['serviceName']}"
        state = cluster_state(conn, cluster_arn)
        eligible = qualifying_instances(state, group,
                                        list(service.get("placementConstraints") or []),
                                        definition, service.get("launchType", "EC2"))
        draining = [arn for arn in instances_in_use if arn in state.instances
                    and state.instances[arn].status == DRAINING]
        waiting = set()
        if draining:
            daemons = {f"service:{n}" for n in service_store.daemon_names(conn, cluster_arn)}
            for arn, groups in task_store.live_groups_on(conn, draining).items():
                if any(g not in daemons for g in groups):
                    waiting.add(arn)
        return cls(frozenset(i.arn for i in eligible),
                   frozenset(i.arn for i in eligible if i.agent_connected), frozenset(waiting))


@dataclass(frozen=True)
class DaemonStep:
    desired: int                # the service's desiredCount
    start_on: tuple[str, ...]   # instances to start a task of the primary deployment on
    stop: tuple[str, ...]       # tasks to stop


def daemon_step(instances: DaemonInstances, tasks: list[DaemonTask],
                minimum_healthy_percent: int) -> DaemonStep:
    """What one pass starts and stops for a DAEMON service."""
    on: dict[str | None, list[DaemonTask]] = defaultdict(list)
    for task in tasks:
        on[task.instance].append(task)
    wanted = [i for i in sorted(instances.eligible) if i in instances.connected or on.get(i)]
    stop: list[str] = []
    for instance, theirs in on.items():
        if instance not in instances.eligible and instance not in instances.waiting:
            stop += [t.arn for t in theirs]
    kept, replace = [], []
    for instance in wanted:
        # One task per instance: the primary deployment's, a healthy one first.
        theirs = sorted(on.get(instance, []), key=lambda t: (not t.primary, not t.healthy))
        stop += [t.arn for t in theirs[1:]]
        if theirs:
            kept.append(theirs[0])
            if not theirs[0].primary:
                replace.append(theirs[0])
    lowest = math.ceil(len(wanted) * minimum_healthy_percent / 100)
    room = max(0, sum(t.healthy for t in kept) - lowest)
    stop += [t.arn for t in replace if not t.healthy]
    stop += [t.arn for t in replace if t.healthy][:room]
    start_on = tuple(i for i in wanted if i in instances.connected and not on.get(i))
    return DaemonStep(len(wanted), start_on, tuple(stop))
