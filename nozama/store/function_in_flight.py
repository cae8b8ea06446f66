"""Executions in flight of functions with reserved concurrency, counted across servers.

Each server keeps one row per such function: how many of its executions are running.
A reservation is a limit for the whole store, so admitting an execution reads the other
live servers' rows and this server's own count, under a per-function lock (PostgreSQL:
a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE already serializes every
writer), and writes this server's new count in the same transaction. Rows of servers
whose heartbeat is stale (store/servers.py) count for nothing.

A server writes its own count as an absolute value, not +1/-1: a write lost to an
outage is corrected by the next one, and only its own server ever writes a row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import servers, sql


def admit(conn: Connection, region: str, account: str, name: str, server_id: str,
          own: int, reserved: int, now: datetime) -> bool:
    """Whether one more execution fits the reservation, given this server's `own` count;
    if so, this server's row becomes own + 1. Call inside store.write()."""
    if conn.dialect.name == "postgresql":
        # Serializes the admissions of this function on every server until commit.
        sql.run(conn, "SELECT pg_advisory_xact_lock(hashtext(?))",
                (f"function-in-flight/{region}/{account}/{name}",))
    others = sql.scalar(conn, (
        "SELECT coalesce(sum(f.in_flight), 0) FROM function_in_flight f "
        "JOIN servers s ON s.id = f.server_id "
        "WHERE f.region = ? AND f.account = ? AND f.function_name = ? "
        "AND f.server_id <> ? AND s.heartbeat_at > ?"),
        (region, account, name, server_id, now - servers.STALE_AFTER))
    if int(others) + own >= reserved:
        return False
    record(conn, region, account, name, server_id, own + 1)
    return True


def record(conn: Connection, region: str, account: str, name: str, server_id: str,
           count: int) -> None:
    """This server's count of the function's executions in flight."""
    sql.run(conn, "INSERT INTO function_in_flight (region, account, function_name, "
                  "server_id, in_flight) VALUES (?, ?, ?, ?, ?) ON CONFLICT (region, account, "
                  "function_name, server_id) DO UPDATE SET in_flight = excluded.in_flight",
            (region, account, name, server_id, count))


def total(conn: Connection, region: str, account: str, name: str, now: datetime) -> int:
    """Executions in flight of the function on every live server."""
    return int(sql.scalar(conn, (
        "SELECT coalesce(sum(f.in_flight), 0) FROM function_in_flight f "
        "JOIN servers s ON s.id = f.server_id WHERE f.region = ? AND f.account = ? "
        "AND f.function_name = ? AND s.heartbeat_at > ?"),
        (region, account, name, now - servers.STALE_AFTER)))


def sweep(conn: Connection, now: datetime) -> int:
    """Forget the rows of servers that are gone (their heartbeat is stale, or no row)."""
    return sql.run(conn, "DELETE FROM function_in_flight WHERE server_id NOT IN "
                         "(SELECT id FROM servers WHERE heartbeat_at > ?)",
                   (now - servers.STALE_AFTER,))
