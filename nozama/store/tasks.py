"""The tasks table."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.model.resources import Requirements
from nozama.store import sql

PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")
_COLUMNS = ("region", "account", "cluster_arn", "arn", "task_definition_arn", "family",
            "container_instance_arn", "group_name", "started_by", "service_name",
            "deployment_id", "launch_type", "last_status", "desired_status", "created_at",
            "reserved_cpu", "reserved_memory", "reserved_ports", "reserved_ports_udp",
            "version", "doc")
# The columns ListTasks filters on.
FILTERS = frozenset({"container_instance_arn", "family", "started_by", "service_name",
                     "launch_type"})


def create_many(conn: Connection, rows: list[dict]) -> None:
    """New tasks; each row's `reservation` (a model.resources.Requirements) fills the
    reserved_* columns."""
    sql.run_many(conn, f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES "
                       f"({sql.placeholders(len(_COLUMNS))})",
                 [tuple({**r, **_reservation_columns(r["reservation"])}[c] for c in _COLUMNS)
                  for r in rows])


def _reservation_columns(need: Requirements) -> dict:
    return {"reserved_cpu": need.cpu, "reserved_memory": need.memory,
            "reserved_ports": _port_text(need.ports),
            "reserved_ports_udp": _port_text(need.ports_udp)}


def _port_text(ports: list[int]) -> str | None:
    return ",".join(str(p) for p in ports) if ports else None


def _port_list(text: str | None) -> list[int]:
    return [int(p) for p in text.split(",")] if text else []


def reservation(row) -> Requirements:
    """What a task (a row with the reserved_* columns) reserves on its instance."""
    return Requirements(row.reserved_cpu, row.reserved_memory, _port_list(row.reserved_ports),
                        _port_list(row.reserved_ports_udp))


def instance_usage(conn: Connection, instance_arn: str) -> tuple[Requirements, int, int]:
    """(what the instance's live tasks reserve in all, its RUNNING count, its pending
    count): one aggregate over the partial index of live tasks, then the static ports
    of the few live tasks that reserve any (each holds distinct host ports), in task
    order, as the instance's remainingResources lists them."""
    live = "container_instance_arn = ? AND last_status != 'STOPPED'"
    cpu, memory, running, pending = sql.all_rows(
        conn, "SELECT coalesce(sum(reserved_cpu), 0), coalesce(sum(reserved_memory), 0), "
              "coalesce(sum(CASE WHEN last_status = 'RUNNING' THEN 1 ELSE 0 END), 0), "
              f"coalesce(sum(CASE WHEN last_status IN ({sql.placeholders(len(PENDING_STATES))})"
              f" THEN 1 ELSE 0 END), 0) FROM tasks WHERE {live}",
        (*PENDING_STATES, instance_arn))[0]
    total = Requirements(int(cpu), int(memory))
    for ports, ports_udp in sql.all_rows(
            conn, f"SELECT reserved_ports, reserved_ports_udp FROM tasks WHERE {live} AND "
                  "(reserved_ports IS NOT NULL OR reserved_ports_udp IS NOT NULL) ORDER BY id",
            (instance_arn,)):
        total.ports += _port_list(ports)
        total.ports_udp += _port_list(ports_udp)
    return total, int(running), int(pending)


def get(conn: Connection, arn: str, lock: bool = False):
    """The task; with lock, its row stays locked until the transaction ends (take the
    cluster's lock first: clusters.lock)."""
    lock_sql = sql.FOR_UPDATE(conn) if lock else ""
    return sql.one(conn, f"SELECT * FROM tasks WHERE arn = ?{lock_sql}", (arn,))


def get_many(conn: Connection, cluster_arn: str, arns: list[str]) -> list:
    if not arns:
        return []
    return sql.all_rows(conn, f"SELECT * FROM tasks WHERE cluster_arn = ? AND arn IN "
                              f"({sql.placeholders(len(arns))})", (cluster_arn, *arns))


def save(conn: Connection, arn: str, **values) -> None:
    assignments = ", ".join(f"{column} = ?" for column in values)
    sql.run(conn, f"UPDATE tasks SET version = version + 1, {assignments} WHERE arn = ?",
            (*values.values(), arn))


def assigned(conn: Connection, instance_arn: str) -> list:
    """What the agent on an instance must act on: tasks to run, and tasks to stop."""
    return sql.all_rows(conn, "SELECT * FROM tasks WHERE container_instance_arn = ? AND "
                              "(desired_status = 'RUNNING' OR last_status != 'STOPPED') "
                              "ORDER BY id", (instance_arn,))


def live_groups_on(conn: Connection, instance_arns: list[str]) -> dict[str, list[str]]:
    """The groups of the tasks still alive (not STOPPED, stopping ones included) on each
    of `instance_arns`."""
    if not instance_arns:
        return {}
    found: dict[str, list[str]] = {arn: [] for arn in instance_arns}
    for instance, group in sql.all_rows(
            conn, "SELECT container_instance_arn, group_name FROM tasks WHERE "
                  f"container_instance_arn IN ({sql.placeholders(len(instance_arns))}) AND "
                  "last_status != 'STOPPED'", tuple(instance_arns)):
        found[instance].append(group)
    return found


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
