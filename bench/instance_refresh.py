#!/usr/bin/env python3
"""Instance bookkeeping under a burst: the cost of one task state report.

Every agent report recomputes its instance's remainingResources and
running/pending counts in the report's transaction. This measures what one
report costs when N tasks live on the instance (N = 50, 200, 800 by default):
N tasks are started on one container instance through RunTask, then each
reports RUNNING in its own report (its own transaction), as an agent does when
a burst of containers comes up; then each reports STOPPED. The figure is the
mean time per report, in-process (no HTTP), on embedded SQLite, or on
PostgreSQL with --url.

  python3 bench/instance_refresh.py
  python3 bench/instance_refresh.py --tasks 50 200 800 --url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nozama.aws import registry  # noqa: E402
from nozama.controllers import agents  # noqa: E402
from nozama.kernel.clock import FakeClock  # noqa: E402
from nozama.kernel.context import RequestContext  # noqa: E402
from nozama.store import Store  # noqa: E402
from nozama.store import container_instances as instance_store  # noqa: E402
from nozama.store.db import sqlite_url  # noqa: E402


def burst(url: str, count: int, cluster: str) -> tuple[float, float]:
    """(mean ms per RUNNING report, mean ms per STOPPED report) with `count` tasks."""
    store = Store.open(url)
    ctx = RequestContext("us-east-1", "000000000000", "bench", store, FakeClock())
    ecs = registry()["ecs"].operations
    ecs["CreateCluster"](ctx, {"clusterName": cluster})
    instance = ecs["RegisterContainerInstance"](ctx, {
        "cluster": cluster,
        "instanceIdentityDocument": json.dumps({"instanceId": f"i-{cluster}",
                                                "availabilityZone": "us-east-1a"}),
        "totalResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 10 * count},
                           {"name": "MEMORY", "type": "INTEGER", "integerValue": 10 * count}],
    })["containerInstance"]["containerInstanceArn"]
    with store.write() as conn:  # as if its agent had polled: placement needs it connected
        instance_store.save(conn, instance, agent_connected=True)
    definition = ecs["RegisterTaskDefinition"](ctx, {
        "family": cluster, "containerDefinitions": [{
            "name": "app", "image": "busybox", "cpu": 2, "memory": 6}]})[
        "taskDefinition"]["taskDefinitionArn"]
    tasks: list[str] = []
    while len(tasks) < count:
        placed = ecs["RunTask"](ctx, {"cluster": cluster, "taskDefinition": definition,
                                      "count": min(10, count - len(tasks))})
        if placed["failures"]:
            raise SystemExit(f"RunTask failed: {placed['failures']}")
        tasks += [t["taskArn"] for t in placed["tasks"]]
    figures = []
    for status in ("RUNNING", "STOPPED"):
        started = time.perf_counter()
        for arn in tasks:
            agents.report(ctx, instance, [{"taskArn": arn, "lastStatus": status,
                                           "containers": [{"name": "app",
                                                           "lastStatus": status}]}])
        figures.append((time.perf_counter() - started) * 1000 / count)
    store.close()
    return figures[0], figures[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--url", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or sqlite_url(tmp)
        print(f"{'tasks':>6} {'ms/report RUNNING':>18} {'ms/report STOPPED':>18}")
        for n in args.tasks:
            running, stopped = burst(url, n, f"bench-{n}-{int(time.time())}")
            print(f"{n:>6} {running:>18.2f} {stopped:>18.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
