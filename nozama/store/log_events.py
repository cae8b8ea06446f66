"""The log_events table: every ingested log event, read by indexed ranges only.

Events order by the key (timestamp, id), id being the ingestion sequence. A
stream's events are read through (stream_id, timestamp, id) and a group's
through (group_id, timestamp, id), starting strictly after or before a key,
so that paging never rereads or skips an event. Time bounds are `start`
inclusive and `end` exclusive.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, Select, delete, func, select, tuple_

from nozama.store import sql
from nozama.store.schema import log_events as le

Key = tuple[int, int]  # (timestamp, id)
_COLUMNS = (le.c.id, le.c.stream_id, le.c.timestamp, le.c.ingestion_time, le.c.message)


def insert_many(conn: Connection, rows: list[dict]) -> None:
    """One executemany on the driver's cursor for a whole batch (PutLogEvents, function
    logs): Core's per-row parameter processing would cost more than the inserts."""
    if rows:
        sql.run_many(conn, "INSERT INTO log_events (group_id, stream_id, timestamp, "
                           "ingestion_time, size, message) VALUES (?, ?, ?, ?, ?, ?)",
                     [(r["group_id"], r["stream_id"], r["timestamp"], r["ingestion_time"],
                       r["size"], r["message"]) for r in rows])


def _bounded(query: Select, start: int | None, end: int | None) -> Select:
    if start is not None:
        query = query.where(le.c.timestamp >= start)
    if end is not None:
        query = query.where(le.c.timestamp < end)
    return query


def after(conn: Connection, stream_id: int, key: Key | None, start: int | None,
          end: int | None, limit: int) -> list[Row]:
    """A stream's first `limit` events after `key` (from the start when None), oldest first."""
    query = _bounded(select(*_COLUMNS).where(le.c.stream_id == stream_id), start, end)
    if key is not None:
        query = query.where(tuple_(le.c.timestamp, le.c.id) > key)
    return list(conn.execute(query.order_by(le.c.timestamp, le.c.id).limit(limit)))


def before(conn: Connection, stream_id: int, key: Key | None, start: int | None,
           end: int | None, limit: int) -> list[Row]:
    """A stream's last `limit` events before `key` (from the end when None), newest first."""
    query = _bounded(select(*_COLUMNS).where(le.c.stream_id == stream_id), start, end)
    if key is not None:
        query = query.where(tuple_(le.c.timestamp, le.c.id) < key)
    return list(conn.execute(query.order_by(le.c.timestamp.desc(), le.c.id.desc())
                             .limit(limit)))


def scan(conn: Connection, group_id: int, stream_ids: Select | None, key: Key | None,
         start: int | None, end: int | None, limit: int) -> list[Row]:
    """A group's events after `key`, interleaved across streams, oldest first."""
    query = _bounded(select(*_COLUMNS).where(le.c.group_id == group_id), start, end)
    if stream_ids is not None:
        query = query.where(le.c.stream_id.in_(stream_ids.scalar_subquery()))
    if key is not None:
        query = query.where(tuple_(le.c.timestamp, le.c.id) > key)
    return list(conn.execute(query.order_by(le.c.timestamp, le.c.id).limit(limit)))


def purge(conn: Connection, group_id: int, cutoff: int) -> dict[int, int]:
    """Delete a group's events older than `cutoff`; the bytes purged per stream."""
    expired = le.c.group_id == group_id, le.c.timestamp < cutoff
    sizes = conn.execute(select(le.c.stream_id, func.sum(le.c.size)).where(*expired)
                         .group_by(le.c.stream_id))
    purged = {stream_id: int(size) for stream_id, size in sizes}
    if purged:
        conn.execute(delete(le).where(*expired))
    return purged


def first_timestamps(conn: Connection, stream_ids: list[int]) -> dict[int, int | None]:
    """The oldest event timestamp left in each stream (None when it has none)."""
    found = {}
    for stream_id in stream_ids:
        found[stream_id] = conn.execute(
            select(le.c.timestamp).where(le.c.stream_id == stream_id)
            .order_by(le.c.timestamp).limit(1)).scalar()
    return found


def delete_stream(conn: Connection, stream_id: int) -> None:
    conn.execute(delete(le).where(le.c.stream_id == stream_id))


def delete_group(conn: Connection, group_id: int) -> None:
    conn.execute(delete(le).where(le.c.group_id == group_id))


def last_id(conn: Connection) -> int:
    """The id of the newest event ingested (0 when none): where a Live Tail begins."""
    return conn.execute(select(func.max(le.c.id))).scalar() or 0


def ingested_after(conn: Connection, group_ids: list[int], after_id: int,
                   limit: int) -> list[Row]:
    """Events of the groups ingested after `after_id`, in ingestion order: a range of
    ix_log_events_group_id per group, so a tail's poll reads only what is new."""
    query = select(*_COLUMNS, le.c.group_id).where(le.c.id > after_id,
                                                   le.c.group_id.in_(group_ids))
    return list(conn.execute(query.order_by(le.c.id).limit(limit)))
