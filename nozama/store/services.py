"""The services table: each row is a service's AWS-shaped document (doc) and what the
controller knows of its deployments (deployment_state, model/deployment_state.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql


def create(conn: Connection, region: str, account: str, cluster_arn: str, arn: str, name: str,
           desired_count: int, created_at: datetime, doc: dict,
           deployment_state: dict) -> None:
    sql.run(conn, "INSERT INTO services (region, account, cluster_arn, arn, name, status, "
                  "desired_count, created_at, version, doc, deployment_state) VALUES "
                  "(?, ?, ?, ?, ?, 'ACTIVE', ?, ?, 1, ?, ?)",
            (region, account, cluster_arn, arn, name, desired_count, created_at, doc,
             deployment_state))


def get(conn: Connection, arn: str, lock: bool = False):
    """The service; with lock, its row stays locked until the transaction ends (take the
    cluster's lock first: clusters.lock)."""
    lock_sql = sql.FOR_UPDATE(conn) if lock else ""
    return sql.one(conn, f"SELECT * FROM services WHERE arn = ?{lock_sql}", (arn,))


def find(conn: Connection, cluster_arn: str, name: str, lock: bool = False):
    """The newest service of that name in the cluster (deleted ones stay, INACTIVE);
    with lock, as in get."""
    lock_sql = sql.FOR_UPDATE(conn) if lock else ""
    return sql.one(conn, "SELECT * FROM services WHERE cluster_arn = ? AND name = ? "
                         f"ORDER BY id DESC LIMIT 1{lock_sql}", (cluster_arn, name))


def save(conn: Connection, arn: str, **values) -> None:
    assignments = ", ".join(f"{column} = ?" for column in values)
    sql.run(conn, f"UPDATE services SET version = version + 1, {assignments} WHERE arn = ?",
            (*values.values(), arn))


def list_arns(conn: Connection, cluster_arn: str, launch_type: str | None, after: str | None,
              limit: int) -> list[str]:
    return sql.column(conn, "SELECT arn FROM services WHERE cluster_arn = ? AND status != "
                            "'INACTIVE' AND arn > ? ORDER BY arn LIMIT ?",
                      (cluster_arn, after or "", limit))


def live(conn: Connection) -> list:
    """Every service a controller must look after (any region)."""
    return sql.all_rows(conn, "SELECT * FROM services WHERE status != 'INACTIVE' ORDER BY id")


def daemon_names(conn: Connection, cluster_arn: str) -> set[str]:
    """The names of the cluster's live DAEMON services."""
    rows = sql.all_rows(conn, "SELECT name, doc FROM services WHERE cluster_arn = ? AND "
                              "status != 'INACTIVE'", (cluster_arn,))
    return {r.name for r in rows if r.doc.get("schedulingStrategy") == "DAEMON"}


def count_active(conn: Connection, cluster_arn: str) -> int:
    return sql.scalar(conn, "SELECT count(*) FROM services WHERE cluster_arn = ? AND "
                            "status = 'ACTIVE'", (cluster_arn,))
