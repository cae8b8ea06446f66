"""The servers table: the `nozama server` processes sharing one store. Each renews its
heartbeat every second, with the lease's tick; a server whose heartbeat is older than
STALE_AFTER is taken for gone, and its row is swept after SWEEP_AFTER."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from nozama.store import sql

STALE_AFTER = timedelta(seconds=5)
SWEEP_AFTER = timedelta(hours=1)


def heartbeat(conn: Connection, server_id: str, host: str, pid: int, address: str,
              version: str, started_at: datetime, now: datetime) -> None:
    sql.run(conn, "INSERT INTO servers (id, host, pid, address, version, started_at, "
                  "heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                  "address = excluded.address, heartbeat_at = excluded.heartbeat_at",
            (server_id, host, pid, address, version, started_at, now))


def withdraw(conn: Connection, server_id: str) -> None:
    sql.run(conn, "DELETE FROM servers WHERE id = ?", (server_id,))


def live(conn: Connection, now: datetime) -> list:
    """The servers whose heartbeat is fresh, oldest first."""
    return sql.all_rows(conn, "SELECT id, host, pid, address, version, started_at, "
                              "heartbeat_at FROM servers WHERE heartbeat_at > ? "
                              "ORDER BY started_at, id", (now - STALE_AFTER,))


def sweep(conn: Connection, now: datetime) -> int:
    """Forget servers gone long ago."""
    return sql.run(conn, "DELETE FROM servers WHERE heartbeat_at < ?", (now - SWEEP_AFTER,))
