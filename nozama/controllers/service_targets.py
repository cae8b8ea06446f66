"""A service's tasks in its load balancers' target groups (the service's loadBalancers).

As ECS does it:
- a RUNNING task is registered as a target: its container instance's EC2 id
  and the host port its container port is bound to;
- while a service has load balancers, a task counts as healthy only when all
  its targets are healthy;
- a task the service stops is deregistered first, and stopped once its targets
  have drained (the data plane removes them when their requests are done or
  their deregistration delay is over);
- a task whose target stays unhealthy past healthCheckGracePeriodSeconds is
  replaced.

The controller writes only the registration (desired state); target health is
what the data plane observed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Row

from nozama.controllers.tasks import request_stop
from nozama.kernel.context import RequestContext
from nozama.store import container_instances as instance_store
from nozama.store import load_balancers as lb_store
from nozama.store import target_groups as tg_store
from nozama.store import tasks as task_store

# Marks, in a task's doc, that the service is taking it out: why, once drained.
DEREGISTERING = "_deregistering"


def _host_port(task_doc: dict, container: str, container_port: int) -> int | None:
    for item in task_doc.get("containers", []):
        if item.get("name") == container:
            for binding in item.get("networkBindings") or []:
                if binding.get("containerPort") == container_port and \
                        binding.get("protocol", "tcp") == "tcp":
                    return binding.get("hostPort")
    return None


class ServiceTargets:
    def __init__(self, ctx: RequestContext, conn: Connection, entries: list[dict],
                 cluster_arn: str,
                 tasks: list[Row], now: datetime,
                 groups_of: dict[str, list[str]] | None = None):
        """`groups_of` gives, by deployment id, the target group of each entry its tasks
        register in (blue/green deployments alternate); by default the entry's own."""
        self.ctx, self.conn, self.entries, self.now = ctx, conn, entries, now
        groups_of = groups_of or {}
        default = [e["targetGroupArn"] for e in entries]
        self.tasks = {t.arn: t for t in task_store.get_many(conn, cluster_arn,
                                                             [t.arn for t in tasks])}
        instances = instance_store.get_many(conn, cluster_arn, list(
            {t.container_instance_arn for t in tasks if t.container_instance_arn}))
        ec2_ids = {i.arn: i.ec2_instance_id for i in instances}
        self.instance_of = {ec2: arn for arn, ec2 in ec2_ids.items()}
        self.keys: dict[str, list[tuple[str, str, int]]] = {}
        for arn, task in self.tasks.items():
            keys = []
            for entry, group in zip(entries, groups_of.get(task.deployment_id, default)):
                port = _host_port(task.doc, entry["containerName"], entry["containerPort"])
                instance = ec2_ids.get(task.container_instance_arn)
                if port is not None and instance is not None:
                    keys.append((group, instance, port))
            self.keys[arn] = keys
        in_use = set(default) | {g for groups in groups_of.values() for g in groups}
        self.groups = {arn: tg_store.get(conn, arn) for arn in in_use}
        self.rows = {(r.target_group_arn, r.target_id, r.port): r
                     for arn in self.groups for r in tg_store.targets(conn, arn)}
        self.changed = False

    def sort_out(self, tasks: list[Row], grace_seconds: int, events) -> list[Row]:
        """Register RUNNING tasks, stop the drained ones, take out those that fail their
        health checks (said in `events`); the tasks that still count (not on their way
        out)."""
        counting = []
        for task in tasks:
            leaving = self.deregistering(task)
            if leaving is None and task.last_status == "RUNNING":
                failing = self.failed_health_checks(task, grace_seconds)
                if failing is None:
                    self.register(task)
                    counting.append(task)
                    continue
                events.add(f"(task {task.arn.rsplit('/', 1)[1]}) failed ELB health checks "
                           f"in (target-group {failing})")
                leaving = {"reason": f"Task failed ELB health checks in (target-group "
                                     f"{failing})", "stopCode": "ServiceSchedulerInitiated"}
                self.deregister(task, leaving["reason"], leaving["stopCode"])
            if leaving is None:
                counting.append(task)
            elif self.drained(task):
                request_stop(self.ctx, self.conn, self.full(task), leaving["reason"],
                             leaving["stopCode"], self.now)
        return counting

    def deregistering(self, task: Row) -> dict | None:
        return self.tasks[task.arn].doc.get(DEREGISTERING) if task.arn in self.tasks else None

    def register(self, task: Row) -> None:
        """Make a RUNNING task a target of every group (again, if it had been removed)."""
        for key in self.keys.get(task.arn, []):
            if key not in self.rows and self.groups.get(key[0]) is not None:
                tg_store.add_target(self.conn, key[0], key[1], key[2], None, self.now,
                                    "initial", "Elb.RegistrationInProgress",
                                    "Target registration is in progress")
                self.changed = True

    def healthy(self, task: Row) -> bool:
        keys = self.keys.get(task.arn, [])
        return len(keys) == len(self.entries) and all(
            (row := self.rows.get(key)) is not None and row.state == "registered"
            and row.health_state == "healthy" for key in keys)

    def unreachable_instances(self) -> frozenset[str]:
        """The container instances where this service's targets time out or refuse
        connections: the load balancer cannot reach that host (its zone is cut off, say),
        so a replacement must not go there."""
        return frozenset(
            self.instance_of[row.target_id] for row in self.rows.values()
            if row.health_state == "unhealthy" and row.target_id in self.instance_of
            and row.health_reason in ("Target.Timeout", "Target.FailedHealthChecks"))

    def failed_health_checks(self, task: Row, grace_seconds: int) -> str | None:
        """The target group whose checks the task keeps failing, past the grace period."""
        started = task.started_at
        if started is None or (self.now - started).total_seconds() < grace_seconds:
            return None
        for key in self.keys.get(task.arn, []):
            row = self.rows.get(key)
            if row is not None and row.state == "registered" and \
                    row.health_state == "unhealthy":
                return key[0]
        return None

    def deregister(self, task: Row, reason: str, stop_code: str) -> bool:
        """Start taking the task out; False when it has no target (stop it at once)."""
        full = self.tasks[task.arn]
        present = [self.rows[k] for k in self.keys.get(task.arn, []) if k in self.rows]
        if not present:
            return False
        for row in present:
            if row.state == "registered":
                delay = int(self.groups[row.target_group_arn].doc["Attributes"][
                    "deregistration_delay.timeout_seconds"])
                tg_store.update_target(self.conn, row.id, state="draining",
                                       drain_ends_at=self.now + timedelta(seconds=delay))
                self.changed = True
        if DEREGISTERING not in full.doc:
            doc = {**full.doc, DEREGISTERING: {"reason": reason, "stopCode": stop_code}}
            task_store.save(self.conn, full.arn, doc=doc)
            self.tasks[full.arn] = full._replace(doc=doc)
        return True

    def drained(self, task: Row) -> bool:
        rows = [self.rows[k] for k in self.keys.get(task.arn, []) if k in self.rows]
        return all(r.drain_ends_at is not None and r.drain_ends_at <= self.now for r in rows)

    def full(self, task: Row) -> Row:
        return self.tasks[task.arn]

    def finish(self) -> None:
        if self.changed:
            lb_store.bump_generation(self.conn)
