"""The function_events table: asynchronous invocations waiting to run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from nozama.store.schema import function_events as fe


def enqueue(conn: Connection, region: str, account: str, function_name: str,
            qualifier: str | None, payload: bytes, request_id: str, created_at: datetime) -> None:
    conn.execute(insert(fe).values(region=region, account=account, function_name=function_name,
                                   qualifier=qualifier, payload=payload, request_id=request_id,
                                   created_at=created_at))


def oldest(conn: Connection, after_id: int, limit: int, now: datetime) -> list[Row]:
    """The events that may run at `now` (a retry waits for its time), oldest first."""
    return list(conn.execute(select(fe).where(
        fe.c.id > after_id, or_(fe.c.not_before.is_(None), fe.c.not_before <= now))
        .order_by(fe.c.id).limit(limit)))


def retry(conn: Connection, event_id: int, attempts: int, not_before: datetime) -> None:
    """Keep a failed event for another run, after `not_before`."""
    conn.execute(update(fe).where(fe.c.id == event_id)
                 .values(attempts=attempts, not_before=not_before))


def remove(conn: Connection, event_id: int) -> None:
    conn.execute(delete(fe).where(fe.c.id == event_id))


def remove_function(conn: Connection, region: str, account: str, function_name: str) -> None:
    conn.execute(delete(fe).where(fe.c.region == region, fe.c.account == account,
                                  fe.c.function_name == function_name))
