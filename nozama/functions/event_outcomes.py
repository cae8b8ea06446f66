"""What becomes of an asynchronous invocation once it ran: retry, drop, or a destination.

The settings are the function's (or version's, or alias's) event invoke config,
with Lambda's defaults where it has none: two retries, events up to six hours
old. Lambda waits a minute before the first retry and two before the second;
NOZAMA_LAMBDA_RETRY_SECONDS sets that base (the tests make it short). A record
of the outcome goes to the OnSuccess or OnFailure destination function, shaped
as Lambda's destination records, as an asynchronous invocation of its own.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson

from nozama.model import arns
from nozama.store import function_event_configs, function_events
from nozama.store import functions as function_store

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE = 6 * 3600
RETRY_SECONDS = float(os.environ.get("NOZAMA_LAMBDA_RETRY_SECONDS", "60"))
LATEST = "$LATEST"


@dataclass(frozen=True)
class Settings:
    retries: int = DEFAULT_RETRIES
    max_age: int = DEFAULT_MAX_AGE
    on_success: str | None = None
    on_failure: str | None = None


def settings(conn, row) -> Settings:
    """The asynchronous invocation settings that apply to a queued event."""
    function = function_store.get(conn, row.region, row.account, row.function_name)
    if function is None:
        return Settings()
    key = row.qualifier or LATEST
    found = function_event_configs.get(conn, function.id, key)
    if found is None:
        return Settings()
    doc = found.doc
    destinations = doc.get("DestinationConfig") or {}
    return Settings(
        retries=doc.get("MaximumRetryAttempts", DEFAULT_RETRIES),
        max_age=doc.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE),
        on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
        on_failure=(destinations.get("OnFailure") or {}).get("Destination"))


def age(row, now: datetime) -> float:
    created = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return (now - created).total_seconds()


def retry_at(attempts: int, now: datetime) -> datetime:
    """When the next run of an event that failed `attempts` times may start (1, then 2 min)."""
    return now + timedelta(seconds=RETRY_SECONDS * attempts)


def _json_or_text(data: bytes):
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode(errors="replace")


def record(row, now: datetime, condition: str, attempts: int, result=None) -> dict:
    """A Lambda destination record (version 1.0) of the event's outcome."""
    qualifier = row.qualifier or LATEST
    doc = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": row.request_id,
            "functionArn": arns.arn("lambda", row.region, row.account,
                                    f"function:{row.function_name}:{qualifier}"),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json_or_text(bytes(row.payload)),
    }
    if result is not None:
        response = {"statusCode": 200, "executedVersion": result.executed_version}
        if result.outcome.function_error:
            response["functionError"] = "Unhandled"
        doc["responseContext"] = response
        doc["responsePayload"] = _json_or_text(result.outcome.payload)
    return doc


def deliver(conn, row, destination: str | None, doc: dict, now: datetime) -> None:
    """Queue the record as an asynchronous invocation of the destination function."""
    if not destination:
        return
    parsed = arns.parse(destination)
    if parsed is None:
        return
    _, name, *qualifier = parsed.resource.split(":")
    function_events.enqueue(conn, parsed.region, parsed.account, name,
                            qualifier[0] if qualifier else None, orjson.dumps(doc),
                            str(uuid.uuid4()), now)
