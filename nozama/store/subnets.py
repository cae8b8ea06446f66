"""The subnets table (EC2 subnets of VPCs)."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql

_SCOPE = "region = ? AND account = ?"


def create(conn: Connection, region: str, account: str, subnet_id: str, vpc_id: str,
           cidr_block: str, availability_zone: str, is_default: bool, doc: dict,
           if_absent: bool = False) -> None:
    conflict = " ON CONFLICT (subnet_id) DO NOTHING" if if_absent else ""
    sql.run(conn, "INSERT INTO subnets (region, account, subnet_id, vpc_id, cidr_block, "
                  f"availability_zone, is_default, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                  f"{conflict}",
            (region, account, subnet_id, vpc_id, cidr_block, availability_zone, is_default,
             doc))


def get(conn: Connection, region: str, account: str, subnet_id: str):
    return sql.one(conn, f"SELECT * FROM subnets WHERE {_SCOPE} AND subnet_id = ?",
                   (region, account, subnet_id))


def get_many(conn: Connection, region: str, account: str, ids: list[str]) -> list:
    if not ids:
        return []
    return sql.all_rows(conn, f"SELECT * FROM subnets WHERE {_SCOPE} AND subnet_id IN "
                              f"({sql.placeholders(len(ids))})", (region, account, *ids))


def cidr_blocks(conn: Connection, vpc_id: str) -> list[str]:
    return sql.column(conn, "SELECT cidr_block FROM subnets WHERE vpc_id = ?", (vpc_id,))


def zones_in_vpc(conn: Connection, vpc_id: str) -> list[str]:
    """The zone of each subnet of a VPC (a zone as often as it has subnets)."""
    return sql.column(conn, "SELECT availability_zone FROM subnets WHERE vpc_id = ?", (vpc_id,))


def count_in_vpc(conn: Connection, vpc_id: str) -> int:
    return sql.scalar(conn, "SELECT count(*) FROM subnets WHERE vpc_id = ?", (vpc_id,))


def page(conn: Connection, region: str, account: str, ids: list[str] | None, after: str,
         limit: int) -> list:
    where, params = f"{_SCOPE} AND subnet_id > ?", [region, account, after]
    if ids is not None:
        where += f" AND subnet_id IN ({sql.placeholders(len(ids))})"
        params += ids
    return sql.all_rows(conn, f"SELECT * FROM subnets WHERE {where} ORDER BY subnet_id LIMIT ?",
                        (*params, limit))


def delete(conn: Connection, subnet_id: str) -> None:
    sql.run(conn, "DELETE FROM subnets WHERE subnet_id = ?", (subnet_id,))
