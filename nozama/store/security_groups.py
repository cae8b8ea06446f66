"""The security_groups table (EC2 security groups, one name per VPC)."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import security_group_rules, sql

_SCOPE = "region = ? AND account = ?"


def create(conn: Connection, region: str, account: str, group_id: str, vpc_id: str,
           group_name: str, doc: dict, if_absent: bool = False) -> bool:
    conflict = " ON CONFLICT (group_id) DO NOTHING" if if_absent else ""
    return sql.run(conn, "INSERT INTO security_groups (region, account, group_id, vpc_id, "
                         f"group_name, doc) VALUES (?, ?, ?, ?, ?, ?){conflict}",
                   (region, account, group_id, vpc_id, group_name, doc)) == 1


def get(conn: Connection, region: str, account: str, group_id: str):
    return sql.one(conn, f"SELECT * FROM security_groups WHERE {_SCOPE} AND group_id = ?",
                   (region, account, group_id))


def by_name(conn: Connection, vpc_id: str, group_name: str):
    return sql.one(conn, "SELECT * FROM security_groups WHERE vpc_id = ? AND group_name = ?",
                   (vpc_id, group_name))


def get_many(conn: Connection, region: str, account: str, ids: list[str]) -> list:
    if not ids:
        return []
    return sql.all_rows(conn, f"SELECT * FROM security_groups WHERE {_SCOPE} AND group_id IN "
                              f"({sql.placeholders(len(ids))})", (region, account, *ids))


def count_in_vpc(conn: Connection, vpc_id: str) -> int:
    return sql.scalar(conn, "SELECT count(*) FROM security_groups WHERE vpc_id = ?", (vpc_id,))


def page(conn: Connection, region: str, account: str, ids: list[str] | None, after: str,
         limit: int) -> list:
    where, params = f"{_SCOPE} AND group_id > ?", [region, account, after]
    if ids is not None:
        where += f" AND group_id IN ({sql.placeholders(len(ids))})"
        params += ids
    return sql.all_rows(conn, f"SELECT * FROM security_groups WHERE {where} ORDER BY group_id "
                              "LIMIT ?", (*params, limit))


def delete(conn: Connection, group_id: str) -> None:
    security_group_rules.delete_of_group(conn, group_id)
    sql.run(conn, "DELETE FROM security_groups WHERE group_id = ?", (group_id,))
