"""Starting a service deployment: its AWS shape, its rollout, its service revision.

UpdateService and CreateService start deployments here; the service controller
starts the rollback ones. Each new deployment gets, in the service's
DeploymentState, a Rollout (its service-deployment ARN and status for
ListServiceDeployments) and a service revision (DescribeServiceRevisions).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nozama.model.deployment_state import DeploymentState, Rollout


def new_deployment(service: dict, state: DeploymentState, task_definition: str, desired: int,
                   now: datetime) -> tuple[dict, Rollout]:
    """A new PRIMARY deployment of `service` (its doc), and its rollout (added to `state`)."""
    number = uuid.uuid4().int % 10 ** 19
    base = service["serviceArn"].replace(":service/", ":{kind}/", 1)
    deployment = {
        "id": f"ecs-svc/{number:019d}", "status": "PRIMARY",
        "taskDefinition": task_definition, "desiredCount": desired, "pendingCount": 0,
        "runningCount": 0, "failedTasks": 0, "createdAt": now.timestamp(),
        "updatedAt": now.timestamp(), "launchType": service.get("launchType", "EC2"),
        "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment in progress.",
    }
    sources = [r.revision_arn for r in (state.find(d["id"]) for d in
                                        service.get("deployments", [])) if r is not None]
    rollout = Rollout(
        id=deployment["id"],
        arn=base.format(kind="service-deployment") + f"/{number:019d}",
        revision_arn=base.format(kind="service-revision") + f"/{number:019d}",
        sources=sources, configuration=service.get("deploymentConfiguration", {}),
        deployment=dict(deployment))
    state.revisions[rollout.revision_arn] = {
        "serviceRevisionArn": rollout.revision_arn, "serviceArn": service["serviceArn"],
        "clusterArn": service["clusterArn"], "taskDefinition": task_definition,
        "launchType": deployment["launchType"],
        "loadBalancers": service.get("loadBalancers", []), "serviceRegistries": [],
        "createdAt": now.timestamp()}
    state.add(rollout)
    return deployment, rollout


def supersede(service: dict, state: DeploymentState, now: datetime) -> None:
    """A newer deployment takes over: unfinished older ones are STOPPED."""
    for deployment in service["deployments"]:
        deployment["status"] = "ACTIVE"
        rollout = state.find(deployment["id"])
        if rollout is not None and rollout.status == "IN_PROGRESS":
            rollout.status, rollout.stopped_at = "STOPPED", now.timestamp()
            rollout.reason = "Superseded by a newer deployment."
    state.record(service["deployments"])
