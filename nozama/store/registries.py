"""The registries table: the `nozama registry` processes that serve ECR's images, by the
address clients push to and pull from. Each renews its heartbeat while it runs; the API
names the freshest one as the ECR proxy endpoint, and agents pull from it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, delete, select

from nozama.store import sql
from nozama.store.schema import registries as rg

# A registry whose heartbeat is older than this is taken for gone.
STALE_AFTER = timedelta(seconds=30)


def announce(conn: Connection, address: str, scheme: str, now: datetime,
             started_at: datetime) -> None:
    sql.run(conn, "INSERT INTO registries (address, scheme, started_at, heartbeat_at) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET "
                  "scheme = excluded.scheme, started_at = excluded.started_at, "
                  "heartbeat_at = excluded.heartbeat_at",
            (address, scheme, started_at, now))


def withdraw(conn: Connection, address: str) -> None:
    conn.execute(delete(rg).where(rg.c.address == address))


def current(conn: Connection, now: datetime) -> Row | None:
    """The registry with the freshest heartbeat, unless every one is stale."""
    return conn.execute(select(rg).where(rg.c.heartbeat_at > now - STALE_AFTER)
                        .order_by(rg.c.heartbeat_at.desc()).limit(1)).first()
