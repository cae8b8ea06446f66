"""What the Lambda operations share: errors, names and ARNs, finding functions,
versions and aliases, and the configuration documents the API returns."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row

from nozama.kernel.context import RequestContext
from nozama.kernel import errors
from nozama.model import arns
from nozama.store import functions as function_store

LATEST = "$LATEST"
# "name", "name:qualifier", "123456789012:function:name[:qualifier]" or the full ARN.
_PARTIAL_ARN = re.compile(r"^(\d{12}):function:([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$")
_NAME = re.compile(r"^([a-zA-Z0-9-_]{1,64})(?::(\$LATEST|[a-zA-Z0-9-_]+))?$")
_ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None


def function_ref(ctx: RequestContext, text: str, qualifier: str | None = None) -> FunctionRef:
    """The function (and qualifier, if any) that a FunctionName parameter names.

    A qualifier both in the name and in the Qualifier parameter must agree, as in Lambda.
    """
    found = None
    if arns.is_arn(text):
        parsed = arns.parse(text)
        if parsed is not None and parsed.service == "lambda":
            if parsed.region != ctx.region or parsed.account != ctx.account_id:
                raise errors.lambda_.ResourceNotFoundException(f"Function not found: {text}")
            found = _PARTIAL_ARN.match(f"{parsed.account}:{parsed.resource}")
    elif _PARTIAL_ARN.match(text):
        found = _PARTIAL_ARN.match(text)
        if found.group(1) != ctx.account_id:
            raise errors.lambda_.ResourceNotFoundException(f"Function not found: {text}")
    else:
        match = _NAME.match(text)
        if match:
            found = _PARTIAL_ARN.match(f"{ctx.account_id}:function:{text}")
    if found is None:
        raise errors.lambda_.InvalidParameterValueException(
            f"1 validation error detected: Value '{text}' at "
            "'functionName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:"
            "lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
    name, in_name = found.group(2), found.group(3)
    if in_name and qualifier and in_name != qualifier:
        raise errors.lambda_.InvalidParameterValueException(
            "The derived qualifier from the function name does not "
            "match the specified qualifier.")
    return FunctionRef(name, in_name or qualifier)


def function_arn(ctx: RequestContext, name: str, qualifier: str | None = None) -> str:
    resource = f"function:{name}" + (f":{qualifier}" if qualifier else "")
    return arns.arn("lambda", ctx.region, ctx.account_id, resource)


def find_function(ctx: RequestContext, conn: Connection, name: str) -> Row:
    row = function_store.get(conn, ctx.region, ctx.account_id, name)
    if row is None:
        raise errors.lambda_.ResourceNotFoundException(
            f"Function not found: {function_arn(ctx, name)}")
    return row


def find_version(ctx: RequestContext, conn: Connection, function: Row, version: str) -> Row:
    row = function_store.get_version(conn, function.id, int(version)) if version.isdigit() else None
    if row is None:
        raise errors.lambda_.ResourceNotFoundException(
            f"Function not found: {function_arn(ctx, function.name, version)}")
    return row


def find_alias(ctx: RequestContext, conn: Connection, function: Row, name: str,
               lock: bool = False) -> Row:
    """The alias, or ResourceNotFoundException; with lock, locked until the transaction
    ends (a deployment's record first, when the transaction also rewrites one)."""
    row = function_store.get_alias(conn, function.id, name, lock=lock)
    if row is None:
        raise errors.lambda_.ResourceNotFoundException(
            f"Cannot find alias arn: {function_arn(ctx, function.name, name)}")
    return row


def is_alias_name(text: str) -> bool:
    return bool(_ALIAS_NAME.match(text)) and text != LATEST


def configuration(ctx: RequestContext, conn: Connection, function: Row,
                  qualifier: str | None) -> dict:
    """The FunctionConfiguration of $LATEST, a version, or the version an alias points at."""
    if qualifier in (None, LATEST):
        return function.doc
    if qualifier.isdigit():
        return find_version(ctx, conn, function, qualifier).doc
    alias = find_alias(ctx, conn, function, qualifier)
    version = alias.doc["FunctionVersion"]
    return function.doc if version == LATEST else find_version(ctx, conn, function, version).doc


def new_revision_id() -> str:
    return str(uuid.uuid4())


def timestamp(moment: datetime) -> str:
    """Lambda's LastModified format: 2026-11-26T20:44:50.123+0000."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def check_revision(expected: str | None, actual: str) -> None:
    if expected is not None and expected != actual:
        raise errors.lambda_.PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id")


# ------------------------------------------------------------------ additions

ONLY_FUNCTIONS = ("This operation is permitted on Lambda functions only. Aliases and versions do "
                  "not support this operation. Please specify either a function name or an "
                  "unqualified function ARN.")
# What a version's configuration does not show (it never updates), and what lists leave out.
_NOT_ON_VERSIONS = ("LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode")
_NOT_IN_LISTS = ("State", "StateReason", "StateReasonCode") + _NOT_ON_VERSIONS


def unqualified_name(ctx: RequestContext, text: str) -> str:
    """The function a FunctionName names, refusing a version or alias (function-wide settings)."""
    ref = function_ref(ctx, text)
    if ref.qualifier is not None:
        raise errors.lambda_.InvalidParameterValueException(ONLY_FUNCTIONS)
    return ref.name


def version_out(doc: dict) -> dict:
    """A published version's FunctionConfiguration as the API shows it."""
    return {k: v for k, v in doc.items() if k not in _NOT_ON_VERSIONS}


def listed(doc: dict) -> dict:
    """A FunctionConfiguration as ListFunctions and ListVersionsByFunction show it."""
    return {k: v for k, v in doc.items() if k not in _NOT_IN_LISTS}


def renew_latest_revision(conn: Connection, function: Row) -> None:
    """Give $LATEST a new RevisionId, as Lambda does when its versions or tags change."""
    function_store.update_latest(conn, function.id,
                                 {**function.doc, "RevisionId": new_revision_id()})
