"""The controllers' lease: which server leads, until when, and with which epoch.

One row per lease name. A server takes the lease only once it has expired, and each
new holder raises the epoch: the epoch is the fencing token every leader transaction
checks (`check`), so a leader that stalled past its lease cannot commit once another
server has taken over. On PostgreSQL the lease is timed by the database's own clock
(clock_timestamp()), so servers' clocks need not agree; the check takes the row FOR
SHARE, which makes a takeover wait for a fenced transaction already under way (and
that transaction cannot stall it long: it runs with a short idle-in-transaction
timeout). SQLite serves one host and one writer at a time (BEGIN IMMEDIATE), so the
caller's clock times the lease there and a plain read is the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from nozama.store import sql
from nozama.store.availability import StoreUnavailable

CONTROLLERS = "controllers"


class Fenced(StoreUnavailable):
    """A leader's write after its lease passed to another server: refused, not committed.
    To the controller that tried it the store is unavailable, and it waits quietly as it
    does through an outage while the leadership runner stops it."""


@dataclass(frozen=True)
class Lease:
    holder: str    # the server id
    epoch: int


def acquire(conn: Connection, holder: str, now: datetime, seconds: float,
            name: str = CONTROLLERS) -> Lease | None:
    """Take the lease if nobody holds it or it has expired; its new epoch, else None."""
    if _postgres(conn):
        # A takeover waits for a fenced transaction's share lock at most this long.
        sql.run(conn, "SET LOCAL lock_timeout = 2000")
        epoch = sql.scalar(conn, (
            "INSERT INTO leadership (name, holder, epoch, expires_at) VALUES "
            "(?, ?, 1, clock_timestamp() + make_interval(secs => ?)) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "epoch = leadership.epoch + 1, expires_at = excluded.expires_at "
            "WHERE leadership.expires_at < clock_timestamp() RETURNING epoch"),
            (name, holder, seconds))
    else:
        epoch = sql.scalar(conn, (
            "INSERT INTO leadership (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "epoch = leadership.epoch + 1, expires_at = excluded.expires_at "
            "WHERE leadership.expires_at < ? RETURNING epoch"),
            (name, holder, now + timedelta(seconds=seconds), now))
    return Lease(holder, int(epoch)) if epoch is not None else None


def renew(conn: Connection, lease: Lease, now: datetime, seconds: float,
          name: str = CONTROLLERS) -> bool:
    """Extend a lease still ours; False if it expired or passed to another server."""
    if _postgres(conn):
        changed = sql.run(conn, (
            "UPDATE leadership SET expires_at = clock_timestamp() + make_interval(secs => ?) "
            "WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > clock_timestamp()"),
            (seconds, name, lease.holder, lease.epoch))
    else:
        changed = sql.run(conn, (
            "UPDATE leadership SET expires_at = ? "
            "WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ?"),
            (now + timedelta(seconds=seconds), name, lease.holder, lease.epoch, now))
    return changed == 1


def release(conn: Connection, lease: Lease, now: datetime, name: str = CONTROLLERS) -> None:
    """Give the lease up at a clean stop, so another server takes it at its next try."""
    expiry = "clock_timestamp() - interval '1 millisecond'" if _postgres(conn) else "?"
    params = () if _postgres(conn) else (now - timedelta(milliseconds=1),)
    sql.run(conn, f"UPDATE leadership SET expires_at = {expiry} "
                  "WHERE name = ? AND holder = ? AND epoch = ?",
            (*params, name, lease.holder, lease.epoch))


def check(conn: Connection, lease: Lease, now: datetime, name: str = CONTROLLERS) -> None:
    """Raise Fenced unless `lease` is still the live one: the first statement of every
    leader transaction."""
    if _postgres(conn):
        held = sql.scalar(conn, (
            "SELECT 1 FROM leadership WHERE name = ? AND holder = ? AND epoch = ? "
            "AND expires_at > clock_timestamp() FOR SHARE"), (name, lease.holder, lease.epoch))
        # A leader that stalls inside this transaction must not hold off a takeover.
        sql.run(conn, "SET LOCAL idle_in_transaction_session_timeout = 2000")
    else:
        held = sql.scalar(conn, (
            "SELECT 1 FROM leadership WHERE name = ? AND holder = ? AND epoch = ? "
            "AND expires_at > ?"), (name, lease.holder, lease.epoch, now))
    if held is None:
        raise Fenced(f"epoch {lease.epoch} of {lease.holder} is no longer the leader's")


def current(conn: Connection, name: str = CONTROLLERS):
    """The lease row (holder, epoch, expires_at), or None before any server led."""
    return sql.one(conn, "SELECT holder, epoch, expires_at FROM leadership WHERE name = ?",
                   (name,))


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"
