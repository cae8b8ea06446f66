"""The vpcs table (EC2 VPCs). A region's default VPC is inserted once, whoever asks
first: `create(..., if_absent=True)` says whether this transaction made it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql

_SCOPE = "region = ? AND account = ?"


def create(conn: Connection, region: str, account: str, vpc_id: str, cidr_block: str,
           is_default: bool, created_at: datetime, doc: dict, if_absent: bool = False) -> bool:
    conflict = " ON CONFLICT (vpc_id) DO NOTHING" if if_absent else ""
    return sql.run(conn, "INSERT INTO vpcs (region, account, vpc_id, cidr_block, is_default, "
                         f"created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?){conflict}",
                   (region, account, vpc_id, cidr_block, is_default, created_at, doc)) == 1


def get(conn: Connection, region: str, account: str, vpc_id: str):
    return sql.one(conn, f"SELECT * FROM vpcs WHERE {_SCOPE} AND vpc_id = ?",
                   (region, account, vpc_id))


def page(conn: Connection, region: str, account: str, ids: list[str] | None, after: str,
         limit: int) -> list:
    """VPCs after id `after`, by id: those of `ids`, or all of the region's."""
    where, params = f"{_SCOPE} AND vpc_id > ?", [region, account, after]
    if ids is not None:
        where += f" AND vpc_id IN ({sql.placeholders(len(ids))})"
        params += ids
    return sql.all_rows(conn, f"SELECT * FROM vpcs WHERE {where} ORDER BY vpc_id LIMIT ?",
                        (*params, limit))


def count(conn: Connection, region: str, account: str) -> int:
    return sql.scalar(conn, f"SELECT count(*) FROM vpcs WHERE {_SCOPE}", (region, account))


def delete(conn: Connection, vpc_id: str) -> None:
    sql.run(conn, "DELETE FROM vpcs WHERE vpc_id = ?", (vpc_id,))
