"""FilterLogEvents: a group's events across streams, matched against a filter pattern.

Events come interleaved across streams in (timestamp, ingestion) order, as AWS
always returns them now. Candidates are read in indexed batches from the
token's position and matched here; a call stops at `limit` matches, at 1 MB
of events, or after SCAN_BUDGET candidates, and its nextToken resumes right
after the last event it looked at. Like AWS, a page may hold fewer events
than asked for (even none) and still carry a nextToken.
"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.logs import handlers
from nozama.aws.logs.common import (MAX_BATCH_BYTES, earliest, event_size, find_group,
                                         group_name, now_ms, retention_cutoff)
from nozama.aws.logs.filter_pattern import compile_pattern
from nozama.store import log_events as event_store
from nozama.store import log_streams as stream_store
from nozama.store.pagination import decode_token, encode_token

MAX_EVENTS = 10_000
SCAN_BUDGET = 100_000
LISTING = "FilterLogEvents"


class _Page:
    def __init__(self, limit: int):
        self.limit, self.rows, self.size = limit, [], 0

    def full_with(self, row) -> bool:
        """Whether the page is full before `row`, which is added otherwise."""
        cost = event_size(row.message)
        if self.rows and self.size + cost > MAX_BATCH_BYTES:
            return True
        self.rows.append(row)
        self.size += cost
        return False


def _collect(conn, group, streams, key, start, end, matches, limit):
    """(matching rows, position to resume from, whether more may follow)."""
    found, scanned, batch = _Page(limit), 0, min(max(limit, 500), MAX_EVENTS)
    while True:
        # Never read past the budget: the token then resumes after the last event read.
        want = min(batch, SCAN_BUDGET - scanned)
        rows = event_store.scan(conn, group.id, streams, key, start, end, want)
        for row in rows:
            if matches(row.message):
                if found.full_with(row):
                    return found.rows, key, True
                if len(found.rows) == limit:
                    return found.rows, (row.timestamp, row.id), True
            key = (row.timestamp, row.id)
        scanned += len(rows)
        if len(rows) < want:
            return found.rows, key, False
        if scanned >= SCAN_BUDGET:
            return found.rows, key, True


def _stream_filter(params: dict, group_id: int):
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise errors.logs.InvalidParameterException(
            "logStreamNames and logStreamNamePrefix are mutually exclusive.")
    if not names and not prefix:
        return None
    return stream_store.ids_query(group_id, names, prefix)


@handlers.operation("FilterLogEvents")
def filter_log_events(ctx: RequestContext, params: dict) -> dict:
    matches = compile_pattern(params.get("filterPattern") or "")
    limit = params.get("limit") or MAX_EVENTS
    key = decode_token(params.get("nextToken"), LISTING, int, int,
                       error=errors.logs.InvalidParameterException)
    # endTime is inclusive here (GetLogEvents' is not).
    end = params["endTime"] + 1 if params.get("endTime") is not None else None
    with ctx.store.read() as conn:
        group = find_group(ctx, conn, group_name(ctx, params))
        start = earliest(params.get("startTime"), retention_cutoff(group, now_ms(ctx)))
        streams = _stream_filter(params, group.id)
        rows, key, more = _collect(conn, group, streams, tuple(key) if key else None, start,
                                   end, matches, limit)
        names = stream_store.names(conn, {row.stream_id for row in rows})
    events = [{"logStreamName": names[r.stream_id], "timestamp": r.timestamp,
               "message": r.message, "ingestionTime": r.ingestion_time, "eventId": str(r.id)}
              for r in rows]
    result = {"events": events, "searchedLogStreams": []}
    if more and key is not None:
        result["nextToken"] = encode_token(LISTING, list(key))
    return result
