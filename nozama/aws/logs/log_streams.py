"""CreateLogStream, DeleteLogStream, DescribeLogStreams."""

from __future__ import annotations

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.logs import handlers
from nozama.aws.logs.common import (find_group, find_stream, group_name, log_stream_arn,
                                         now_ms)
from nozama.store import log_events as event_store
from nozama.store import log_streams as stream_store
from nozama.store.pagination import decode_token, page

DEFAULT_LIMIT = 50


def sequence_token(upload_sequence: int) -> str:
    # AWS's tokens are 56-digit numbers; Nozama's count the stream's uploads.
    return f"{upload_sequence:056d}"


def describe(ctx: RequestContext, group: Row, row: Row) -> dict:
    stream = {
        "logStreamName": row.name,
        "creationTime": row.creation_time,
        "arn": log_stream_arn(ctx, group.name, row.name),
        # AWS reports 0 for streams since 2019; the group's storedBytes is the real figure.
        "storedBytes": 0,
    }
    if row.first_event_timestamp is not None:
        stream["firstEventTimestamp"] = row.first_event_timestamp
    if row.last_ingestion_time is not None:
        # Kept when retention has purged every event since.
        stream.update(lastEventTimestamp=row.last_event_timestamp,
                      lastIngestionTime=row.last_ingestion_time)
    if row.upload_sequence:
        stream["uploadSequenceToken"] = sequence_token(row.upload_sequence)
    return stream


@handlers.operation("CreateLogStream")
def create_log_stream(ctx: RequestContext, params: dict) -> dict:
    name = params["logStreamName"]
    try:
        with ctx.store.write() as conn:
            group = find_group(ctx, conn, params["logGroupName"])
            if stream_store.get(conn, group.id, name) is not None:
                raise errors.logs.ResourceAlreadyExistsException(
                    "The specified log stream already exists")
            stream_store.create(conn, ctx.region, ctx.account_id, group.id, name, now_ms(ctx))
    except IntegrityError:
        # A concurrent CreateLogStream of the same name won the race (PostgreSQL).
        raise errors.logs.ResourceAlreadyExistsException(
            "The specified log stream already exists") from None
    return {}


@handlers.operation("DeleteLogStream")
def delete_log_stream(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        group = find_group(ctx, conn, params["logGroupName"])
        stream = find_stream(conn, group, params["logStreamName"])
        event_store.delete_stream(conn, stream.id)
        stream_store.delete_stream(conn, stream.id)
    return {}


def _ordering(params: dict) -> tuple[bool, bool, str]:
    """(by last event time, descending, the listing their nextTokens belong to)."""
    by_last_event = params.get("orderBy") == "LastEventTime"
    if by_last_event and params.get("logStreamNamePrefix"):
        raise errors.logs.InvalidParameterException(
            "Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(params.get("descending"))
    listing = f"DescribeLogStreams:{'time' if by_last_event else 'name'}:{int(descending)}"
    return by_last_event, descending, listing


@handlers.operation("DescribeLogStreams")
def describe_log_streams(ctx: RequestContext, params: dict) -> dict:
    limit = params.get("limit") or DEFAULT_LIMIT
    by_last_event, descending, listing = _ordering(params)
    key_types = (int, str) if by_last_event else (str,)
    after = decode_token(params.get("nextToken"), listing, *key_types,
                         error=errors.logs.InvalidParameterException)
    if after is not None and not by_last_event:
        after = [after]
    name = group_name(ctx, params)
    with ctx.store.read() as conn:
        group = find_group(ctx, conn, name)
        found = stream_store.search(conn, group.id, params.get("logStreamNamePrefix"),
                                    by_last_event, descending, after, limit + 1)
    key = (lambda r: [r.last_event_timestamp, r.name]) if by_last_event else (lambda r: r.name)
    rows, token = page(found, limit, listing, key=key)
    return {"logStreams": [describe(ctx, group, row) for row in rows],
            **({"nextToken": token} if token else {})}
