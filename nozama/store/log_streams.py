"""The log_streams table: the streams of each log group, with their event statistics."""

from __future__ import annotations

from sqlalchemy import (Connection, Row, Select, and_, case, delete, func, insert, or_, select,
                        update)

from nozama.store.log_groups import prefix_range
from nozama.store.schema import log_streams as ls


def get(conn: Connection, group_id: int, name: str) -> Row | None:
    return conn.execute(select(ls).where(ls.c.group_id == group_id, ls.c.name == name)).first()


def create(conn: Connection, region: str, account: str, group_id: int, name: str,
           creation_time: int) -> None:
    conn.execute(insert(ls).values(region=region, account=account, group_id=group_id, name=name,
                                   creation_time=creation_time, last_event_timestamp=0,
                                   stored_bytes=0, upload_sequence=0))


def delete_stream(conn: Connection, stream_id: int) -> None:
    conn.execute(delete(ls).where(ls.c.id == stream_id))


def delete_group(conn: Connection, group_id: int) -> None:
    conn.execute(delete(ls).where(ls.c.group_id == group_id))


def record_upload(conn: Connection, stream_id: int, first: int | None, last: int | None,
                  ingestion_time: int, size: int) -> int:
    """Fold one PutLogEvents batch into the stream's statistics; the new upload sequence."""
    values = {"upload_sequence": ls.c.upload_sequence + 1,
              "stored_bytes": ls.c.stored_bytes + size}
    if first is not None:
        # Atomic min/max in SQL: concurrent uploads to one stream don't lose updates.
        values["first_event_timestamp"] = case(
            (or_(ls.c.first_event_timestamp.is_(None), ls.c.first_event_timestamp > first),
             first), else_=ls.c.first_event_timestamp)
        values["last_event_timestamp"] = case(
            (ls.c.last_event_timestamp < last, last), else_=ls.c.last_event_timestamp)
        values["last_ingestion_time"] = ingestion_time
    conn.execute(update(ls).where(ls.c.id == stream_id).values(**values))
    return conn.execute(select(ls.c.upload_sequence).where(ls.c.id == stream_id)).scalar_one()


def forget_expired(conn: Connection, purged: dict[int, int],
                   first_timestamps: dict[int, int | None]) -> None:
    """Take purged bytes off the streams' storedBytes and move their first timestamps."""
    for stream_id, size in purged.items():
        conn.execute(update(ls).where(ls.c.id == stream_id).values(
            stored_bytes=ls.c.stored_bytes - size,
            first_event_timestamp=first_timestamps.get(stream_id)))


def stored_bytes(conn: Connection, group_ids: list[int]) -> dict[int, int]:
    rows = conn.execute(select(ls.c.group_id, func.sum(ls.c.stored_bytes))
                        .where(ls.c.group_id.in_(group_ids)).group_by(ls.c.group_id))
    return {group_id: int(total or 0) for group_id, total in rows}


def names(conn: Connection, stream_ids: set[int]) -> dict[int, str]:
    if not stream_ids:
        return {}
    rows = conn.execute(select(ls.c.id, ls.c.name).where(ls.c.id.in_(list(stream_ids))))
    return dict(rows.all())


def ids_query(group_id: int, names: list[str] | None, prefix: str | None) -> Select:
    """The ids of a group's streams named in `names` or starting with `prefix`."""
    query = select(ls.c.id).where(ls.c.group_id == group_id)
    if names is not None:
        query = query.where(ls.c.name.in_(names))
    if prefix:
        query = query.where(prefix_range(ls.c.name, prefix))
    return query


def search(conn: Connection, group_id: int, prefix: str | None, by_last_event: bool,
           descending: bool, after: list | None, limit: int) -> list[Row]:
    """Streams by name or by (last event timestamp, name), starting after the key `after`."""
    query = select(ls).where(ls.c.group_id == group_id)
    if prefix:
        query = query.where(prefix_range(ls.c.name, prefix))
    key = (ls.c.last_event_timestamp, ls.c.name) if by_last_event else (ls.c.name,)
    if after is not None:
        query = query.where(_beyond(key, after, descending))
    order = [c.desc() for c in key] if descending else list(key)
    return list(conn.execute(query.order_by(*order).limit(limit)))


def _beyond(key: tuple, after: list, descending: bool):
    if len(key) == 1:
        return key[0] < after[0] if descending else key[0] > after[0]
    (first, second), (a, b) = key, after
    if descending:
        return or_(first < a, and_(first == a, second < b))
    return or_(first > a, and_(first == a, second > b))
