"""StartLiveTail: a session that streams the log events its groups ingest from now on.

The handler checks the request and returns the session as an async generator of
(stream member, value) pairs; the JSON protocol sends them as an AWS event stream
(kernel/eventstream.py) over chunked HTTP: a sessionStart, then every second a
sessionUpdate with the events ingested in that second (an empty list when none),
as AWS does. New events are found by a poll of the log_events primary key from the
last id seen (an index range holding only what is new), once a second: the same
cadence as AWS's updates, so no wake-up would show them sooner.

More than 500 matching events in a second are sampled down to 500 (sessionMetadata
sampled), and more than 5,000 new events in a second skip ahead to the newest, as
AWS drops what it cannot buffer. A session ends when the client disconnects (the
server closes the generator), or after 3 hours with SessionTimeoutException, as
AWS's does; NOZAMA_LIVE_TAIL_SECONDS sets that bound (read when the server starts).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import AsyncIterator

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws.logs import handlers
from nozama.aws.logs.common import find_group, name_in_arn
from nozama.aws.logs.filter_pattern import compile_pattern
from nozama.store import log_events as event_store
from nozama.store import log_streams as stream_store

SESSION_SECONDS = float(os.environ.get("NOZAMA_LIVE_TAIL_SECONDS", str(3 * 3600)))
UPDATE_SECONDS = 1.0
MAX_RESULTS = 500     # events in one sessionUpdate
MAX_BUFFERED = 5000   # new events read in one second


def _group_name(ctx: RequestContext, identifier: str) -> str:
    if not arns.is_arn(identifier) or identifier.endswith("*"):
        raise errors.logs.InvalidParameterException(
            f"'{identifier}' is not a log group ARN: specify each log group by its ARN, "
            "without a trailing '*'.")
    name = name_in_arn(ctx, identifier)
    if name is None:
        raise errors.logs.ResourceNotFoundException(
            f"The specified log group does not exist: {identifier}")
    return name


def _check_streams(params: dict) -> None:
    names, prefixes = params.get("logStreamNames"), params.get("logStreamNamePrefixes")
    if names and prefixes:
        raise errors.logs.InvalidParameterException(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive.")
    if (names or prefixes) and len(params["logGroupIdentifiers"]) != 1:
        raise errors.logs.InvalidParameterException(
            "logStreamNames and logStreamNamePrefixes can only be used with exactly one "
            "log group in logGroupIdentifiers.")


@handlers.operation("StartLiveTail")
def start_live_tail(ctx: RequestContext, params: dict) -> dict:
    identifiers = params["logGroupIdentifiers"]
    _check_streams(params)
    matches = compile_pattern(params.get("logEventFilterPattern") or "")
    names = [_group_name(ctx, identifier) for identifier in identifiers]
    with ctx.store.read() as conn:
        groups = {find_group(ctx, conn, name).id: identifier
                  for name, identifier in zip(names, identifiers)}
        start_after = event_store.last_id(conn)
    session = LiveTail(ctx, params, groups, matches, start_after)
    return {"responseStream": session.events()}


class LiveTail:
    def __init__(self, ctx: RequestContext, params: dict, groups: dict[int, str], matches,
                 after_id: int):
        self.ctx, self.params, self.groups, self.matches = ctx, params, groups, matches
        self.after_id = after_id
        self.stream_names = set(params.get("logStreamNames") or ())
        self.prefixes = tuple(params.get("logStreamNamePrefixes") or ())

    def start(self) -> dict:
        start = {"requestId": self.ctx.request_id, "sessionId": str(uuid.uuid4()),
                 "logGroupIdentifiers": self.params["logGroupIdentifiers"]}
        for key in ("logStreamNames", "logStreamNamePrefixes", "logEventFilterPattern"):
            if self.params.get(key) is not None:
                start[key] = self.params[key]
        return start

    async def events(self) -> AsyncIterator[tuple[str, dict]]:
        yield "sessionStart", self.start()
        deadline = self.ctx.clock.monotonic() + SESSION_SECONDS
        while True:
            left = deadline - self.ctx.clock.monotonic()
            await asyncio.sleep(max(0.0, min(UPDATE_SECONDS, left)))
            if self.ctx.clock.monotonic() >= deadline:
                yield "SessionTimeoutException", {
                    "message": "The Live Tail session ended: it reached its "
                               f"{SESSION_SECONDS:g}-second limit."}
                return
            results, sampled = self.poll()
            yield "sessionUpdate", {"sessionMetadata": {"sampled": sampled},
                                    "sessionResults": results}

    def _stream_wanted(self, name: str) -> bool:
        if self.stream_names:
            return name in self.stream_names
        return not self.prefixes or name.startswith(self.prefixes)

    def poll(self) -> tuple[list[dict], bool]:
        """The matching events ingested since the last poll, and whether they were sampled."""
        with self.ctx.store.read() as conn:
            rows = event_store.ingested_after(conn, list(self.groups), self.after_id,
                                              MAX_BUFFERED)
            sampled = len(rows) == MAX_BUFFERED
            if sampled:  # more than AWS buffers: the rest is dropped, the tail goes on
                self.after_id = event_store.last_id(conn)
            elif rows:
                self.after_id = rows[-1].id
            names = stream_store.names(conn, {row.stream_id for row in rows})
        # A stream deleted since its events were read has no name left: they go with it.
        found = [row for row in rows if row.stream_id in names
                 and self._stream_wanted(names[row.stream_id]) and self.matches(row.message)]
        if len(found) > MAX_RESULTS:
            step = len(found) / MAX_RESULTS
            found = [found[int(i * step)] for i in range(MAX_RESULTS)]
            sampled = True
        return [{"logStreamName": names[row.stream_id],
                 "logGroupIdentifier": self.groups[row.group_id], "message": row.message,
                 "timestamp": row.timestamp, "ingestionTime": row.ingestion_time}
                for row in found], sampled
