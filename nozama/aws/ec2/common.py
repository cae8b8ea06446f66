"""What the EC2 operations share: ARNs, finding a resource by id (with EC2's errors),
tags on create, filters, and pages of a Describe call."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns, ec2_filters, networks
from nozama.aws import tagging
from nozama.aws.tagging import MAX_TAGS
from nozama.store import security_groups as group_store
from nozama.store import subnets as subnet_store
from nozama.store import tags as tag_store
from nozama.store import vpcs as vpc_store
from nozama.store.pagination import decode_token, encode_token

# Rows a Describe call reads at a time while it fills a page of what matches its filters.
_BATCH = 200
# The resource types of ARNs and TagSpecifications, by id prefix.
RESOURCE_TYPES = {"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "i": "instance",
                  "sgr": "security-group-rule"}


def arn(ctx: RequestContext, resource_id: str) -> str:
    kind = RESOURCE_TYPES[resource_id.split("-", 1)[0]]
    return arns.arn("ec2", ctx.region, ctx.account_id, f"{kind}/{resource_id}")


# ---------------------------------------------------------------- lookups

def _checked_id(resource_id: str, prefix: str, malformed) -> None:
    if not networks.well_formed(resource_id, prefix):
        raise malformed(f'Invalid id: "{resource_id}" (expecting "{prefix}-...")')


def checked_ids(ids: list[str] | None, prefix: str, malformed) -> None:
    for resource_id in ids or []:
        _checked_id(resource_id, prefix, malformed)


def vpc(ctx: RequestContext, conn: Connection, vpc_id: str):
    _checked_id(vpc_id, "vpc", errors.ec2.InvalidVpcID_Malformed)
    row = vpc_store.get(conn, ctx.region, ctx.account_id, vpc_id)
    if row is None:
        raise errors.ec2.InvalidVpcID_NotFound(f"The vpc ID '{vpc_id}' does not exist")
    return row


def subnet(ctx: RequestContext, conn: Connection, subnet_id: str):
    _checked_id(subnet_id, "subnet", errors.ec2.InvalidSubnetID_Malformed)
    row = subnet_store.get(conn, ctx.region, ctx.account_id, subnet_id)
    if row is None:
        raise errors.ec2.InvalidSubnetID_NotFound(f"The subnet ID '{subnet_id}' does not exist")
    return row


def group(ctx: RequestContext, conn: Connection, group_id: str):
    _checked_id(group_id, "sg", errors.ec2.InvalidGroupId_Malformed)
    row = group_store.get(conn, ctx.region, ctx.account_id, group_id)
    if row is None:
        raise errors.ec2.InvalidGroup_NotFound(f"The security group '{group_id}' does not exist")
    return row


def all_found(wanted: list[str], rows: list, key: Callable, not_found) -> None:
    """Raise `not_found(missing ids)` unless every wanted id has its row."""
    found = {key(r) for r in rows}
    missing = [w for w in dict.fromkeys(wanted) if w not in found]
    if missing:
        raise not_found(missing)


def _quoted(ids: list[str]) -> str:
    return "'" + ", ".join(ids) + "'"


def vpcs_missing(ids: list[str]) -> errors.ServiceError:
    if len(ids) == 1:
        return errors.ec2.InvalidVpcID_NotFound(f"The vpc ID '{ids[0]}' does not exist")
    return errors.ec2.InvalidVpcID_NotFound(f"The vpc IDs {_quoted(ids)} do not exist")


def subnets_missing(ids: list[str]) -> errors.ServiceError:
    if len(ids) == 1:
        return errors.ec2.InvalidSubnetID_NotFound(f"The subnet ID '{ids[0]}' does not exist")
    return errors.ec2.InvalidSubnetID_NotFound(f"The subnet IDs {_quoted(ids)} do not exist")


def groups_missing(ids: list[str]) -> errors.ServiceError:
    if len(ids) == 1:
        return errors.ec2.InvalidGroup_NotFound(f"The security group '{ids[0]}' does not exist")
    return errors.ec2.InvalidGroup_NotFound(f"The security groups {_quoted(ids)} do not exist")


# ---------------------------------------------------------------- tags

def tags_on_create(specifications: list[dict] | None, resource_type: str) -> dict[str, str]:
    """The tags a create call's TagSpecifications give its resource."""
    tags: dict[str, str] = {}
    for spec in specifications or []:
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise errors.ec2.InvalidParameterValue(
                f"'{kind}' is not a valid taggable resource type for this operation.")
        tags.update(checked_tags(spec.get("Tags") or []))
    return tags


