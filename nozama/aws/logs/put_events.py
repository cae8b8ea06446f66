"""PutLogEvents: AWS's batch rules, then one insert for the whole batch.

A batch must be in chronological order and at most 1,048,576 bytes (UTF-8
messages plus 26 bytes an event); otherwise the call fails. Events more than
2 hours in the future, older than 14 days, or older than the group's
retention are left out and reported by index in rejectedLogEventsInfo; the
rest must not span more than 24 hours. Sequence tokens are accepted and
ignored, as AWS does now.
"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.logs import handlers
from nozama.aws.logs.common import (DAY_MS, MAX_BATCH_BYTES, event_size, find_group,
                                         find_stream, now_ms, retention_cutoff)
from nozama.aws.logs.log_streams import sequence_token
from nozama.aws.logs.retention import purge_expired
from nozama.store import log_events as event_store
from nozama.store import log_streams as stream_store

HOUR_MS = 3_600_000
MAX_FUTURE = 2 * HOUR_MS
MAX_AGE = 14 * DAY_MS
MAX_SPAN = 24 * HOUR_MS


def check_batch(events: list[dict]) -> None:
    """The rules whose violation fails the whole call."""
    for previous, event in zip(events, events[1:]):
        if event["timestamp"] < previous["timestamp"]:
            raise errors.logs.InvalidParameterException(
                "Log events in a single PutLogEvents request must be in chronological order.")
    size = sum(event_size(event["message"]) for event in events)
    if size > MAX_BATCH_BYTES:
        raise errors.logs.InvalidParameterException(
            f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")


def sort_out(events: list[dict], now: int, cutoff: int | None) -> tuple[slice, dict]:
    """The slice of events to keep, and rejectedLogEventsInfo for the others.

    Events are in chronological order, so the rejected ones are a prefix (too
    old or expired) and a suffix (too new).
    """
    timestamps = [event["timestamp"] for event in events]
    rejected = {}
    too_old = _last_before(timestamps, now - MAX_AGE)
    if too_old is not None:
        rejected["tooOldLogEventEndIndex"] = too_old
    expired = _last_before(timestamps, cutoff) if cutoff is not None else None
    if expired is not None:
        rejected["expiredLogEventEndIndex"] = expired
    too_new = next((i for i, t in enumerate(timestamps) if t > now + MAX_FUTURE), None)
    if too_new is not None:
        rejected["tooNewLogEventStartIndex"] = too_new
    start = max(-1 if too_old is None else too_old, -1 if expired is None else expired) + 1
    return slice(start, len(events) if too_new is None else too_new), rejected


def _last_before(timestamps: list[int], limit: int) -> int | None:
    last = None
    for i, timestamp in enumerate(timestamps):
        if timestamp >= limit:
            break
        last = i
    return last


@handlers.operation("PutLogEvents")
def put_log_events(ctx: RequestContext, params: dict) -> dict:
    events = params["logEvents"]
    check_batch(events)
    now = now_ms(ctx)
    with ctx.store.write() as conn:
        group = find_group(ctx, conn, params["logGroupName"])
        stream = find_stream(conn, group, params["logStreamName"])
        keep, rejected = sort_out(events, now, retention_cutoff(group, now))
        accepted = events[keep]
        if accepted and accepted[-1]["timestamp"] - accepted[0]["timestamp"] > MAX_SPAN:
            raise errors.logs.InvalidParameterException(
                "The batch of log events in a single PutLogEvents request cannot span more "
                "than 24 hours.")
        purge_expired(conn, group, now)
        group_id, stream_id = group.id, stream.id  # Row attributes are slow in a 10,000 loop
        rows = [{"group_id": group_id, "stream_id": stream_id, "timestamp": e["timestamp"],
                 "ingestion_time": now, "size": len(e["message"].encode()),
                 "message": e["message"]} for e in accepted]
        event_store.insert_many(conn, rows)
        sequence = stream_store.record_upload(
            conn, stream.id, accepted[0]["timestamp"] if accepted else None,
            accepted[-1]["timestamp"] if accepted else None, now,
            sum(row["size"] for row in rows))
    result = {"nextSequenceToken": sequence_token(sequence)}
    if rejected:
        result["rejectedLogEventsInfo"] = rejected
    return result
