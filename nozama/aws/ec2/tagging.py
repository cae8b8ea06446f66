"""CreateTags, DeleteTags and DescribeTags over VPCs, subnets, security groups and
instances (tags live in the one tags table, under each resource's ARN)."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns, ec2_filters
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import (RESOURCE_TYPES, arn, check_filters, checked_tags, group,
                                   put_tags, subnet, vpc)
from nozama.aws.ec2.instances import instance
from nozama.aws.ec2.network import ensure_default_vpc
from nozama.store import tags as tag_store
from nozama.store.pagination import decode_token, encode_token

_FINDERS = {"vpc": vpc, "subnet": subnet, "sg": group, "i": instance}
FILTERS = {
    "key": lambda t: t["Key"],
    "value": lambda t: t["Value"],
    "resource-id": lambda t: t["ResourceId"],
    "resource-type": lambda t: t["ResourceType"],
}


def _resources(ctx: RequestContext, conn: Connection, ids: list[str]) -> list[str]:
    """The resources named, each checked to exist before any is touched."""
    for resource_id in ids:
        finder = _FINDERS.get(resource_id.split("-", 1)[0])
        if finder is None or "-" not in resource_id:
            raise errors.ec2.InvalidID(f"The ID '{resource_id}' is not valid")
        finder(ctx, conn, resource_id)
    return ids


@handlers.operation("CreateTags")
def create_tags(ctx: RequestContext, params: dict) -> dict:
    tags = checked_tags(params["Tags"])
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        for resource_id in _resources(ctx, conn, params["Resources"]):
            put_tags(ctx, conn, resource_id, tags)
    return {}


@handlers.operation("DeleteTags")
def delete_tags(ctx: RequestContext, params: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        for resource_id in _resources(ctx, conn, params["Resources"]):
            resource_arn = arn(ctx, resource_id)
            if not params.get("Tags"):
                tag_store.remove_all(conn, resource_arn)  # no Tags: all of them, as in EC2
                continue
            have = tag_store.get(conn, resource_arn)
            # A tag given with a value is deleted only if it has that value.
            keys = [t["Key"] for t in params["Tags"] if t["Key"] in have
                    and (t.get("Value") is None or have[t["Key"]] == t["Value"])]
            tag_store.remove(conn, resource_arn, keys)
    return {}


@handlers.operation("DescribeTags")
def describe_tags(ctx: RequestContext, params: dict) -> dict:
    filters = [f for f in check_filters(params, FILTERS)
               if not f["Name"].startswith("tag")]
    if len(filters) != len(params.get("Filters") or []):
        name = next(f["Name"] for f in params["Filters"] if f["Name"].startswith("tag"))
        raise errors.ec2.InvalidParameterValue(f"The filter '{name}' is invalid")
    limit = params.get("MaxResults") or 1000
    after = decode_token(params.get("NextToken"), "DescribeTags", str, str,
                         error=errors.ec2.InvalidNextToken) or ["", ""]
    prefix = arns.arn("ec2", ctx.region, ctx.account_id, "")
    found: list[tuple[tuple[str, str], dict]] = []
    with ctx.store.read() as conn:
        while len(found) <= limit:
            batch = tag_store.under(conn, prefix, tuple(after), 500)
            for resource_arn, key, value in batch:
                kind, _, resource_id = resource_arn[len(prefix):].partition("/")
                if kind not in RESOURCE_TYPES.values() or kind == "security-group-rule":
                    continue
                item = {"Key": key, "Value": value, "ResourceId": resource_id,
                        "ResourceType": kind}
                if ec2_filters.matches(item, {}, filters, FILTERS):
                    found.append(((resource_arn, key), item))
            if len(batch) < 500:
                break
            after = list(batch[-1][:2])
    more = {}
    if len(found) > limit:
        found = found[:limit]
        more = {"NextToken": encode_token("DescribeTags", list(found[-1][0]))}
    return {"Tags": [item for _, item in found], **more}