def checked_tags(tags: list[dict]) -> dict[str, str]:
    for tag in tags:
        if tagging.reserved(tag["Key"]):
            raise errors.ec2.InvalidParameterValue(
                "Tag keys starting with 'aws:' are reserved for internal use")
    return tagging.from_pairs(tags)


def put_tags(ctx: RequestContext, conn: Connection, resource_id: str,
             tags: dict[str, str]) -> None:
    tagging.add(conn, arn(ctx, resource_id), tags, errors.ec2.TagLimitExceeded(
        f"The maximum number of tags per resource, {MAX_TAGS}, has been reached "
        f"for '{resource_id}'"))


def tags_of(ctx: RequestContext, conn: Connection, ids: list[str]) -> dict[str, dict]:
    """{resource id: {key: value}} of the given resources."""
    found = tag_store.of_many(conn, [arn(ctx, i) for i in ids])
    return {i: found.get(arn(ctx, i), {}) for i in ids}


def with_tags(doc: dict, tags: dict[str, str]) -> dict:
    return {**doc, "Tags": tagging.as_pairs(tags)} if tags else dict(doc)


# ---------------------------------------------------------------- Describe calls

def check_filters(params: dict, known: dict) -> list[dict]:
    filters = params.get("Filters") or []
    name = ec2_filters.unknown(filters, set(known))
    if name is not None:
        raise errors.ec2.InvalidParameterValue(f"The filter '{name}' is invalid")
    return filters


def describe(ctx: RequestContext, params: dict, listing: str, ids_key: str, fetch,
             id_of: Callable, not_found: Callable, fields: dict,
             show: Callable) -> tuple[list[dict], dict]:
    """One page of a Describe call: the rows `fetch(conn, ids, after, limit)` returns,
    shown as `show(conn, row, tags)`, filtered; and the NextToken member if more follow.

    Ids asked for must all exist (`not_found(missing)` otherwise), filters or not. EC2
    pages over what matches: batches are read until the page is full."""
    filters = check_filters(params, fields)
    ids = params.get(ids_key) or None
    limit = params.get("MaxResults")
    if ids and limit:
        raise errors.ec2.InvalidParameterCombination(
            f"The parameter {ids_key[0].lower()}{ids_key[1:]} cannot be used with the "
            "parameter maxResults")
    after = decode_token(params.get("NextToken"), listing, str,
                         error=errors.ec2.InvalidNextToken) or ""
    limit = limit or 1000
    shown: list[tuple[str, dict]] = []
    with ctx.store.read() as conn:
        while len(shown) <= limit:
            batch = fetch(conn, ids, after, len(ids) if ids else _BATCH)
            if ids:
                all_found(ids, batch, id_of, not_found)
            tags = tags_of(ctx, conn, [id_of(r) for r in batch])
            for row in batch:
                item = show(conn, row, tags[id_of(row)])
                if ec2_filters.matches(item, tags[id_of(row)], filters, fields):
                    shown.append((id_of(row), item))
            if ids or len(batch) < _BATCH:
                break
            after = id_of(batch[-1])
    if len(shown) <= limit:
        return [item for _, item in shown], {}
    shown = shown[:limit]
    return [item for _, item in shown], {"NextToken": encode_token(listing, shown[-1][0])}

