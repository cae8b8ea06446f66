"""The service controller: keeps each service's tasks matching what it asks for.

Every pass looks at a service's deployments (the PRIMARY one wants desiredCount
tasks of its task definition; older ones should fade out) and at its live
tasks, then starts and stops tasks within the rolling bounds of
controllers/rolling.py. It writes only desired state (new tasks, desired
status STOPPED); the agents do the rest and their reports wake it again.
Everything it decides is in the store, so a restarted control plane picks up
a deployment exactly where it was.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, Row

from nozama.kernel.context import RequestContext
from nozama.controllers import traffic_shift, zone_waves
from nozama.controllers.rolling import Step, circuit_breaker_threshold, rolling_step
from nozama.controllers.service_targets import ServiceTargets
from nozama.controllers.tasks import create_tasks, refresh_instance, request_stop
from nozama.kernel.intervals import scaled
from nozama.model.resources import requirements
from nozama.controllers.cluster_state import cluster_state
from nozama.scheduler.placement import PlacementRequest, place
from nozama.store import alarms as alarm_store
from nozama.store import clusters as cluster_store
from nozama.store import container_instances as instance_store
from nozama.store import services as store
from nozama.store import task_definitions as task_definition_store
from nozama.store import tags as tag_store
from nozama.store import tasks as task_store

log = logging.getLogger(__name__)

MAX_EVENTS = 100
# How long a task must have been RUNNING before it counts as healthy.
STABLE_SECONDS = scaled(3.0)
FAILED_START_CODES = ("TaskFailedToStart", "EssentialContainerExited")
_wakeup: asyncio.Event | None = None


def wake_controller() -> None:
    """Something changed: run a pass now instead of at the next tick."""
    if _wakeup is not None:
        _wakeup.set()


def new_deployment(service: dict, task_definition: str, desired: int, now: datetime) -> dict:
    """A new PRIMARY deployment of `service` (its doc); its history record is made too.

    Members starting with "_" are Nozama's own bookkeeping for the service deployment
    (ListServiceDeployments) and service revision it stands for."""
    number = uuid.uuid4().int % 10 ** 19
    base = service["serviceArn"].replace(":service/", ":{kind}/", 1)
    deployment = {
        "id": f"ecs-svc/{number:019d}", "status": "PRIMARY",
        "taskDefinition": task_definition, "desiredCount": desired, "pendingCount": 0,
        "runningCount": 0, "failedTasks": 0, "createdAt": now.timestamp(),
        "updatedAt": now.timestamp(), "launchType": service.get("launchType", "EC2"),
        "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment in progress.",
        "_arn": base.format(kind="service-deployment") + f"/{number:019d}",
        "_revisionArn": base.format(kind="service-revision") + f"/{number:019d}",
        "_status": "IN_PROGRESS",
        "_sources": [d["_revisionArn"] for d in service.get("deployments", [])
                     if "_revisionArn" in d],
        "_configuration": service.get("deploymentConfiguration", {}),
    }
    revisions = service.setdefault("_revisions", {})
    revisions[deployment["_revisionArn"]] = {
        "serviceRevisionArn": deployment["_revisionArn"], "serviceArn": service["serviceArn"],
        "clusterArn": service["clusterArn"], "taskDefinition": task_definition,
        "launchType": deployment["launchType"],
        "loadBalancers": service.get("loadBalancers", []), "serviceRegistries": [],
        "createdAt": now.timestamp()}
    record(service, deployment)
    return deployment


def record(service: dict, deployment: dict) -> None:
    """Keep the deployment's history record (the newest 50 per service)."""
    history = service.setdefault("_history", {})
    history[deployment["_arn"]] = {k: v for k, v in deployment.items()}
    for arn in list(history)[:-50]:
        del history[arn]


def supersede(service: dict, now: datetime) -> None:
    """A newer deployment takes over: unfinished older ones are STOPPED."""
    for deployment in service["deployments"]:
        deployment["status"] = "ACTIVE"
        if deployment.get("_status") == "IN_PROGRESS":
            deployment.update(_status="STOPPED", _stoppedAt=now.timestamp(),
                              _reason="Superseded by a newer deployment.")
            record(service, deployment)


