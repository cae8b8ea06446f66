"""PutResourcePolicy, DescribeResourcePolicies, DeleteResourcePolicy.

Resource policies are recorded and listed as CloudWatch Logs does, and not
enforced: Nozama does not check who calls (docs/compatibility.md says so).

A policy without resourceArn is account-scoped: at most 10 in a region, each by
name. With resourceArn (a log group's ARN) it is the group's one policy, with a
revision id that a later put or delete must name (expectedRevisionId), so two
writers cannot overwrite each other unseen; it goes when its group is deleted.
"""

from __future__ import annotations

import json
import uuid

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.logs import handlers
from nozama.aws.logs.common import find_group, log_group_arn, name_in_arn, now_ms
from nozama.store import logs_resource_policies as policy_store
from nozama.store.pagination import decode_token, encode_token

MAX_ACCOUNT_POLICIES = 10
LISTING = "DescribeResourcePolicies"
ACCOUNT, RESOURCE = "ACCOUNT", "RESOURCE"


def _document(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise errors.logs.InvalidParameterException(
            "The policyDocument is not a valid JSON policy document (a JSON object).")
    return text


def _resource(ctx: RequestContext, conn, arn: str | None) -> str:
    """The stored scope of a request: '' for the account, else the log group's ARN
    (normalized, without a trailing :*), which must name an existing group."""
    if arn is None:
        return policy_store.ACCOUNT_SCOPE
    name = name_in_arn(ctx, arn)
    if name is None:
        raise errors.logs.InvalidParameterException(
            f"The resourceArn '{arn}' is not a log group ARN of this account and region: "
            "only log groups take resource policies.")
    return log_group_arn(ctx, find_group(ctx, conn, name).name)


def _check_revision(existing, expected: str | None) -> None:
    if existing is not None and expected != existing.revision_id:
        raise errors.logs.OperationAbortedException(
            "The resource policy was changed since expectedRevisionId "
            f"({expected or 'none'}); its revision is now {existing.revision_id}.")
    if existing is None and expected is not None:
        raise errors.logs.OperationAbortedException(
            "The log group has no resource policy yet: create it without "
            "expectedRevisionId.")


def _out(row) -> dict:
    policy = {"policyName": row.name, "policyDocument": row.document,
              "lastUpdatedTime": row.last_updated,
              "policyScope": RESOURCE if row.resource_arn else ACCOUNT}
    if row.resource_arn:
        policy.update(resourceArn=row.resource_arn, revisionId=row.revision_id)
    return policy


@handlers.operation("PutResourcePolicy")
def put_resource_policy(ctx: RequestContext, params: dict) -> dict:
    name, text = params.get("policyName"), params.get("policyDocument")
    if not name or text is None:
        raise errors.logs.InvalidParameterException(
            "policyName and policyDocument are required.")
    document = _document(text)
    with ctx.store.write() as conn:
        resource = _resource(ctx, conn, params.get("resourceArn"))
        if resource:
            existing = policy_store.get(conn, ctx.region, ctx.account_id, resource, None)
            _check_revision(existing, params.get("expectedRevisionId"))
        else:
            existing = policy_store.get(conn, ctx.region, ctx.account_id, resource, name)
            if existing is None and policy_store.count(
                    conn, ctx.region, ctx.account_id, resource) >= MAX_ACCOUNT_POLICIES:
                raise errors.logs.LimitExceededException(
                    f"Resource limit exceeded: a region holds at most {MAX_ACCOUNT_POLICIES} "
                    "account-scoped resource policies.")
        revision = uuid.uuid4().hex
        policy_store.put(conn, ctx.region, ctx.account_id, resource, name, document, revision,
                         now_ms(ctx), existing)
        row = policy_store.get(conn, ctx.region, ctx.account_id, resource, name)
    result = {"resourcePolicy": _out(row)}
    if resource:
        result["revisionId"] = revision
    return result


@handlers.operation("DescribeResourcePolicies")
def describe_resource_policies(ctx: RequestContext, params: dict) -> dict:
    arn, scope = params.get("resourceArn"), params.get("policyScope")
    if scope == RESOURCE and not arn:
        raise errors.logs.InvalidParameterException(
            "policyScope RESOURCE needs the resourceArn of a log group.")
    if scope == ACCOUNT and arn:
        raise errors.logs.InvalidParameterException(
            "policyScope ACCOUNT lists the account's policies: leave out resourceArn.")
    limit = params.get("limit") or 50
    after = decode_token(params.get("nextToken"), LISTING, str,
                         error=errors.logs.InvalidParameterException)
    with ctx.store.read() as conn:
        resource = _resource(ctx, conn, arn)
        rows = policy_store.page(conn, ctx.region, ctx.account_id, resource, after, limit + 1)
    result = {"resourcePolicies": [_out(row) for row in rows[:limit]]}
    if len(rows) > limit:
        result["nextToken"] = encode_token(LISTING, rows[limit - 1].name)
    return result


@handlers.operation("DeleteResourcePolicy")
def delete_resource_policy(ctx: RequestContext, params: dict) -> dict:
    name, arn = params.get("policyName"), params.get("resourceArn")
    if not name and not arn:
        raise errors.logs.InvalidParameterException(
            "Name the policy to delete: policyName, or resourceArn for a log group's policy.")
    with ctx.store.write() as conn:
        resource = _resource(ctx, conn, arn)
        existing = policy_store.get(conn, ctx.region, ctx.account_id, resource,
                                    None if resource else name)
        if existing is None or (name and existing.name != name):
            raise errors.logs.ResourceNotFoundException(
                f"Policy with name [{name or arn}] does not exist")
        if resource:
            expected = params.get("expectedRevisionId")
            if expected is None:
                raise errors.logs.InvalidParameterException(
                    "expectedRevisionId is required to delete a log group's resource policy.")
            _check_revision(existing, expected)
        policy_store.remove(conn, existing.id)
    return {}
