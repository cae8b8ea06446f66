"""The service controller: keeps each service's tasks matching what it asks for.

Every pass looks at a service's deployments (the PRIMARY one wants desiredCount
tasks of its task definition; older ones should fade out) and at its live
tasks, then starts and stops tasks within the bounds of the deployment's
strategy. It writes only desired state (new tasks, desired status STOPPED); the
agents do the rest and their reports wake it again. Everything it decides is in
the store — the service's document and its DeploymentState — so a restarted
control plane picks up a deployment exactly where it was.

One pass (ServicePass.run), concern by concern:
  load balancer registration   service_targets.py (ServiceTargets.sort_out)
  tasks whose agents are gone  here (_replace_unreachable)
  deployment strategy          rolling.py, zone_waves.py, traffic_shift.py; daemon.py
                               for DAEMON services (one task per instance)
  zone rebalancing             zone_rebalancing.py
  circuit breaker and alarms   circuit_breaker.py
  placement, starting/stopping service_placement.py
  counts and completion        here (_update_counts, _finish)
  failing and rolling back     deployment_outcomes.py
  events                       service_events.py
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime

from sqlalchemy import Connection, Row

from nozama.controllers import circuit_breaker, traffic_shift, zone_waves
from nozama.controllers import daemon as daemon_service
from nozama.controllers.deployment_outcomes import DeploymentOutcomes
from nozama.controllers.notify import controller_wait, wake_controller
from nozama.controllers.rolling import Step, rolling_step
from nozama.controllers.service_events import ServiceEvents
from nozama.controllers.service_placement import (draining_instances, scale_in_order,
                                                  start_tasks, start_tasks_on, stop_order,
                                                  stop_tasks, with_docs)
from nozama.controllers.service_targets import ServiceTargets
from nozama.controllers.tasks import request_stop
from nozama.controllers.zone_rebalancing import Rebalance, ZoneRebalancing
from nozama.kernel.context import RequestContext
from nozama.kernel.intervals import scaled
from nozama.model.deployment_state import DeploymentState
from nozama.store import clusters as cluster_store
from nozama.store import container_instances as instance_store
from nozama.store import services as service_store
from nozama.store import tags as tag_store
from nozama.store import task_definitions as task_definition_store
from nozama.store import tasks as task_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

# How long a task must have been RUNNING before it counts as healthy.
STABLE_SECONDS = scaled(3.0)


async def run(make_context, interval: float = scaled(1.0)) -> None:
    """The controller loop of the server process."""
    wakeups = make_context("us-east-1").wakeups
    while True:
        await controller_wait(wakeups, interval)
        try:
            reconcile_all(make_context)
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:  # a bad pass must not end the loop
            log.exception("service controller pass failed")


def reconcile_all(make_context) -> None:
    probe = make_context("us-east-1")
    with probe.store.read() as conn:
        arns = [(row.region, row.cluster_arn, row.arn) for row in service_store.live(conn)]
    for region, cluster_arn, arn in arns:
        ctx = make_context(region)
        try:
            with ctx.store.write() as conn:
                # The cluster, then the service: the lock order of every ECS write, so an
                # UpdateService or a RunTask on another server waits for this pass (and
                # this pass for them) instead of one undoing the other's write.
                cluster_store.lock(conn, cluster_arn)
                row = service_store.get(conn, arn, lock=True)
                if row is not None and row.status != "INACTIVE":
                    ServicePass(ctx, conn, row).run()
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:  # one service's trouble must not hold up the others
            log.exception("reconciling %s failed", arn)


class ServicePass:
    """One reconciliation of one service, inside one transaction."""

    def __init__(self, ctx: RequestContext, conn: Connection, service: Row):
        self.ctx, self.conn, self.service = ctx, conn, service
        self.doc = copy.deepcopy(service.doc)
        self.state = DeploymentState.from_json(service.deployment_state)
        self.name = service.name
        self.now = ctx.clock.now()
        self.events = ServiceEvents(self.doc, self.state, self.name, self.now)
        self.outcomes = DeploymentOutcomes(self.doc, self.state, self.events, self.now)
        self.cluster = cluster_store.get(conn, service.region, service.account,
                                         service.cluster_arn.rsplit("/", 1)[1])

    @property
    def primary(self) -> dict:
        return self.doc["deployments"][0]

    @property
    def daemon(self) -> bool:
        return self.doc.get("schedulingStrategy") == "DAEMON"

    def traffic_shift(self) -> traffic_shift.TrafficShift | None:
        """The traffic shift the primary deployment is in the middle of, if it is."""
        rollout = self.state.of(self.primary)
        if not rollout.shifting:
            return None
        blue = self.state.find(rollout.blue)
        if blue is not None and not any(d["id"] == blue.id for d in self.doc["deployments"]):
            blue = None
        return traffic_shift.TrafficShift.of(
            self.conn, self.doc, self.primary, rollout, blue, self.events,
            self.now.timestamp(), self.service.region, self.service.account, self.ctx.calls)

    def run(self) -> None:
        primary = self.primary
        rollout = self.state.of(primary)
        tasks = task_store.live_of_service(self.conn, self.service.cluster_arn, self.name)
        live = tasks  # with those on their way out (draining from load balancers)
        shift = self.traffic_shift()
        targets = self._targets(tasks)
        if targets is not None:
            tasks = targets.sort_out(tasks, self.doc.get("healthCheckGracePeriodSeconds", 0),
                                     self.events)
        if not self.daemon:
            tasks = self._replace_unreachable(tasks, targets)
        draining = draining_instances(self.conn, self.service.cluster_arn)
        mine = [t for t in tasks if t.deployment_id == primary["id"]
                and t.container_instance_arn not in draining]
        old = [t for t in tasks if t not in mine]
        failed_tasks = circuit_breaker.FailedTasks(self.conn, self.service.cluster_arn,
                                                   primary)
        primary["failedTasks"] = failed_tasks.count
        definition = task_definition_store.get_by_arns(self.conn, [primary["taskDefinition"]])[
            primary["taskDefinition"]]
        configuration = self.doc["deploymentConfiguration"]
        breaker = configuration.get("deploymentCircuitBreaker", {})
        # The stability window guards the decisions a crash just after start would make
        # wrong: stopping old tasks for their replacements, and completing a deployment
        # the circuit breaker must still be able to fail. With neither at stake, a
        # RUNNING task (passing its health checks) is healthy at once.
        stable_for = STABLE_SECONDS if old or breaker.get("enable") else 0.0
        healthy = [t for t in mine if healthy_task(t, definition.doc, self.now, stable_for)
                   and (targets is None or targets.healthy(t))]
        waves, daemon = None, None
        if self.daemon:
            daemon = self._daemon_step(primary, definition, mine, healthy, old, targets)
            step = Step(0, 0, 0)
        elif shift is not None:
            step = self._shift_step(shift, mine, healthy, old)
        else:
            waves = self._waves(primary, rollout, mine, old)
            step = waves.step(mine, healthy, old) if waves is not None else rolling_step(
                primary["desiredCount"], configuration["minimumHealthyPercent"],
                configuration["maximumPercent"], len(mine), len(healthy), len(old),
                sum(t.last_status == "RUNNING" for t in old))
            if waves is None:
                waves = ZoneRebalancing(self.conn, self.service.cluster_arn, self.doc,
                                        self.state, self.events).step(mine, healthy,
                                                                      definition.doc)
                step = waves.step if waves is not None else step
        if self.primary is primary and self._stopped(primary, rollout, breaker, shift):
            step, daemon = Step(0, 0, 0), None
        if self.primary is not primary:
            # Rolled back: the next pass works for the rollback deployment.
            self._save()
            wake_controller(self.ctx.wakeups)
            return
        if daemon is not None:
            self._act_daemon(primary, definition, daemon, mine + old, targets, failed_tasks)
        self._act(primary, definition, step, mine, old, draining, targets, failed_tasks,
                  waves)
        if shift is not None:
            self._size_blue(shift, old, draining, targets)
        if targets is not None:
            targets.finish()
        self._update_counts(primary, mine, old)
        self._finish(primary, rollout, mine, healthy, old, live)
        self._save()

    # ------------------------------------------------------------ concerns

    def _targets(self, tasks: list[Row]) -> ServiceTargets | None:
        """The service's tasks in its load balancers, each deployment in its own groups."""
        if not self.doc.get("loadBalancers"):
            return None
        groups_of = {d["id"]: r.groups for d in self.doc["deployments"]
                     if (r := self.state.find(d["id"])) is not None and r.groups}
        return ServiceTargets(self.ctx, self.conn, self.doc["loadBalancers"],
                              self.service.cluster_arn, tasks, self.now, groups_of)

    def _daemon_step(self, primary: dict, definition: Row, mine: list[Row],
                     healthy: list[Row], old: list[Row],
                     targets: ServiceTargets | None) -> daemon_service.DaemonStep:
        """A DAEMON service's step (controllers/daemon.py); it sets the desiredCount the
        circuit breaker and completion read."""
        tasks = [daemon_service.DaemonTask(t.arn, t.container_instance_arn, True, t in healthy)
                 for t in mine]
        tasks += [daemon_service.DaemonTask(
            t.arn, t.container_instance_arn, t.deployment_id == primary["id"],
            t.last_status == "RUNNING" and (targets is None or targets.healthy(t)))
            for t in old]
        if self.service.status == "DRAINING":
            step = daemon_service.DaemonStep(0, (), tuple(t.arn for t in tasks))
        else:
            instances = daemon_service.DaemonInstances.load(
                self.conn, self.service.cluster_arn, self.doc, definition.doc,
                {t.container_instance_arn for t in mine + old if t.container_instance_arn})
            step = daemon_service.daemon_step(
                instances, tasks, self.doc["deploymentConfiguration"]["minimumHealthyPercent"])
        primary["desiredCount"] = step.desired
        return step

    def _act_daemon(self, primary: dict, definition: Row, step: daemon_service.DaemonStep,
                    tasks: list[Row], targets: ServiceTargets | None,
                    failed_tasks: circuit_breaker.FailedTasks) -> None:
        if step.stop:
            chosen = [t for t in tasks if t.arn in set(step.stop)]
            stop_tasks(self.ctx, self.conn, with_docs(self.conn, self.service.cluster_arn,
                                                      chosen), primary, targets, self.now,
                       self.events)
        if step.start_on and failed_tasks.throttled(self.now):
            self.events.add("is unable to consistently start tasks successfully. For more "
                            "information, see the Troubleshooting section of the Amazon ECS "
                            "Developer Guide.", once=True)
        elif step.start_on:
            start_tasks_on(self.ctx, self.conn, self.cluster, self.doc, primary, definition,
                           list(step.start_on), self.events)

    def _replace_unreachable(self, tasks: list[Row],
                             targets: ServiceTargets | None) -> list[Row]:
        """Stop (desired state only) the tasks whose agents are gone, so that they are
        replaced on instances that answer; the tasks that still count.

        An instance is disconnected once its agent has been silent for AGENT_TIMEOUT
        (controllers/agents.py). Its tasks may still run — a zone cut off from the
        control plane, or an agent restarting — or not. Behind a load balancer, the
        targets' health says which: a task whose targets are healthy keeps serving and
        stays, one whose targets fail is taken out by ServiceTargets like any other.
        Without a load balancer nothing can tell, and a task not RUNNING yet will never
        start where no agent answers: they are replaced. Their agent, when it comes
        back, sees them desired STOPPED and stops them, so a zone that returns brings
        no duplicates. (ECS itself leaves tasks on disconnected instances alone; a
        service spread over zones is expected to survive the loss of one, so Nozama
        replaces them.)"""
        unreachable = instance_store.disconnected_of(self.conn, list(
            {t.container_instance_arn for t in tasks if t.container_instance_arn}))
        if not unreachable:
            return tasks
        lost = [t for t in tasks if t.container_instance_arn in unreachable
                and (targets is None or t.last_status != "RUNNING")]
        if not lost:
            return tasks
        reason = "The container instance's agent is disconnected: the task is replaced."
        for task in with_docs(self.conn, self.service.cluster_arn, lost):
            request_stop(self.ctx, self.conn, task, reason, "ServiceSchedulerInitiated",
                         self.now, refresh=False)
        ids = " ".join(f"(task {t.arn.rsplit('/', 1)[1]})" for t in lost)
        self.events.add(f"has stopped {len(lost)} tasks on container instances whose agent "
                        f"is disconnected: {ids}.")
        return [t for t in tasks if t not in lost]

    def _shift_step(self, shift: traffic_shift.TrafficShift, mine: list[Row],
                    healthy: list[Row], old: list[Row]) -> Step:
        """A blue/green, canary or linear deployment's step; a failed hook or canary
        analysis returns traffic to blue."""
        step = shift.step(mine, healthy, old)
        hook = shift.failed_hook()
        if hook is not None:
            self.outcomes.fail(shift.deployment, circuit_breaker.Failure(
                f"ECS deployment failed: lifecycle hook {hook} failed.",
                f"lifecycle hook {hook} failed", f"Lifecycle hook {hook} failed.", True), shift)
        elif shift.failure is not None:
            self.outcomes.fail(shift.deployment, circuit_breaker.Failure(
                f"ECS deployment failed: {shift.failure}", shift.failure.rstrip("."),
                shift.failure, True), shift)
        return step

    def _waves(self, primary: dict, rollout, mine: list[Row],
               old: list[Row]) -> zone_waves.WaveStep | None:
        """The zone waves of a rolling deployment, when the service's tags ask for them."""
        # (The tags, Nozama's options, are read only where waves could apply.)
        if not (old or rollout.waves is not None) or rollout.rollback_of:
            return None
        tags = tag_store.get(self.conn, self.service.arn)
        if not zone_waves.enabled(tags):
            return None
        return zone_waves.WaveStep(primary, rollout, tags, self.now.timestamp(),
                                   with_docs(self.conn, self.service.cluster_arn, mine + old),
                                   self.events)

    def _stopped(self, primary: dict, rollout, breaker: dict,
                 shift: traffic_shift.TrafficShift | None) -> bool:
        """Whether the circuit breaker or an alarm stops the deployment where it is (it
        may roll back instead: then another deployment is primary)."""
        if primary["rolloutState"] == "FAILED":
            return True
        failure = circuit_breaker.tripped(primary, breaker) or circuit_breaker.alarmed(
            self.conn, self.service.region, self.service.account,
            self.doc["deploymentConfiguration"], primary, rollout)
        return failure is not None and self.outcomes.fail(primary, failure, shift)

    def _act(self, primary: dict, definition: Row, step: Step, mine: list[Row],
             old: list[Row], draining: set[str], targets: ServiceTargets | None,
             failed_tasks: circuit_breaker.FailedTasks,
             waves: zone_waves.WaveStep | Rebalance | None) -> None:
        """Start and stop the tasks the step asks for (in a zone wave or a rebalancing
        move, in the zone and of the tasks it chose)."""
        if step.start and failed_tasks.throttled(self.now):
            self.events.add("is unable to consistently start tasks successfully. For more "
                            "information, see the Troubleshooting section of the Amazon ECS "
                            "Developer Guide.", once=True)
        elif step.start:
            start_tasks(self.ctx, self.conn, self.cluster, self.doc, primary, definition,
                        step.start, waves.zone if waves is not None else None, self.events,
                        targets)
        cluster_arn = self.service.cluster_arn
        if step.stop_old:
            chosen = (waves.stop if waves is not None and waves.stop else
                      stop_order(old, draining)[:step.stop_old])
            stop_tasks(self.ctx, self.conn, with_docs(self.conn, cluster_arn, chosen), primary,
                       targets, self.now, self.events)
        if step.stop_primary:
            chosen = (with_docs(self.conn, cluster_arn, waves.stop_primary)
                      if waves is not None and waves.stop_primary else
                      scale_in_order(with_docs(self.conn, cluster_arn, mine)))
            stop_tasks(self.ctx, self.conn, chosen[:step.stop_primary], primary, targets, self.now,
                       self.events)

    def _size_blue(self, shift: traffic_shift.TrafficShift, old: list[Row],
                   draining: set[str], targets: ServiceTargets | None) -> None:
        """Keep blue at the size it has until CLEAN_UP (traffic_shift.py's docstring):
        a blue task that dies is replaced, a change of desiredCount resizes blue too."""
        start, stop, theirs = shift.blue_step(old, draining)
        blue = shift.blue_deployment()
        if start:
            definition = task_definition_store.get_by_arns(
                self.conn, [blue["taskDefinition"]])[blue["taskDefinition"]]
            start_tasks(self.ctx, self.conn, self.cluster, self.doc, blue, definition, start,
                        None, self.events,
                        targets)
        if stop:
            chosen = scale_in_order(with_docs(self.conn, self.service.cluster_arn, theirs))
            stop_tasks(self.ctx, self.conn, chosen[:stop], blue, targets, self.now,
                       self.events)

    def stop_and_roll_back(self, reason: str) -> None:
        """StopServiceDeployment with ROLLBACK, for the deployment in progress."""
        self.outcomes.stop_and_roll_back(reason, self.traffic_shift())

    def _update_counts(self, primary: dict, mine: list[Row], old: list[Row]) -> None:
        primary["runningCount"] = sum(t.last_status == "RUNNING" for t in mine)
        primary["pendingCount"] = sum(t.last_status != "RUNNING" for t in mine)
        for deployment in self.doc["deployments"][1:]:
            theirs = [t for t in old if t.deployment_id == deployment["id"]]
            deployment["runningCount"] = sum(t.last_status == "RUNNING" for t in theirs)
            deployment["pendingCount"] = sum(t.last_status != "RUNNING" for t in theirs)

    def _finish(self, primary: dict, rollout, mine: list[Row], healthy: list[Row],
                old: list[Row], live: list[Row]) -> None:
        if self.service.status == "DRAINING":
            # Tasks still draining from a load balancer count: an INACTIVE service is no
            # longer reconciled, and nothing else would stop them.
            if not live:
                service_store.save(self.conn, self.service.arn, status="INACTIVE")
            return
        steady = len(healthy) == primary["desiredCount"] == len(mine) and not old
        if not steady:
            return
        if primary["rolloutState"] == "IN_PROGRESS" and circuit_breaker.baking(
                self.doc["deploymentConfiguration"], primary, rollout, self.now.timestamp(),
                self.events):
            return
        self.outcomes.complete(primary)

    def _save(self) -> None:
        self.state.record(self.doc["deployments"])
        state = self.state.to_json()
        changes = {}
        if self.doc != self.service.doc:
            changes["doc"] = self.doc
        if state != self.service.deployment_state:
            changes["deployment_state"] = state
        if self.daemon and self.primary["desiredCount"] != self.service.desired_count:
            changes["desired_count"] = self.primary["desiredCount"]
        if changes:
            service_store.save(self.conn, self.service.arn, **changes)


def healthy_task(task: Row, definition: dict, now: datetime, stable_for: float) -> bool:
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
