"""How a service deployment ends: completed, failed, or rolled back.

A failed deployment rolls back to the last one that completed when asked to (a new
deployment of that revision), or, when it was shifting traffic, straight back to
blue, which still runs. A deployment completes once its tasks are steady and no
older task is left; the rollback it was then ends as ROLLBACK_SUCCESSFUL.
"""

from __future__ import annotations

from datetime import datetime

from nozama.controllers import traffic_shift
from nozama.controllers.circuit_breaker import Failure
from nozama.controllers.deployment_records import new_deployment
from nozama.controllers.service_events import ServiceEvents
from nozama.model.deployment_state import DeploymentState


class DeploymentOutcomes:
    """Ending the deployments of one service document (`doc`) and its `state`."""

    def __init__(self, doc: dict, state: DeploymentState, events: ServiceEvents,
                 now: datetime):
        self.doc, self.state, self.events, self.now = doc, state, events, now

    @property
    def primary(self) -> dict:
        return self.doc["deployments"][0]

    def fail(self, deployment: dict, failure: Failure,
             shift: traffic_shift.TrafficShift | None = None) -> bool:
        """The deployment failed: roll back to the last completed one when asked (False:
        the rollback deployment goes on), else stop where it is (True)."""
        deployment["rolloutState"] = "FAILED"
        deployment["rolloutStateReason"] = failure.reason
        self.events.of_deployment(deployment, f"deployment failed: {failure.short}.")
        if shift is not None and shift.blue is not None:
            # Blue still runs: traffic-shifted deployments always go back to it.
            self.return_to_blue(deployment, shift, failure.rollback_reason)
            return False
        previous = self._last_completed()
        if failure.rollback and previous is not None:
            self.roll_back(deployment, previous, failure.rollback_reason)
            return False
        rollout = self.state.of(deployment)
        rollout.status, rollout.stopped_at = "STOPPED", self.now.timestamp()
        rollout.reason = failure.reason
        return True

    def _last_completed(self) -> dict | None:
        return next((d for d in self.doc["deployments"][1:]
                     if d.get("rolloutState") == "COMPLETED"), None)

    def roll_back(self, failed: dict, previous: dict, reason: str) -> None:
        """Return the service to the revision of a deployment that completed."""
        failed_rollout, previous_rollout = self.state.of(failed), self.state.of(previous)
        failed_rollout.status, failed_rollout.reason = "ROLLBACK_IN_PROGRESS", reason
        failed_rollout.rollback = {"reason": reason, "startedAt": self.now.timestamp(),
                                   "serviceRevisionArn": previous_rollout.revision_arn}
        rollback, rollout = new_deployment(self.doc, self.state, previous["taskDefinition"],
                                           failed["desiredCount"], self.now)
        rollback["rolloutStateReason"] = f"Rolling back to {previous['taskDefinition']}."
        rollout.rollback_of = failed_rollout.arn
        if previous_rollout.groups:
            rollout.groups = previous_rollout.groups  # where production traffic goes
        failed["status"] = "ACTIVE"
        self.doc["deployments"].insert(0, rollback)
        self.doc["taskDefinition"] = previous["taskDefinition"]
        self.events.of_deployment(failed, "deployment failed; rolling back to "
                                  f"{previous['taskDefinition']}.")

    def return_to_blue(self, failed: dict, shift: traffic_shift.TrafficShift,
                       reason: str) -> None:
        """Roll a traffic-shifted deployment back: all traffic to blue now, blue primary
        again; green drains and stops as the older deployment it has become."""
        blue_rollout = shift.blue
        blue = next(d for d in self.doc["deployments"] if d["id"] == blue_rollout.id)
        shift.roll_back()
        failed_rollout = self.state.of(failed)
        failed["status"] = "ACTIVE"
        failed_rollout.status, failed_rollout.reason = "ROLLBACK_IN_PROGRESS", reason
        failed_rollout.stage = traffic_shift.DONE
        failed_rollout.rollback = {"reason": reason, "startedAt": self.now.timestamp(),
                                   "serviceRevisionArn": blue_rollout.revision_arn}
        self.doc["deployments"].remove(blue)
        self.doc["deployments"].insert(0, blue)
        blue["status"] = "PRIMARY"
        blue_rollout.rollback_of = failed_rollout.arn
        self.doc["taskDefinition"] = blue["taskDefinition"]
        self.events.of_deployment(failed, "deployment failed; all traffic is back on "
                                  f"{blue['taskDefinition']}.")

    def stop_and_roll_back(self, reason: str,
                           shift: traffic_shift.TrafficShift | None) -> None:
        """StopServiceDeployment with ROLLBACK, for the deployment in progress (`shift`:
        its traffic shift, when it is shifting)."""
        primary = self.primary
        primary.update(rolloutState="FAILED", rolloutStateReason="Stopped by the user.")
        if shift is not None and shift.blue is not None:
            self.return_to_blue(primary, shift, reason)
            return
        previous = self._last_completed()
        if previous is None:
            raise LookupError("There is no completed deployment to roll back to.")
        self.roll_back(primary, previous, reason)

    def complete(self, primary: dict) -> None:
        """The primary deployment is steady with no older task left."""
        rollout = self.state.of(primary)
        if primary["rolloutState"] == "IN_PROGRESS":
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = "ECS deployment completed."
            primary["updatedAt"] = self.now.timestamp()
            rollout.status, rollout.finished_at = "SUCCESSFUL", self.now.timestamp()
            self.events.of_deployment(primary, "deployment completed.")
        failed = self.state.rollouts.get(rollout.rollback_of) if rollout.rollback_of else None
        rollout.rollback_of = None
        if failed is not None and failed.status == "ROLLBACK_IN_PROGRESS":
            failed.status, failed.finished_at = "ROLLBACK_SUCCESSFUL", self.now.timestamp()
        # Older deployments have no tasks left: they are history now.
        self.doc["deployments"] = [primary]
        self.events.steady()
