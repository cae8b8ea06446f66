"""GetLogEvents: one stream's events, paged forward and backward as AWS does.

A token is a position between events, written as AWS writes them:
`f/<56 digits>/s` reads forward (events after the position), `b/<56 digits>/s`
backward (events before it). The digits hold the event key (timestamp, id).
A page's nextForwardToken sits after its last event and nextBackwardToken
before its first; a page with no events hands back the very token it was
given, which is how clients (`aws logs get-log-events`, SDK loops) know to stop.
"""

from __future__ import annotations

import re

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.logs import handlers
from nozama.aws.logs.common import (MAX_BATCH_BYTES, earliest, event_size, find_group,
                                         find_stream, group_name, now_ms, retention_cutoff)
from nozama.store import log_events as event_store

MAX_EVENTS = 10_000
_TOKEN = re.compile(r"([fb])/(\d{20})(\d{36})/s")
_START = (0, 0)  # before every event


def encode(direction: str, key: tuple[int, int]) -> str:
    return f"{direction}/{key[0]:020d}{key[1]:036d}/s"


def decode(token: str) -> tuple[str, tuple[int, int]]:
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise errors.logs.InvalidParameterException("The specified nextToken is invalid.")
    return match.group(1), (int(match.group(2)), int(match.group(3)))


def _within_size(rows: list) -> list:
    """The leading rows that fit in a 1 MB response (always at least one)."""
    kept, size = [], 0
    for row in rows:
        size += event_size(row.message)
        if kept and size > MAX_BATCH_BYTES:
            break
        kept.append(row)
    return kept


def _read(ctx: RequestContext, params: dict, direction: str, key) -> list:
    """The page's events, oldest first."""
    limit = params.get("limit") or MAX_EVENTS
    with ctx.store.read() as conn:
        group = find_group(ctx, conn, group_name(ctx, params))
        stream = find_stream(conn, group, params["logStreamName"])
        start = earliest(params.get("startTime"), retention_cutoff(group, now_ms(ctx)))
        end = params.get("endTime")
        if direction == "f":
            return _within_size(event_store.after(conn, stream.id, key, start, end, limit))
        return _within_size(event_store.before(conn, stream.id, key, start, end, limit))[::-1]


def _tokens(rows: list, given: str | None, direction: str, key) -> dict:
    if rows:
        return {"nextForwardToken": encode("f", (rows[-1].timestamp, rows[-1].id)),
                "nextBackwardToken": encode("b", (rows[0].timestamp, rows[0].id))}
    key = key or _START
    if direction == "f":
        # Backward from here includes the event at the position itself.
        other = encode("b", (key[0], key[1] + 1))
    else:
        other = encode("f", (key[0], max(key[1] - 1, 0)))
    same = given or encode(direction, key)
    return {"nextForwardToken": same if direction == "f" else other,
            "nextBackwardToken": same if direction == "b" else other}


@handlers.operation("GetLogEvents")
def get_log_events(ctx: RequestContext, params: dict) -> dict:
    given = params.get("nextToken")
    if given:
        direction, key = decode(given)
    else:
        direction, key = ("f" if params.get("startFromHead") else "b"), None
    rows = _read(ctx, params, direction, key)
    events = [{"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_time}
              for r in rows]
    return {"events": events, **_tokens(rows, given, direction, key)}
