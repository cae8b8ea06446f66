"""The security_group_rules table: one row per rule of a security group (its
SecurityGroupRuleId), ingress or egress. A group's IpPermissions are built from them."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql

_COLUMNS = ("rule_id", "group_id", "is_egress", "ip_protocol", "from_port", "to_port",
            "cidr_ipv4", "referenced_group_id", "description")


def add(conn: Connection, rules: list[dict]) -> None:
    sql.run_many(conn, f"INSERT INTO security_group_rules ({', '.join(_COLUMNS)}) VALUES "
                       f"({sql.placeholders(len(_COLUMNS))})",
                 [tuple(rule.get(c) for c in _COLUMNS) for rule in rules])


def of_groups(conn: Connection, group_ids: list[str]) -> list:
    if not group_ids:
        return []
    return sql.all_rows(conn, "SELECT * FROM security_group_rules WHERE group_id IN "
                              f"({sql.placeholders(len(group_ids))}) ORDER BY rule_id",
                        tuple(group_ids))


def referencing(conn: Connection, group_id: str) -> list[str]:
    """The other groups with a rule that names `group_id`."""
    return sql.column(conn, "SELECT DISTINCT group_id FROM security_group_rules WHERE "
                            "referenced_group_id = ? AND group_id != ?", (group_id, group_id))


def delete(conn: Connection, rule_ids: list[str]) -> None:
    if rule_ids:
        sql.run(conn, "DELETE FROM security_group_rules WHERE rule_id IN "
                      f"({sql.placeholders(len(rule_ids))})", tuple(rule_ids))


def delete_of_group(conn: Connection, group_id: str) -> None:
    sql.run(conn, "DELETE FROM security_group_rules WHERE group_id = ?", (group_id,))
