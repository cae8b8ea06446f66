"""Where new tasks go: the one placement path of RunTask, StartTask and the service
controller.

Each call loads the cluster's state from the store (cluster_state.py) inside the
caller's write transaction and lets the scheduler decide on it; the caller then
creates the tasks on the instances chosen, in the same transaction, so two
placements never see the same free resources. On SQLite BEGIN IMMEDIATE makes them
take turns; on PostgreSQL, where several servers may place at once, each placement
first locks the cluster's row (store/clusters.py `lock`) until its transaction ends.
"""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.controllers.cluster_state import cluster_state
from nozama.kernel import errors
from nozama.model.resources import Requirements
from nozama.scheduler.placement import PlacementRequest, PlacementResult, place, place_on
from nozama.store import clusters as cluster_store

__all__ = ["PlacementRequest", "PlacementResult", "place_on_instances", "place_tasks"]


def place_tasks(conn: Connection, cluster_arn: str, request: PlacementRequest, *,
                require_instances: bool = False) -> PlacementResult:
    """Instances for `request.count` tasks, by the request's strategies and constraints.
    With require_instances (RunTask), a cluster without instances is an error rather
    than a placement failure."""
    cluster_store.lock(conn, cluster_arn)
    state = cluster_state(conn, cluster_arn)
    if require_instances and not state.instances:
        raise errors.ecs.InvalidParameterException(
            "No Container Instances were found in your cluster.")
    return place(state, request)


def place_on_instances(conn: Connection, cluster_arn: str, instance_arns: list[str],
                need: Requirements, group: str) -> PlacementResult:
    """StartTask: one task on each named instance that can take it."""
    cluster_store.lock(conn, cluster_arn)
    return place_on(cluster_state(conn, cluster_arn, instance_arns), instance_arns, need, group)
