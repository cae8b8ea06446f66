"""Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): asynchronous invocation settings.

One configuration per function ($LATEST), version or alias: how many times a failed
event is retried (MaximumRetryAttempts, 0-2, default 2), how old an event may grow
before it is dropped (MaximumEventAgeInSeconds, 60-21600, default 6 hours), and
where the record of a success or a failure goes (DestinationConfig). The event
queue (functions/events.py) honours them. Destinations are Lambda functions only:
Nozama has no SQS, SNS or EventBridge to deliver to, and refuses rather than drop.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws.lambda_ import handlers
from nozama.aws.lambda_.common import after_marker, listed_page, page_limit
from nozama.functions.lookup import (LATEST, find_alias, find_function, find_version,
                                     function_arn, function_ref)
from nozama.store import function_event_configs
from nozama.store.pagination import page


def _target(ctx: RequestContext, conn: Connection, params: dict) -> tuple[Row, str, str]:
    """(function, settings key, qualified FunctionArn); the version or alias must exist."""
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    function = find_function(ctx, conn, ref.name)
    key = ref.qualifier or LATEST
    if key.isdigit():
        key = str(find_version(ctx, conn, function, key).version)
    elif key != LATEST:
        find_alias(ctx, conn, function, key)
    return function, key, function_arn(ctx, ref.name, key)


def _destination(ctx: RequestContext, kind: str, found: dict | None) -> dict:
    target = (found or {}).get("Destination")
    if not target:
        return {}
    parsed = arns.parse(target)
    if parsed is None or parsed.service != "lambda" or not parsed.resource.startswith(
            "function:"):
        raise errors.lambda_.InvalidParameterValueException(
            f"The destination ARN {target} is not supported: Nozama delivers {kind} records "
            "of asynchronous invocations to Lambda functions only.")
    if (parsed.region, parsed.account) != (ctx.region, ctx.account_id):
        raise errors.lambda_.InvalidParameterValueException(
            f"The destination function {target} must be in this account and Region.")
    return {"Destination": target}


def _settings(ctx: RequestContext, params: dict, base: dict) -> dict:
    """The configuration `params` sets over `base` (Put passes none: it replaces)."""
    doc = {k: v for k, v in base.items() if k in ("MaximumRetryAttempts",
                                                  "MaximumEventAgeInSeconds")}
    for name in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if params.get(name) is not None:
            doc[name] = params[name]
    destinations = dict(base.get("DestinationConfig") or {"OnSuccess": {}, "OnFailure": {}})
    given = params.get("DestinationConfig") or {}
    for kind, label in (("OnSuccess", "success"), ("OnFailure", "failure")):
        if kind in given:
            destinations[kind] = _destination(ctx, label, given[kind])
    doc["DestinationConfig"] = destinations
    return doc


def _save(ctx: RequestContext, params: dict, replace: bool) -> dict:
    with ctx.store.write() as conn:
        function, key, arn = _target(ctx, conn, params)
        found = function_event_configs.get(conn, function.id, key)
        base = {} if replace or found is None else found.doc
        doc = {"LastModified": ctx.clock.time(), "FunctionArn": arn,
               **_settings(ctx, params, base)}
        function_event_configs.put(conn, function.id, key, doc)
    return doc


def _missing(arn: str) -> errors.ServiceError:
    return errors.lambda_.ResourceNotFoundException(
        f"The function {arn} doesn't have an EventInvokeConfig")


@handlers.operation("PutFunctionEventInvokeConfig")
def put_function_event_invoke_config(ctx: RequestContext, params: dict) -> dict:
    return _save(ctx, params, replace=True)


@handlers.operation("UpdateFunctionEventInvokeConfig")
def update_function_event_invoke_config(ctx: RequestContext, params: dict) -> dict:
    return _save(ctx, params, replace=False)


@handlers.operation("GetFunctionEventInvokeConfig")
def get_function_event_invoke_config(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        function, key, arn = _target(ctx, conn, params)
        found = function_event_configs.get(conn, function.id, key)
    if found is None:
        raise _missing(arn)
    return found.doc


@handlers.operation("DeleteFunctionEventInvokeConfig")
def delete_function_event_invoke_config(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        function, key, arn = _target(ctx, conn, params)
        if function_event_configs.get(conn, function.id, key) is None:
            raise _missing(arn)
        function_event_configs.remove(conn, function.id, key)
    return {}


@handlers.operation("ListFunctionEventInvokeConfigs")
def list_function_event_invoke_configs(ctx: RequestContext, params: dict) -> dict:
    limit = page_limit(params)
    after = after_marker(params, "ListFunctionEventInvokeConfigs", str)
    name = function_ref(ctx, params["FunctionName"]).name
    with ctx.store.read() as conn:
        function = find_function(ctx, conn, name)
        rows = function_event_configs.listing(conn, function.id, after, limit + 1)
    items, marker = page([(row.qualifier, row.doc) for row in rows], limit,
                         "ListFunctionEventInvokeConfigs", key=lambda item: item[0])
    return listed_page("FunctionEventInvokeConfigs", [doc for _, doc in items], marker)
