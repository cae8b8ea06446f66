"""Invoke: RequestResponse waits for the function, Event queues it durably, DryRun checks;
and InvokeAsync, Invoke's deprecated asynchronous form.

The handler resolves the route (function, version or alias) and admits the
execution against the concurrency limits before anything runs, so a throttled
or unknown function costs nothing; the invocation itself is a coroutine the
gateway awaits while the worker runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

import orjson

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.functions import notify
from nozama.kernel.http import PAYLOAD_CONTENT_TYPE
from nozama.functions.limits import Throttled
from nozama.aws.lambda_ import handlers
from nozama.functions.lookup import function_ref
from nozama.store import function_events

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD = 1024 * 1024
MAX_CLIENT_CONTEXT = 3583


@handlers.operation("Invoke")
def invoke(ctx: RequestContext, params: dict):
    kind = params.get("InvocationType", "RequestResponse")
    payload = params.get("Payload") or b""
    _check_payload(payload, MAX_EVENT_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD)
    client_context = _client_context(params.get("ClientContext"))
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    route = ctx.functions.routes.route(ctx, ref.name, ref.qualifier)
    if kind == "DryRun":
        return {"StatusCode": 204}
    if kind == "Event":
        _enqueue(ctx, ref, payload)
        return {"StatusCode": 202}
    try:
        ctx.functions.admit(route)
    except Throttled as throttled:
        raise errors.lambda_.TooManyRequestsException(
            "Rate Exceeded.", Reason=throttled.reason) from None
    return _run(ctx, route, payload or b"{}", client_context, params.get("LogType") == "Tail")


def _enqueue(ctx: RequestContext, ref, payload: bytes) -> None:
    """Queue an asynchronous invocation durably; the 202 goes once it is committed."""
    with ctx.store.write() as conn:
        function_events.enqueue(conn, ctx.region, ctx.account_id, ref.name, ref.qualifier,
                                payload or b"{}", ctx.request_id, ctx.clock.now())
    notify.event_queued(ctx.wakeups)


@handlers.operation("InvokeAsync")
def invoke_async(ctx: RequestContext, params: dict) -> dict:
    """The deprecated asynchronous Invoke (2014-11-13): an Event invocation, Status 202."""
    payload = params.get("InvokeArgs") or b""
    if not isinstance(payload, bytes):
        payload = payload.read() if hasattr(payload, "read") else bytes(payload)
    _check_payload(payload, MAX_EVENT_PAYLOAD)
    ref = function_ref(ctx, params["FunctionName"])
    ctx.functions.routes.route(ctx, ref.name, ref.qualifier)  # it must exist
    _enqueue(ctx, ref, payload)
    return {"Status": 202}


async def _run(ctx: RequestContext, route, payload: bytes, client_context: str | None,
               tail: bool) -> dict:
    # The invocation is a task of its own that the request waits for: a caller that hangs
    # up does not stop it half-way (its worker would be lost), as in Lambda.
    result = await asyncio.shield(asyncio.ensure_future(
        ctx.functions.invoke(route, payload, client_context, tail, ctx.request_id)))
    # Lambda types the function's answer as JSON, whatever the function returned.
    answer = {"StatusCode": 200, "Payload": result.outcome.payload,
              "ExecutedVersion": result.executed_version,
              PAYLOAD_CONTENT_TYPE: "application/json"}
    if result.outcome.function_error:
        answer["FunctionError"] = "Unhandled"
    if result.log_tail is not None:
        answer["LogResult"] = result.log_tail
    return answer


def _check_payload(payload: bytes, limit: int) -> None:
    if len(payload) > limit:
        raise errors.lambda_.RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the "
            "InvokeFunction operation")
    if payload:
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise errors.lambda_.InvalidRequestContentException(
                f"Could not parse request body into json: {error}") from None


def _client_context(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        decoded = base64.b64decode(text, validate=True)
        orjson.loads(decoded)
    except (binascii.Error, ValueError):
        # Lambda's own answer to a bad context: InvalidRequestContentException.
        raise errors.lambda_.InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON "
            "object.") from None
    if len(decoded) > MAX_CLIENT_CONTEXT:
        raise errors.lambda_.InvalidParameterValueException(
            "Client context must be at most 3583 bytes.")
    return decoded.decode()
