"""What stops a service deployment on its way: ECS's deployment circuit breaker, the
service throttle, and deploymentConfiguration.alarms with their bake time.

Each check reads the deployment (its AWS shape and its Rollout) and the store, and
says whether it must stop; failing it, and rolling back, is deployment_outcomes.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from nozama.controllers.rolling import circuit_breaker_threshold
from nozama.model.deployment_state import Rollout
from nozama.store import alarms as alarm_store
from nozama.store import tasks as task_store

FAILED_START_CODES = ("TaskFailedToStart", "EssentialContainerExited")


@dataclass(frozen=True)
class Failure:
    """Why a deployment fails: its rolloutStateReason, the event's words, the rollback's
    reason, and whether to roll back."""
    reason: str
    short: str
    rollback_reason: str
    rollback: bool


class FailedTasks:
    """The tasks of a deployment that failed to start, and the throttle they cause."""

    def __init__(self, conn: Connection, cluster_arn: str, deployment: dict):
        failures = task_store.failures_of_deployment(conn, cluster_arn, deployment["id"],
                                                     FAILED_START_CODES)
        self.count, self.last_at = failures.failed, failures.last_stopped_at

    def throttled(self, now: datetime) -> bool:
        """Like ECS's service throttle: after repeated failures, wait longer and longer
        (5 s doubling, at most 5 minutes) before starting tasks again."""
        if self.count < 3 or self.last_at is None:
            return False
        delay = min(300.0, 5.0 * 2 ** (self.count - 3))
        return (now - self.last_at).total_seconds() < delay


def tripped(deployment: dict, breaker: dict) -> Failure | None:
    """ECS's deployment circuit breaker: the failure, when this deployment's failed tasks
    reach the threshold."""
    threshold = circuit_breaker_threshold(deployment["desiredCount"])
    if not breaker.get("enable") or deployment["rolloutState"] != "IN_PROGRESS" or \
            deployment["failedTasks"] < threshold:
        return None
    return Failure(f"ECS deployment circuit breaker: tasks failed to start. "
                   f"({deployment['failedTasks']} failed, threshold {threshold})",
                   "tasks failed to start", "Circuit breaker: tasks failed to start.",
                   bool(breaker.get("rollback")))


def alarmed(conn: Connection, region: str, account: str, configuration: dict,
            deployment: dict, rollout: Rollout) -> Failure | None:
    """deploymentConfiguration.alarms: an alarm that goes to ALARM while the deployment is
    in progress (bake time included) fails it. An alarm that was already in ALARM when
    the deployment began is not this deployment's doing."""
    config = configuration.get("alarms") or {}
    if not config.get("enable") or deployment["rolloutState"] != "IN_PROGRESS" or \
            rollout.rollback_of or not config.get("alarmNames"):
        return None
    fired = [row.name for row in alarm_store.search(
        conn, region, account, names=config["alarmNames"], state="ALARM")
        if row.doc["StateTransitionedTimestamp"] >= deployment["createdAt"]]
    if not fired:
        return None
    names = ", ".join(fired)
    return Failure(f"ECS deployment failed: alarm(s) {names} went to ALARM.",
                   f"alarm(s) {names} went to ALARM", f"Alarm(s) {names} went to ALARM.",
                   bool(config.get("rollback")))


def baking(configuration: dict, deployment: dict, rollout: Rollout, now: float,
           events) -> bool:
    """With alarms watching, a steady deployment bakes for bakeTimeInMinutes before it
    completes: its alarms can still fail it, and the previous revision is kept to roll
    back to."""
    bake = configuration.get("bakeTimeInMinutes") or 0
    if not bake or not (configuration.get("alarms") or {}).get("enable") or \
            rollout.rollback_of:
        return False
    if rollout.steady_at is None:
        rollout.steady_at = now
        events.of_deployment(deployment, f"is baking for {bake} minutes.")
    return now < rollout.steady_at + bake * 60
