"""The container_instances table."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql

_COLUMNS = ("region", "account", "cluster_arn", "arn", "ec2_instance_id", "status",
            "agent_connected", "running_tasks_count", "pending_tasks_count", "registered_at",
            "version", "doc", "address")


def create(conn: Connection, **values) -> None:
    sql.run(conn, f"INSERT INTO container_instances ({', '.join(_COLUMNS)}) VALUES "
                  f"({sql.placeholders(len(_COLUMNS))})", tuple(values[c] for c in _COLUMNS))


def get(conn: Connection, arn: str, lock: bool = False):
    """The instance; with lock, its row stays locked until the transaction ends (take
    the cluster's lock first: clusters.lock)."""
    lock_sql = sql.FOR_UPDATE(conn) if lock else ""
    return sql.one(conn, f"SELECT * FROM container_instances WHERE arn = ?{lock_sql}", (arn,))


def get_many(conn: Connection, cluster_arn: str, arns: list[str]) -> list:
    if not arns:
        return []
    return sql.all_rows(conn, "SELECT * FROM container_instances WHERE cluster_arn = ? AND arn "
                              f"IN ({sql.placeholders(len(arns))})", (cluster_arn, *arns))


def find_by_ec2_instance(conn: Connection, cluster_arn: str, ec2_instance_id: str):
    return sql.one(conn, "SELECT * FROM container_instances WHERE cluster_arn = ? AND "
                         "ec2_instance_id = ? AND status != 'INACTIVE' ORDER BY id DESC LIMIT 1",
                   (cluster_arn, ec2_instance_id))


def by_ec2_instance_id(conn: Connection, region: str, account: str, ec2_instance_id: str):
    """The registered container instance of an EC2 instance id, in any cluster."""
    return sql.one(conn, "SELECT * FROM container_instances WHERE region = ? AND account = ? "
                         "AND ec2_instance_id = ? AND status != 'INACTIVE' ORDER BY id DESC "
                         "LIMIT 1", (region, account, ec2_instance_id))


def by_address(conn: Connection, address: str) -> list:
    """The registered (not INACTIVE) container instances at a host address, in any
    region: a host is one, whatever regions its agents join."""
    return sql.all_rows(conn, "SELECT * FROM container_instances WHERE address = ? AND "
                              "status != 'INACTIVE'", (address,))


def addresses(conn: Connection) -> dict[tuple[str, str, str], str]:
    """(region, account, EC2 instance id) -> host address, of the registered instances
    that have one: where load balancers reach instance targets."""
    return {(r.region, r.account, r.ec2_instance_id): r.address for r in sql.all_rows(
        conn, "SELECT region, account, ec2_instance_id, address FROM container_instances "
              "WHERE status != 'INACTIVE' AND address IS NOT NULL")}


def save(conn: Connection, arn: str, **values) -> None:
    # Every change bumps `version`, which ECS reports as the instance's version.
    assignments = ", ".join(f"{column} = ?" for column in values)
    sql.run(conn, f"UPDATE container_instances SET version = version + 1, {assignments} "
                  "WHERE arn = ?", (*values.values(), arn))


def scan(conn: Connection, cluster_arn: str, statuses: tuple[str, ...], after: str | None,
         batch: int) -> list:
    return sql.all_rows(conn, "SELECT * FROM container_instances WHERE cluster_arn = ? AND "
                              f"status IN ({sql.placeholders(len(statuses))}) AND arn > ? "
                              "ORDER BY arn LIMIT ?",
                        (cluster_arn, *statuses, after or "", batch))


def mark_seen(conn: Connection, arn: str, when) -> None:
    """An agent polled: it is connected (no version bump: this is not a change by a user)."""
    sql.run(conn, "UPDATE container_instances SET agent_connected = ?, agent_seen_at = ? "
                  "WHERE arn = ?", (True, when, arn))


def mark_silent_disconnected(conn: Connection, seen_before) -> list[str]:
    """Instances whose agent has not polled since `seen_before` become disconnected."""
    arns = sql.column(conn, "SELECT arn FROM container_instances WHERE agent_connected = ? "
                            "AND agent_seen_at < ?", (True, seen_before))
    if arns:
        sql.run(conn, "UPDATE container_instances SET agent_connected = ? WHERE arn IN "
                      f"({sql.placeholders(len(arns))})", (False, *arns))
    return arns


def disconnected_of(conn: Connection, arns: list[str]) -> set[str]:
    """Those of `arns` whose agent is disconnected (ACTIVE or DRAINING instances)."""
    if not arns:
        return set()
    return set(sql.column(conn, "SELECT arn FROM container_instances WHERE agent_connected = ? "
                                f"AND status != 'INACTIVE' AND arn IN "
                                f"({sql.placeholders(len(arns))})", (False, *arns)))


def as_ec2_instances(conn: Connection, region: str, account: str, ids: list[str] | None,
                     after: str, limit: int) -> list:
    """The newest container instance of each EC2 instance id (EC2's DescribeInstances),
    by that id, after `after`: those of `ids`, or all of the region's."""
    # Only EC2's own ids (i-...): ECS Anywhere's managed instances (mi-...) are not EC2's.
    where, params = "ec2_instance_id LIKE 'i-%' AND ec2_instance_id > ?", [after]
    if ids is not None:
        where += f" AND ec2_instance_id IN ({sql.placeholders(len(ids))})"
        params += ids
    return sql.all_rows(conn, "SELECT * FROM container_instances WHERE id IN (SELECT max(id) "
                              "FROM container_instances WHERE region = ? AND account = ? AND "
                              f"{where} GROUP BY ec2_instance_id) ORDER BY ec2_instance_id "
                              "LIMIT ?", (region, account, *params, limit))
