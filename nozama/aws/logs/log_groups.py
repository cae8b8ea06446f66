"""CreateLogGroup, DeleteLogGroup, DescribeLogGroups, PutLogGroupDeletionProtection."""

from __future__ import annotations

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws.logs import handlers
from nozama.aws.logs.common import (check_tags, find_group, group_name, log_group_arn,
                                         name_in_arn, now_ms)
from nozama.store import log_events as event_store
from nozama.store import logs_resource_policies as policy_store
from nozama.store import log_groups as group_store
from nozama.store import log_streams as stream_store
from nozama.store import tags as tag_store
from nozama.store.pagination import decode_token, page

DEFAULT_LIMIT = 50


def describe(ctx: RequestContext, row: Row, stored_bytes: int, brief: bool = False) -> dict:
    arn = log_group_arn(ctx, row.name)
    group = {"logGroupName": row.name, "creationTime": row.creation_time, "arn": f"{arn}:*"}
    if brief:
        # AWS answers a logGroupNamePattern search with these three fields only.
        return group
    group.update({
        "retentionInDays": row.retention_in_days,
        "metricFilterCount": 0,
        "storedBytes": stored_bytes,
        "kmsKeyId": row.doc.get("kmsKeyId"),
        "logGroupClass": row.log_group_class,
        "logGroupArn": arn,
        "deletionProtectionEnabled": row.deletion_protection,
    })
    return group


@handlers.operation("CreateLogGroup")
def create_log_group(ctx: RequestContext, params: dict) -> dict:
    name = params["logGroupName"]
    if name.startswith("aws/"):
        raise errors.logs.InvalidParameterException(
            "Log group names can't start with the string aws/.")
    tags = check_tags(params.get("tags"))
    doc = {"kmsKeyId": params["kmsKeyId"]} if params.get("kmsKeyId") else {}
    try:
        with ctx.store.write() as conn:
            if group_store.get(conn, ctx.region, ctx.account_id, name) is not None:
                raise errors.logs.ResourceAlreadyExistsException(
                    "The specified log group already exists")
            group_store.create(conn, ctx.region, ctx.account_id, name, now_ms(ctx),
                               params.get("logGroupClass") or "STANDARD",
                               bool(params.get("deletionProtectionEnabled")), doc)
            tag_store.put(conn, log_group_arn(ctx, name), tags)
    except IntegrityError:
        # A concurrent CreateLogGroup of the same name won the race (PostgreSQL).
        raise errors.logs.ResourceAlreadyExistsException(
            "The specified log group already exists") from None
    return {}


@handlers.operation("DeleteLogGroup")
def delete_log_group(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        group = find_group(ctx, conn, params["logGroupName"])
        if group.deletion_protection:
            raise errors.logs.ValidationException(
                "Cannot delete log group with deletion protection "
                "enabled. Disable deletion protection first.")
        event_store.delete_group(conn, group.id)
        stream_store.delete_group(conn, group.id)
        group_store.delete_group(conn, group.id)
        tag_store.remove_all(conn, log_group_arn(ctx, group.name))
        policy_store.remove_for_resource(conn, ctx.region, ctx.account_id,
                                         log_group_arn(ctx, group.name))
    return {}


@handlers.operation("PutLogGroupDeletionProtection")
def put_log_group_deletion_protection(ctx: RequestContext, params: dict) -> dict:
    name = group_name(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]})
    with ctx.store.write() as conn:
        group = find_group(ctx, conn, name)
        group_store.set_deletion_protection(conn, group.id, params["deletionProtectionEnabled"])
    return {}


def _identifier_names(ctx: RequestContext, identifiers: list[str]) -> list[str]:
    names = []
    for identifier in identifiers:
        name = name_in_arn(ctx, identifier) if arns.is_arn(identifier) else identifier
        if name is not None:
            names.append(name)
    return names


def _search_filters(ctx: RequestContext, params: dict) -> dict:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    identifiers = params.get("logGroupIdentifiers")
    if prefix and pattern:
        raise errors.logs.InvalidParameterException(
            "logGroupNamePrefix and logGroupNamePattern are mutually exclusive.")
    if identifiers is not None and (prefix or pattern):
        raise errors.logs.InvalidParameterException("logGroupIdentifiers can't be combined with "
                                                    "logGroupNamePrefix or logGroupNamePattern.")
    return {"prefix": prefix, "pattern": pattern,
            "names": _identifier_names(ctx, identifiers) if identifiers is not None else None,
            "log_group_class": params.get("logGroupClass")}


@handlers.operation("DescribeLogGroups")
def describe_log_groups(ctx: RequestContext, params: dict) -> dict:
    limit = params.get("limit") or DEFAULT_LIMIT
    filters = _search_filters(ctx, params)
    after = decode_token(params.get("nextToken"), "DescribeLogGroups", str,
                         error=errors.logs.InvalidParameterException)
    with ctx.store.read() as conn:
        found = group_store.search(conn, ctx.region, ctx.account_id, after=after, limit=limit + 1,
                                   **filters)
        rows, token = page(found, limit, "DescribeLogGroups", key=lambda row: row.name)
        sizes = stream_store.stored_bytes(conn, [row.id for row in rows])
    groups = [describe(ctx, row, sizes.get(row.id, 0), brief=bool(filters["pattern"]))
              for row in rows]
    return {"logGroups": groups, **({"nextToken": token} if token else {})}
