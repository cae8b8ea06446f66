"""AddPermission, RemovePermission and GetPolicy: a function's resource-based policy.

Lambda keeps one policy per function and one per version or alias (Qualifier),
and builds each statement from the request: the principal as IAM writes it (a
service, an account's root, an ARN or "*"), the function's (qualified) ARN as
Resource, and Conditions for SourceArn, SourceAccount, PrincipalOrgID,
EventSourceToken and FunctionUrlAuthType. Nozama records and returns the policy;
it does not yet enforce it (requests are not authenticated until the security
issue lands), which docs/compatibility.md says.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.lambda_ import handlers
from nozama.functions.lookup import (LATEST, find_alias, find_function, find_version,
                                     function_arn, function_ref, new_revision_id)
from nozama.store import function_policies

MAX_POLICY = 20 * 1024  # bytes: Lambda's limit on a function's resource-based policy
_ACCOUNT = re.compile(r"^\d{12}$")


def _target(ctx: RequestContext, conn: Connection, params: dict) -> tuple[Row, str, str]:
    """(function, policy key, the Resource ARN) of the request; the qualifier must exist."""
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    function = find_function(ctx, conn, ref.name)
    qualifier = ref.qualifier
    if qualifier in (None, LATEST):
        return function, "", function_arn(ctx, ref.name)
    if qualifier.isdigit():
        qualifier = str(find_version(ctx, conn, function, qualifier).version)
    else:
        find_alias(ctx, conn, function, qualifier)
    return function, qualifier, function_arn(ctx, ref.name, qualifier)


def _principal(text: str):
    if text == "*":
        return "*"
    if _ACCOUNT.match(text):
        return {"AWS": f"arn:aws:iam::{text}:root"}
    if text.startswith("arn:"):
        return {"AWS": text}
    return {"Service": text}


def statement(params: dict, resource: str) -> dict:
    """The policy statement AddPermission adds, as Lambda writes it."""
    conditions: dict[str, dict] = {}

    def condition(operator: str, key: str, value: str | None) -> None:
        if value:
            conditions.setdefault(operator, {})[key] = value
    condition("StringEquals", "AWS:SourceAccount", params.get("SourceAccount"))
    condition("StringEquals", "aws:PrincipalOrgID", params.get("PrincipalOrgID"))
    condition("StringEquals", "lambda:EventSourceToken", params.get("EventSourceToken"))
    condition("StringEquals", "lambda:FunctionUrlAuthType", params.get("FunctionUrlAuthType"))
    if params.get("InvokedViaFunctionUrl"):
        condition("Bool", "lambda:InvokedViaFunctionUrl", "true")
    condition("ArnLike", "AWS:SourceArn", params.get("SourceArn"))
    found = {"Sid": params["StatementId"], "Effect": "Allow",
             "Principal": _principal(params["Principal"]), "Action": params["Action"],
             "Resource": resource}
    if conditions:
        found["Condition"] = conditions
    return found


def _check_revision(params: dict, policy: Row | None) -> None:
    expected = params.get("RevisionId")
    if expected is not None and (policy is None or policy.revision_id != expected):
        raise errors.lambda_.PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetPolicy API to retrieve the latest Revision Id")


@handlers.operation("AddPermission")
def add_permission(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        function, key, resource = _target(ctx, conn, params)
        policy = function_policies.get(conn, function.id, key)
        _check_revision(params, policy)
        doc = policy.doc if policy is not None else {
            "Version": "2012-10-17", "Id": "default", "Statement": []}
        sid = params["StatementId"]
        if any(found["Sid"] == sid for found in doc["Statement"]):
            raise errors.lambda_.ResourceConflictException(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement.")
        added = statement(params, resource)
        doc = {**doc, "Statement": [*doc["Statement"], added]}
        if len(json.dumps(doc, separators=(",", ":"))) > MAX_POLICY:
            raise errors.lambda_.PolicyLengthExceededException(
                "The final policy size is bigger than the limit.")
        function_policies.put(conn, function.id, key, doc, new_revision_id())
    return {"Statement": json.dumps(added, separators=(",", ":"))}


@handlers.operation("RemovePermission")
def remove_permission(ctx: RequestContext, params: dict) -> dict:
    sid = params["StatementId"]
    with ctx.store.write() as conn:
        function, key, _ = _target(ctx, conn, params)
        policy = function_policies.get(conn, function.id, key)
        if policy is None:
            raise errors.lambda_.ResourceNotFoundException(
                "No policy is associated with the given resource.")
        if not any(found["Sid"] == sid for found in policy.doc["Statement"]):
            raise errors.lambda_.ResourceNotFoundException(
                f"Statement {sid} is not found in resource policy.")
        _check_revision(params, policy)
        doc = {**policy.doc, "Statement": [found for found in policy.doc["Statement"]
                                           if found["Sid"] != sid]}
        function_policies.put(conn, function.id, key, doc, new_revision_id())
    return {}


@handlers.operation("GetPolicy")
def get_policy(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        function, key, _ = _target(ctx, conn, params)
        policy = function_policies.get(conn, function.id, key)
    if policy is None:
        raise errors.lambda_.ResourceNotFoundException(
            "The resource you requested does not exist.")
    return {"Policy": json.dumps(policy.doc, separators=(",", ":")),
            "RevisionId": policy.revision_id}
