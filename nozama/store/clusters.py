"""The clusters table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql

ACTIVE_INSTANCE_STATES = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING")


def get(conn: Connection, region: str, account: str, name: str):
    return sql.one(conn, "SELECT * FROM clusters WHERE region = ? AND account = ? AND name = ?",
                   (region, account, name))


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
