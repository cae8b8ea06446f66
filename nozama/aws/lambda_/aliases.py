"""CreateAlias, GetAlias, UpdateAlias, ListAliases and DeleteAlias.

An alias points at one version, and with a RoutingConfig sends a weighted share
of invocations to one more: the lever of canary and linear traffic shifting.
Its document is the AliasConfiguration the API returns; every change gets a new
RevisionId.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationException
from nozama.functions import notify
from nozama.aws.lambda_ import handlers
from nozama.functions.lookup import (LATEST, check_revision, find_alias, find_function,
                                     find_version, function_arn, function_ref, is_alias_name,
                                     new_revision_id)
from nozama.aws.lambda_.common import after_marker, function_of, listed_page, page_limit
from nozama.store import functions as function_store
from nozama.store.pagination import page


def _alias_name(text: str) -> str:
    # The model's pattern already refuses all-digit names; this keeps the rule here too.
    if not is_alias_name(text):
        raise ValidationException(f"1 validation error detected: Value '{text}' at 'name' failed "
                                  "to satisfy constraint: Member must satisfy regular expression "
                                  "pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    return text


def _version(ctx: RequestContext, conn: Connection, function: Row, version: str) -> str:
    """The version an alias may point at, as Lambda writes it ("01" is version 1)."""
    if version == LATEST:
        return version
    if not version.isdigit():  # $LATEST.PUBLISHED: no such thing here
        raise errors.lambda_.ResourceNotFoundException(
            f"Function not found: {function_arn(ctx, function.name, version)}")
    return str(find_version(ctx, conn, function, version).version)


def _routing(ctx: RequestContext, conn: Connection, function: Row, primary: str,
             routing: dict | None) -> dict | None:
    """The RoutingConfig to store, checked; None when it routes to no extra version.

    The model already bounds each weight to 0.0-1.0 and keeps $LATEST out of the keys.
    """
    weights = (routing or {}).get("AdditionalVersionWeights") or {}
    if not weights:
        return None
    if len(weights) > 1:
        raise errors.lambda_.InvalidParameterValueException(
            "Number of items in AdditionalVersionWeights cannot be greater than 1")
    [(extra, weight)] = weights.items()
    extra = str(int(extra))
    if extra == primary:
        raise errors.lambda_.InvalidParameterValueException(
            f"Invalid function version {primary}. Function version "
            f"{primary} is already included in routing configuration.")
    if primary == LATEST:
        raise errors.lambda_.InvalidParameterValueException(
            "$LATEST is not supported for an alias pointing to more than 1 version")
    find_version(ctx, conn, function, extra)
    return {"AdditionalVersionWeights": {extra: weight}}


def _document(ctx: RequestContext, function: Row, name: str, version: str, description: str,
              routing: dict | None) -> dict:
    doc = {"AliasArn": function_arn(ctx, function.name, name), "Name": name,
           "FunctionVersion": version, "Description": description,
           "RevisionId": new_revision_id()}
    if routing:
        doc["RoutingConfig"] = routing
    return doc


@handlers.operation("CreateAlias")
def create_alias(ctx: RequestContext, params: dict) -> dict:
    name = _alias_name(params["Name"])
    function_name = function_ref(ctx, params["FunctionName"]).name
    conflict = errors.lambda_.ResourceConflictException(
        f"Alias already exists: {function_arn(ctx, function_name, name)}")
    try:
        with ctx.store.write() as conn:
            function = find_function(ctx, conn, function_name)
            version = _version(ctx, conn, function, params["FunctionVersion"])
            if function_store.get_alias(conn, function.id, name) is not None:
                raise conflict
            routing = _routing(ctx, conn, function, version, params.get("RoutingConfig"))
            doc = _document(ctx, function, name, version, params.get("Description", ""),
                            routing)
            function_store.create_alias(conn, function.id, name, doc)
    except IntegrityError:
        raise conflict from None  # a concurrent CreateAlias won the race (PostgreSQL)
    notify.function_changed(ctx, function_name)
    return doc


@handlers.operation("GetAlias")
def get_alias(ctx: RequestContext, params: dict) -> dict:
    with function_of(ctx, params) as (conn, function):
        return find_alias(ctx, conn, function, params["Name"]).doc


@handlers.operation("UpdateAlias")
def update_alias(ctx: RequestContext, params: dict) -> dict:
    with function_of(ctx, params, write=True) as (conn, function):
        # Locked: an UpdateAlias on another server, or a deployment's step, waits, then
        # sees this one's RevisionId rather than both rewriting the same old alias.
        alias = find_alias(ctx, conn, function, params["Name"], lock=True)
        check_revision(params.get("RevisionId"), alias.doc["RevisionId"])
        version = alias.doc["FunctionVersion"]
        if "FunctionVersion" in params:
            version = _version(ctx, conn, function, params["FunctionVersion"])
        # An empty RoutingConfig clears the routing; none keeps it (checked again, as
        # the version it accompanies may have changed).
        routing = params["RoutingConfig"] if "RoutingConfig" in params \
            else alias.doc.get("RoutingConfig")
        routing = _routing(ctx, conn, function, version, routing)
        doc = _document(ctx, function, alias.name, version,
                        params.get("Description", alias.doc["Description"]), routing)
        function_store.update_alias(conn, alias.id, doc)
    notify.function_changed(ctx, function.name)
    return doc


@handlers.operation("ListAliases")
def list_aliases(ctx: RequestContext, params: dict) -> dict:
    limit = page_limit(params)
    after = after_marker(params, "ListAliases", str)
    version = params.get("FunctionVersion")
    if version is not None and version.isdigit():
        version = str(int(version))
    with function_of(ctx, params) as (conn, function):
        if version is None:
            rows = function_store.aliases(conn, function.id, after, limit + 1)
        else:
            rows = function_store.aliases_for_version(conn, function.id, version, after, limit + 1)
    rows, marker = page(rows, limit, "ListAliases", key=lambda row: row.name)
    return listed_page("Aliases", [row.doc for row in rows], marker)


@handlers.operation("DeleteAlias")
def delete_alias(ctx: RequestContext, params: dict) -> dict:
    with function_of(ctx, params, write=True) as (conn, function):
        alias = function_store.get_alias(conn, function.id, params["Name"], lock=True)
        if alias is None:
            return {}  # Lambda answers the delete of a missing alias with success
        function_store.delete_alias(conn, alias.id)
    notify.function_changed(ctx, function.name)
    return {}
