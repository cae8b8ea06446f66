"""The tasks table."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql

PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")
_COLUMNS = ("region", "account", "cluster_arn", "arn", "task_definition_arn", "family",
            "container_instance_arn", "group_name", "started_by", "service_name",
            "deployment_id", "launch_type", "last_status", "desired_status", "created_at",
            "version", "doc")
# The columns ListTasks filters on.
FILTERS = frozenset({"container_instance_arn", "family", "started_by", "service_name",
                     "launch_type"})


def create_many(conn: Connection, rows: list[dict]) -> None:
    sql.run_many(conn, f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES "
                       f"({sql.placeholders(len(_COLUMNS))})",
                 [tuple(r[c] for c in _COLUMNS) for r in rows])


def get(conn: Connection, arn: str):
    return sql.one(conn, "SELECT * FROM tasks WHERE arn = ?", (arn,))


def get_many(conn: Connection, cluster_arn: str, arns: list[str]) -> list:
    if not arns:
        return []
    return sql.all_rows(conn, f"SELECT * FROM tasks WHERE cluster_arn = ? AND arn IN "
                              f"({sql.placeholders(len(arns))})", (cluster_arn, *arns))


def save(conn: Connection, arn: str, **values) -> None:
    assignments = ", ".join(f"{column} = ?" for column in values)
    sql.run(conn, f"UPDATE tasks SET version = version + 1, {assignments} WHERE arn = ?",
            (*values.values(), arn))


def on_instance(conn: Connection, instance_arn: str) -> list:
    """The instance's live tasks: those not yet STOPPED."""
    return sql.all_rows(conn, "SELECT * FROM tasks WHERE container_instance_arn = ? AND "
                              "last_status != 'STOPPED' ORDER BY id", (instance_arn,))


def assigned(conn: Connection, instance_arn: str) -> list:
    """What the agent on an instance must act on: tasks to run, and tasks to stop."""
    return sql.all_rows(conn, "SELECT * FROM tasks WHERE container_instance_arn = ? AND "
                              "(desired_status = 'RUNNING' OR last_status != 'STOPPED') "
                              "ORDER BY id", (instance_arn,))


def count_in_cluster(conn: Connection, cluster_arn: str) -> dict[str, int]:
    """{last_status: count} of the cluster's tasks."""
    rows = sql.all_rows(conn, "SELECT last_status, count(*) FROM tasks WHERE cluster_arn = ? "
                              "GROUP BY last_status", (cluster_arn,))
    return {status: n for status, n in rows}


def search(conn: Connection, cluster_arn: str, filters: dict, desired_status: str,
           after: str | None, limit: int) -> list[str]:
    assert set(filters) <= FILTERS
    where = "".join(f" AND {column} = ?" for column in filters)
    return sql.column(conn, f"SELECT arn FROM tasks WHERE cluster_arn = ? AND desired_status = ?"
                            f"{where} AND arn > ? ORDER BY arn LIMIT ?",
                      (cluster_arn, desired_status, *filters.values(), after or "", limit))


# What the service controller reads of each task on every pass: no doc to decode.
_SERVICE_COLUMNS = ("id, arn, container_instance_arn, deployment_id, last_status, desired_status, "
                    "started_at, health_status")


def live_of_service(conn: Connection, cluster_arn: str, service_name: str) -> list:
    """The service's tasks that run or are meant to (not stopped), without their docs."""
    return sql.all_rows(conn, f"SELECT {_SERVICE_COLUMNS} FROM tasks WHERE cluster_arn = ? AND "
                              "service_name = ? AND desired_status = 'RUNNING' AND last_status != 'STOPPED' "
                              "ORDER BY id",
                        (cluster_arn, service_name))


def failures_of_deployment(conn: Connection, cluster_arn: str, deployment_id: str,
                           stop_codes: tuple[str, ...]):
    """(count, latest stopped_at) of the deployment's tasks stopped with one of `stop_codes`."""
    return sql.one(conn, "SELECT count(*) AS failed, max(stopped_at) AS last_stopped_at "
                         "FROM tasks WHERE cluster_arn = ? AND deployment_id = ? AND "
                         f"last_status = 'STOPPED' AND stop_code IN "
                         f"({sql.placeholders(len(stop_codes))})",
                   (cluster_arn, deployment_id, *stop_codes))