async def run(make_context, interval: float = scaled(1.0)) -> None:
    """The controller loop of the server process."""
    global _wakeup
    _wakeup = asyncio.Event()
    while True:
        try:
            await asyncio.wait_for(_wakeup.wait(), interval)
        except asyncio.TimeoutError:
            pass
        _wakeup.clear()
        try:
            reconcile_all(make_context)
        except Exception:  # a bad pass must not end the loop
            log.exception("service controller pass failed")


def reconcile_all(make_context) -> None:
    probe = make_context("us-east-1")
    with probe.store.read() as conn:
        arns = [(row.region, row.arn) for row in store.live(conn)]
    for region, arn in arns:
        ctx = make_context(region)
        try:
            with ctx.store.write() as conn:
                row = store.get(conn, arn)
                if row is not None and row.status != "INACTIVE":
                    Pass(ctx, conn, row).run()
        except Exception:  # one service's trouble must not hold up the others
            log.exception("reconciling %s failed", arn)


class Pass:
    """One reconciliation of one service, inside one transaction."""

    def __init__(self, ctx: RequestContext, conn: Connection, service: Row):
        self.ctx, self.conn, self.service = ctx, conn, service
        self.doc = copy.deepcopy(service.doc)
        self.name = service.name
        self.now = ctx.clock.now()
        self.cluster = cluster_store.get(conn, service.region, service.account,
                                         service.cluster_arn.rsplit("/", 1)[1])

    def run(self) -> None:
        primary = self.doc["deployments"][0]
        tasks = task_store.live_of_service(self.conn, self.service.cluster_arn, self.name)
        self.live = tasks  # with those on their way out (draining from load balancers)
        self.targets = None
        self.shift = None
        self.wave_zone, self.wave_stop = None, []
        if primary.get("_stage") not in (None, traffic_shift.DONE):
            blue = next((d for d in self.doc["deployments"][1:]
                         if d["id"] == primary.get("_blue")), None)
            self.shift = traffic_shift.TrafficShift(self, primary, blue)
        if self.doc.get("loadBalancers"):
            groups_of = {d["id"]: d["_groups"] for d in self.doc["deployments"]
                         if d.get("_groups")}
            self.targets = ServiceTargets(self.conn, self.doc["loadBalancers"],
                                          self.service.cluster_arn, tasks, self.now, groups_of)
            tasks = self._behind_load_balancers(tasks)
        draining = self._draining_instances()
        mine = [t for t in tasks if t.deployment_id == primary["id"]
                and t.container_instance_arn not in draining]
        old = [t for t in tasks if t not in mine]
        self._count_failures(primary)
        definition = task_definition_store.get_by_arns(self.conn, [primary["taskDefinition"]])[
            primary["taskDefinition"]]
        breaker = self.doc["deploymentConfiguration"].get("deploymentCircuitBreaker", {})
        # The stability window guards the decisions a crash just after start would make
        # wrong: stopping old tasks for their replacements, and completing a deployment
        # the circuit breaker must still be able to fail. With neither at stake, a
        # RUNNING task (passing its health checks) is healthy at once.
        stable_for = STABLE_SECONDS if old or breaker.get("enable") else 0.0
        healthy = [t for t in mine if _healthy(t, definition.doc, self.now, stable_for)
                   and (self.targets is None or self.targets.healthy(t))]
        old_healthy = [t for t in old if t.last_status == "RUNNING"]
        configuration = self.doc["deploymentConfiguration"]
        if self.shift is not None:
            step = self.shift.step(mine, healthy, old)
            hook = self.shift.failed_hook()
            if hook is not None:
                self._fail(primary, f"ECS deployment failed: lifecycle hook {hook} failed.",
                           f"lifecycle hook {hook} failed", f"Lifecycle hook {hook} failed.",
                           True)
            elif self.shift.failure is not None:
                self._fail(primary, f"ECS deployment failed: {self.shift.failure}",
                           self.shift.failure.rstrip("."), self.shift.failure, True)
        else:
            # (The tags, Nozama's options, are read only where waves could apply.)
            tags = tag_store.get(self.conn, self.service.arn) if (
                old or "_waves" in primary) and not primary.get("_rollbackOf") else {}
            if zone_waves.enabled(tags):
                step = self._wave_step(primary, tags, mine, healthy, old)
            else:
                step = rolling_step(primary["desiredCount"],
                                    configuration["minimumHealthyPercent"],
                                    configuration["maximumPercent"], len(mine), len(healthy),
                                    len(old), len(old_healthy))
        if self.doc["deployments"][0] is primary and (
                self._tripped(primary, breaker) or self._alarmed(primary)):
            step = rolling_step(0, 0, 100, 0, 0, 0, 0)
        if self.doc["deployments"][0] is not primary:
            # Rolled back: the next pass works for the rollback deployment.
            self._save()
            wake_controller()
            return
        if step.start and self._throttled(primary):
            self._event(f"(service {self.name}) is unable to consistently start tasks "
                        "successfully. For more information, see the Troubleshooting section "
                        "of the Amazon ECS Developer Guide.", once=True)
        elif step.start:
            self._start(primary, definition, step.start, self.wave_zone)
        if step.stop_old:
            self._stop(self.wave_stop or _stop_order(old, draining)[:step.stop_old], primary)
        if step.stop_primary:
            self._stop(self._scale_in_order(self._with_docs(mine))[:step.stop_primary], primary)
        if self.targets is not None:
            self.targets.finish()
        self._update_counts(primary, mine, old)
        self._finish(primary, mine, healthy, old, definition)
        self._save()

    def _save(self) -> None:
        for deployment in self.doc["deployments"]:
            record(self.doc, deployment)
        if self.doc != self.service.doc:
            store.save(self.conn, self.service.arn, doc=self.doc)

    # ------------------------------------------------------------ decisions

    def _draining_instances(self) -> set[str]:
        rows = instance_store.scan(self.conn, self.service.cluster_arn, ("DRAINING",), None,
                                   100000)
        return {r.arn for r in rows}

    def _wave_step(self, primary: dict, tags: dict, mine: list[Row], healthy: list[Row],
                   old: list[Row]) -> Step:
        """A rolling deployment in zone waves (controllers/zone_waves.py)."""
        zones = {t.arn: t.doc.get("availabilityZone") for t in self._with_docs(mine + old)}

        def zone_of(task: Row) -> str | None:
            return zones.get(task.arn)
        wave = primary.get("_wave")
        if "_waves" not in primary:
            zone_waves.start(primary, [zone_of(t) for t in old])
        count, self.wave_zone, self.wave_stop = zone_waves.step(
            primary, self.now.timestamp(), zone_waves.bake_seconds(tags), mine, healthy, old,
            zone_of)
        if primary["_wave"] != wave and primary["_wave"] < len(primary["_waves"]):
            zone, target = primary["_waves"][primary["_wave"]]
            self._event(f"(service {self.name}) (deployment {primary['id']}) zone wave "
                        f"{primary['_wave'] + 1} of {len(primary['_waves'])}: {zone}, "
                        f"{target} task{'s' if target != 1 else ''}.")
        return Step(count, len(self.wave_stop), 0)

    def _start(self, primary: dict, definition: Row, count: int,
               zone: str | None = None) -> None:
        constraints = list(self.doc.get("placementConstraints") or [])
        if zone is not None:
            constraints.append({"type": "memberOf",
                                "expression": f"attribute:ecs.availability-zone == {zone}"})
        result = place(cluster_state(self.conn, self.service.cluster_arn), PlacementRequest(
            count, requirements(definition.doc), f"service:{self.name}",
            constraints=constraints,
            strategies=self.doc.get("placementStrategy") or None,
            task_definition=definition.doc, launch_type=self.doc.get("launchType", "EC2"),
            service=True))
        placed, failures = result.instance_arns, result.failures
        if placed:
            params = {"startedBy": primary["id"], "group": f"service:{self.name}",
                      "launchType": self.doc.get("launchType", "EC2")}
            created = create_tasks(self.ctx, self.conn, self.cluster, definition, placed,
                                   params, {}, service=self.name, deployment_id=primary["id"])
            ids = " ".join(f"(task {t['taskArn'].rsplit('/', 1)[1]})" for t in created)
            self._event(f"(service {self.name}) has started {len(created)} tasks: {ids}.")
        if len(placed) < count:
            reason = failures[0]["reason"] if failures else "no container instance is ACTIVE"
            self._event(f"(service {self.name}) was unable to place a task because no container "
                        f"instance met all of its requirements. Reason: {reason}.", once=True)

    def _with_docs(self, tasks: list[Row]) -> list[Row]:
        """The full rows of tasks the pass read without their documents."""
        full = {t.arn: t for t in task_store.get_many(self.conn, self.service.cluster_arn,
                                                       [t.arn for t in tasks])}
        return [full[t.arn] for t in tasks]

    def _behind_load_balancers(self, tasks: list[Row]) -> list[Row]:
        """Register RUNNING tasks, stop the drained ones, take out those that fail their
        health checks; the tasks that still count (not on their way out)."""
        targets, counting = self.targets, []
        grace = self.doc.get("healthCheckGracePeriodSeconds", 0)
        for task in tasks:
            leaving = targets.deregistering(task)
            if leaving is None and task.last_status == "RUNNING":
                failing = targets.failed_health_checks(task, grace)
                if failing is None:
                    targets.register(task)
                    counting.append(task)
                    continue
                self._event(f"(service {self.name}) (task {task.arn.rsplit('/', 1)[1]}) failed "
                            f"ELB health checks in (target-group {failing})")
                leaving = {"reason": f"Task failed ELB health checks in (target-group "
                                     f"{failing})", "stopCode": "ServiceSchedulerInitiated"}
                targets.deregister(task, leaving["reason"], leaving["stopCode"])
            if leaving is None:
                counting.append(task)
            elif targets.drained(task):
                request_stop(self.conn, targets.full(task), leaving["reason"],
                             leaving["stopCode"], self.now)
        return counting

    def _stop(self, tasks: list[Row], primary: dict) -> None:
        reason = f"Scaling activity initiated by (deployment {primary['id']})"
        stopping = []
        for task in self._with_docs(tasks):
            # Behind a load balancer, a task is deregistered and drained before it stops.
            if self.targets is not None and self.targets.deregister(
                    task, reason, "ServiceSchedulerInitiated"):
                continue
            request_stop(self.conn, task, reason, "ServiceSchedulerInitiated", self.now,
                         refresh=False)
            stopping.append(task)
        for instance in {t.container_instance_arn for t in stopping
                         if t.container_instance_arn}:
            refresh_instance(self.conn, instance)
        if stopping:
            ids = " ".join(f"(task {t.arn.rsplit('/', 1)[1]})" for t in stopping)
            self._event(f"(service {self.name}) has stopped {len(stopping)} running tasks: "
                        f"{ids}.")
        if len(stopping) < len(tasks):
            self._event(f"(service {self.name}) has begun draining connections on "
                        f"{len(tasks) - len(stopping)} tasks.")

    def _scale_in_order(self, tasks: list[Row]) -> list[Row]:
        """Tasks to stop first when scaling in: from the zone that has the most."""
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

    # ------------------------------------------------------------ bookkeeping

    def _count_failures(self, primary: dict) -> None:
        failures = task_store.failures_of_deployment(self.conn, self.service.cluster_arn,
                                                     primary["id"], FAILED_START_CODES)
        primary["failedTasks"] = failures.failed
        self.last_failure = failures.last_stopped_at

    def _throttled(self, primary: dict) -> bool:
        """Like ECS's service throttle: after repeated failures, wait longer and longer
        (5 s doubling, at most 5 minutes) before starting tasks again."""
        failures = primary["failedTasks"]
        if failures < 3 or self.last_failure is None:
            return False
        delay = min(300.0, 5.0 * 2 ** (failures - 3))
        waited = (self.now - self.last_failure).total_seconds()
        return waited < delay

    def _tripped(self, primary: dict, breaker: dict) -> bool:
        """Apply ECS's deployment circuit breaker; True when this deployment has failed."""
        if primary["rolloutState"] == "FAILED":
            return True
        threshold = circuit_breaker_threshold(primary["desiredCount"])
        if not breaker.get("enable") or primary["rolloutState"] != "IN_PROGRESS" or \
                primary["failedTasks"] < threshold:
            return False
        return self._fail(primary, f"ECS deployment circuit breaker: tasks failed to start. "
                                   f"({primary['failedTasks']} failed, threshold {threshold})",
                          "tasks failed to start", "Circuit breaker: tasks failed to start.",
                          breaker.get("rollback"))

    def _alarmed(self, primary: dict) -> bool:
        """Apply deploymentConfiguration.alarms: an alarm that goes to ALARM while the
        deployment is in progress (bake time included) fails it. An alarm that was
        already in ALARM when the deployment began is not this deployment's doing."""
        config = self.doc["deploymentConfiguration"].get("alarms") or {}
        if not config.get("enable") or primary["rolloutState"] != "IN_PROGRESS" or \
                primary.get("_rollbackOf") or not config.get("alarmNames"):
            return False
        fired = [row.name for row in alarm_store.search(
            self.conn, self.service.region, self.service.account, names=config["alarmNames"],
            state="ALARM") if row.doc["StateTransitionedTimestamp"] >= primary["createdAt"]]
        if not fired:
            return False
        names = ", ".join(fired)
        return self._fail(primary, f"ECS deployment failed: alarm(s) {names} went to ALARM.",
                          f"alarm(s) {names} went to ALARM",
                          f"Alarm(s) {names} went to ALARM.", config.get("rollback"))

    def _fail(self, primary: dict, reason: str, short: str, rollback_reason: str,
              rollback: bool) -> bool:
        """The deployment failed: roll back to the last completed one when asked (False:
        the rollback deployment goes on), else stop where it is (True)."""
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = reason
        self._event(f"(service {self.name}) (deployment {primary['id']}) deployment failed: "
                    f"{short}.")
        if self.shift is not None and self.shift.blue is not None:
            # Blue still runs: traffic-shifted deployments always go back to it.
            self.return_to_blue(primary, rollback_reason)
            return False
        previous = next((d for d in self.doc["deployments"][1:]
                         if d.get("rolloutState") == "COMPLETED"), None)
        if rollback and previous is not None:
            self.roll_back(primary, previous, rollback_reason)
            return False
        primary.update(_status="STOPPED", _stoppedAt=self.now.timestamp(), _reason=reason)
        return True

    def roll_back(self, failed: dict, previous: dict, reason: str) -> None:
        """Return the service to the revision of a deployment that completed."""
        failed.update(_status="ROLLBACK_IN_PROGRESS", _reason=reason, _rollback={
            "reason": reason, "startedAt": self.now.timestamp(),
            "serviceRevisionArn": previous["_revisionArn"]})
        rollback = new_deployment(self.doc, previous["taskDefinition"], failed["desiredCount"],
                                  self.now)
        rollback["rolloutStateReason"] = f"Rolling back to {previous['taskDefinition']}."
        rollback["_rollbackOf"] = failed["_arn"]
        if previous.get("_groups"):
            rollback["_groups"] = previous["_groups"]  # where production traffic goes
        failed["status"] = "ACTIVE"
        self.doc["deployments"].insert(0, rollback)
        self.doc["taskDefinition"] = previous["taskDefinition"]
        self._event(f"(service {self.name}) (deployment {failed['id']}) deployment failed; "
                    f"rolling back to {previous['taskDefinition']}.")

    def return_to_blue(self, failed: dict, reason: str) -> None:
        """Roll a traffic-shifted deployment back: all traffic to blue now, blue primary
        again; green drains and stops as the older deployment it has become."""
        blue = self.shift.blue
        self.shift.roll_back()
        failed.update(status="ACTIVE", _status="ROLLBACK_IN_PROGRESS", _reason=reason,
                      _stage=traffic_shift.DONE, _rollback={
                          "reason": reason, "startedAt": self.now.timestamp(),
                          "serviceRevisionArn": blue["_revisionArn"]})
        self.doc["deployments"].remove(blue)
        self.doc["deployments"].insert(0, blue)
        blue.update(status="PRIMARY", _rollbackOf=failed["_arn"])
        self.doc["taskDefinition"] = blue["taskDefinition"]
        self._event(f"(service {self.name}) (deployment {failed['id']}) deployment failed; "
                    f"all traffic is back on {blue['taskDefinition']}.")

    def stop_and_roll_back(self, reason: str) -> None:
        """StopServiceDeployment with ROLLBACK, for the deployment in progress."""
        primary = self.doc["deployments"][0]
        primary.update(rolloutState="FAILED", rolloutStateReason="Stopped by the user.")
        blue = next((d for d in self.doc["deployments"][1:] if d["id"] == primary.get("_blue")),
                    None)
        if primary.get("_stage") not in (None, traffic_shift.DONE) and blue is not None:
            self.shift = traffic_shift.TrafficShift(self, primary, blue)
            self.return_to_blue(primary, reason)
            return
        previous = next((d for d in self.doc["deployments"][1:]
                         if d.get("rolloutState") == "COMPLETED"), None)
        if previous is None:
            raise LookupError("There is no completed deployment to roll back to.")
        self.roll_back(primary, previous, reason)

    def _update_counts(self, primary: dict, mine: list[Row], old: list[Row]) -> None:
        primary["runningCount"] = sum(t.last_status == "RUNNING" for t in mine)
        primary["pendingCount"] = sum(t.last_status != "RUNNING" for t in mine)
        for deployment in self.doc["deployments"][1:]:
            theirs = [t for t in old if t.deployment_id == deployment["id"]]
            deployment["runningCount"] = sum(t.last_status == "RUNNING" for t in theirs)
            deployment["pendingCount"] = sum(t.last_status != "RUNNING" for t in theirs)

    def _finish(self, primary: dict, mine: list[Row], healthy: list[Row], old: list[Row],
                definition: Row) -> None:
        if self.service.status == "DRAINING":
            # Tasks still draining from a load balancer count: an INACTIVE service is no
            # longer reconciled, and nothing else would stop them.
            if not self.live:
                store.save(self.conn, self.service.arn, status="INACTIVE")
            return
        steady = len(healthy) == primary["desiredCount"] == len(mine) and not old
        if not steady:
            return
        if primary["rolloutState"] == "IN_PROGRESS" and self._baking(primary):
            return
        if primary["rolloutState"] == "IN_PROGRESS":
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = "ECS deployment completed."
            primary["updatedAt"] = self.now.timestamp()
            primary.update(_status="SUCCESSFUL", _finishedAt=self.now.timestamp())
            self._event(f"(service {self.name}) (deployment {primary['id']}) deployment "
                        "completed.")
        failed = self.doc.get("_history", {}).get(primary.pop("_rollbackOf", None))
        if failed is not None and failed["_status"] == "ROLLBACK_IN_PROGRESS":
            failed.update(_status="ROLLBACK_SUCCESSFUL", _finishedAt=self.now.timestamp())
        # Older deployments have no tasks left: they are history now.
        self.doc["deployments"] = [primary]
        if not self.doc.get("_steady"):
            self._event(f"(service {self.name}) has reached a steady state.")
        self.doc["_steady"] = True

    def _baking(self, primary: dict) -> bool:
        """With alarms watching, a steady deployment bakes for bakeTimeInMinutes before it
        completes: its alarms can still fail it, and the previous revision is kept to roll
        back to."""
        configuration = self.doc["deploymentConfiguration"]
        bake = configuration.get("bakeTimeInMinutes") or 0
        if not bake or not (configuration.get("alarms") or {}).get("enable") or \
                primary.get("_rollbackOf"):
            return False
        if "_steadyAt" not in primary:
            primary["_steadyAt"] = self.now.timestamp()
            self._event(f"(service {self.name}) (deployment {primary['id']}) is baking for "
                        f"{bake} minutes.")
        return self.now.timestamp() < primary["_steadyAt"] + bake * 60

    def _event(self, message: str, once: bool = False) -> None:
        events = self.doc["events"]
        if once and events and events[-1]["message"] == message:
            return
        if not message.endswith("steady state."):
            self.doc["_steady"] = False
        events.append({"id": str(uuid.uuid4()), "createdAt": self.now.timestamp(),
                       "message": message})
        del events[:-MAX_EVENTS]


def _healthy(task: Row, definition: dict, now: datetime, stable_for: float) -> bool:
    """RUNNING for `stable_for` seconds, and passing its container health checks if
    it has any.

    A container that starts and dies at once is RUNNING for an instant: counting it
    healthy then would let a bad revision replace a good one and call it complete."""
    if task.last_status != "RUNNING":
        return False
    if task.started_at is None or (now - task.started_at).total_seconds() < stable_for:
        return False
    checked = any(c.get("healthCheck") for c in definition["containerDefinitions"])
    return task.health_status == "HEALTHY" if checked else task.health_status != "UNHEALTHY"


def _stop_order(tasks: list[Row], draining: set[str]) -> list[Row]:
    """Old tasks to stop first: not yet running, then on draining instances, then the rest."""
    return sorted(tasks, key=lambda t: (t.last_status == "RUNNING",
                                        t.container_instance_arn not in draining))
