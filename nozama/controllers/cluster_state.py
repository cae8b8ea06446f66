"""Loading a cluster's state from the store for one placement decision.

RunTask and the service controller place tasks inside a write transaction;
this reads what the pipeline needs (instances, their attributes and remaining
resources, the task groups running on each) with a few indexed queries.
StartTask, which names its instances, loads only those.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import Connection

from nozama.scheduler.state import ClusterState, InstanceState
from nozama.store import attributes as attribute_store
from nozama.store import container_instances as instance_store
from nozama.store import sql


def cluster_state(conn: Connection, cluster_arn: str, only: list[str] | None = None,
                  with_tasks: bool = True) -> ClusterState:
    """The cluster's ACTIVE and DRAINING instances (of `only`, when given); without
    their task groups when `with_tasks` is False (a question about the instances alone
    need not read every live task of the cluster)."""
    if only is None:
        rows = instance_store.scan(conn, cluster_arn, ("ACTIVE", "DRAINING"), None, 100000)
    else:
        rows = [r for r in instance_store.get_many(conn, cluster_arn, list(dict.fromkeys(only)))
                if r.status in ("ACTIVE", "DRAINING")]
    attributes = attribute_store.of_targets(conn, cluster_arn, [r.arn for r in rows])
    groups: dict[str, Counter] = defaultdict(Counter)
    for instance, group in sql.all_rows(
            conn, "SELECT container_instance_arn, group_name FROM tasks WHERE cluster_arn = ? "
                  "AND last_status != 'STOPPED' AND desired_status = 'RUNNING'",
            (cluster_arn,)) if with_tasks else ():
        groups[instance][group] += 1
    return ClusterState(InstanceState.from_description({
        "containerInstanceArn": r.arn, "remainingResources": r.doc["remainingResources"],
        "attributes": [{"name": n, "value": v} for n, v in attributes[r.arn].items()],
        "registeredAt": r.registered_at, "ec2InstanceId": r.ec2_instance_id,
        "status": r.status, "agentConnected": r.agent_connected,
        "versionInfo": r.doc.get("versionInfo", {}), "runningTasksCount": r.running_tasks_count,
    }, groups[r.arn]) for r in rows)
