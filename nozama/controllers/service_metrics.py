"""ECS's service metrics (AWS/ECS CPUUtilization and MemoryUtilization) from what agents
measure of their tasks.

Each agent reports, every interval, how much CPU (in CPU units) and memory (MiB)
each of its running tasks used. Utilization is use over reservation, summed
over a service's tasks on that agent, in percent, as ECS defines it; each
report becomes a data point by ClusterName and ServiceName, and one by
ClusterName alone. Reports of several agents in the same second are separate
samples of the same metric (their Average is the mean over agents).
"""

from __future__ import annotations

from collections import defaultdict

from nozama.kernel.context import RequestContext
from nozama.model.statistics import Aggregate
from nozama.store import metrics as metric_store
from nozama.store import tasks as task_store

NAMESPACE = "AWS/ECS"


def record_usage(ctx: RequestContext, instance_arn: str, reports: list[dict]) -> dict:
    used = {r["taskArn"]: (float(r.get("cpu", 0)), float(r.get("memory", 0)))
            for r in reports if isinstance(r, dict) and r.get("taskArn")}
    totals: dict[tuple[str, str | None], list[float]] = defaultdict(lambda: [0.0] * 4)
    with ctx.store.read() as conn:
        rows = [task_store.get(conn, arn) for arn in used]
    for row in rows:
        if row is None or row.container_instance_arn != instance_arn:
            continue  # not this agent's to report
        reserved = task_store.reservation(row)
        cluster = row.cluster_arn.rsplit("/", 1)[1]
        cpu, memory = used[row.arn]
        keys = [(cluster, None)]
        if row.service_name:
            keys.append((cluster, row.service_name))
        for key in keys:
            total = totals[key]
            total[0] += cpu
            total[1] += reserved.cpu
            total[2] += memory
            total[3] += reserved.memory
    now = int(ctx.clock.now().timestamp())
    points = []
    for (cluster, service), (cpu, cpu_reserved, memory, memory_reserved) in totals.items():
        dims = [{"Name": "ClusterName", "Value": cluster}]
        if service is not None:
            dims.append({"Name": "ServiceName", "Value": service})
        if cpu_reserved:
            points.append((NAMESPACE, "CPUUtilization", dims, "Percent", now,
                           Aggregate.of_values([100 * cpu / cpu_reserved])))
        if memory_reserved:
            points.append((NAMESPACE, "MemoryUtilization", dims, "Percent", now,
                           Aggregate.of_values([100 * memory / memory_reserved])))
    if points:
        with ctx.store.write() as conn:
            metric_store.append(conn, ctx.region, ctx.account_id, points)
    return {}
