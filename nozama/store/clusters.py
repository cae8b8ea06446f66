"""The clusters table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql
from nozama.store.tasks import PENDING_STATES

ACTIVE_INSTANCE_STATES = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING")


def get(conn: Connection, region: str, account: str, name: str):
    return sql.one(conn, "SELECT * FROM clusters WHERE region = ? AND account = ? AND name = ?",
                   (region, account, name))


def lock(conn: Connection, cluster_arn: str) -> None:
    """Hold the cluster's row until the transaction ends: the first lock of any write
    that places, stops or reports tasks, or rewrites a service or an instance's
    resources. Writers to one cluster then take turns (as every writer does on SQLite,
    under BEGIN IMMEDIATE, where this reads nothing), so two servers never place on the
    same free resources, nor rewrite one service or task from the same old copy.
    Lock order, against deadlocks: the cluster, then its service, then tasks and
    instances."""
    lock_sql = sql.FOR_UPDATE(conn)
    if lock_sql:
        sql.scalar(conn, f"SELECT 1 FROM clusters WHERE arn = ?{lock_sql}", (cluster_arn,))


def get_described(conn: Connection, region: str, account: str, name: str):
    """The cluster's row with the counts DescribeClusters shows, in one statement:
    registered_count, running_count, pending_count and active_services_count."""
    return sql.one(conn, f"""
        SELECT c.*,
          (SELECT count(*) FROM container_instances i WHERE i.cluster_arn = c.arn
             AND i.status IN ({sql.placeholders(4)})) AS registered_count,
          (SELECT count(*) FROM tasks t WHERE t.cluster_arn = c.arn
             AND t.last_status = 'RUNNING') AS running_count,
          (SELECT count(*) FROM tasks t WHERE t.cluster_arn = c.arn
             AND t.last_status IN ({sql.placeholders(len(PENDING_STATES))})) AS pending_count,
          (SELECT count(*) FROM services s WHERE s.cluster_arn = c.arn
             AND s.status = 'ACTIVE') AS active_services_count
        FROM clusters c WHERE c.region = ? AND c.account = ? AND c.name = ?""",
                   (*ACTIVE_INSTANCE_STATES, *PENDING_STATES, region, account, name))


def create(conn: Connection, region: str, account: str, name: str, arn: str,
           created_at: datetime, doc: dict) -> None:
    sql.run(conn, "INSERT INTO clusters (region, account, name, arn, status, created_at, doc) "
                  "VALUES (?, ?, ?, ?, 'ACTIVE', ?, ?)", (region, account, name, arn, created_at,
                                                           doc))


def save(conn: Connection, arn: str, status: str, doc: dict) -> None:
    sql.run(conn, "UPDATE clusters SET status = ?, doc = ? WHERE arn = ?", (status, doc, arn))


def list_active_arns(conn: Connection, region: str, account: str, after: str | None,
                     limit: int) -> list[str]:
    return sql.column(conn, "SELECT arn FROM clusters WHERE region = ? AND account = ? AND "
                            "status = 'ACTIVE' AND arn > ? ORDER BY arn LIMIT ?",
                      (region, account, after or "", limit))


def registered_instance_count(conn: Connection, cluster_arn: str) -> int:
    return sql.scalar(conn, "SELECT count(*) FROM container_instances WHERE cluster_arn = ? "
                            f"AND status IN ({sql.placeholders(4)})",
                      (cluster_arn, *ACTIVE_INSTANCE_STATES))
