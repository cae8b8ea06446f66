"""AddTags, RemoveTags and DescribeTags, for load balancers, target groups, listeners and
rules alike."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel.context import RequestContext
from nozama.aws.elbv2 import handlers
from nozama.aws.elbv2.common import put_tags, resource, tag_list, tags_of_request
from nozama.store import tags as tag_store


def _resources(ctx: RequestContext, conn: Connection, params: dict) -> list[str]:
    """The request's ResourceArns, each checked to exist before any is touched."""
    for resource_arn in params["ResourceArns"]:
        resource(ctx, conn, resource_arn)
    return params["ResourceArns"]


@handlers.operation("AddTags")
def add_tags(ctx: RequestContext, params: dict) -> dict:
    tags = tags_of_request(params["Tags"])
    with ctx.store.write() as conn:
        for resource_arn in _resources(ctx, conn, params):
            put_tags(conn, resource_arn, tags)
    return {}


@handlers.operation("RemoveTags")
def remove_tags(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        for resource_arn in _resources(ctx, conn, params):
            tag_store.remove(conn, resource_arn, params["TagKeys"])
    return {}


@handlers.operation("DescribeTags")
def describe_tags(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return {"TagDescriptions": [{"ResourceArn": a, "Tags": tag_list(conn, a)}
                                    for a in _resources(ctx, conn, params)]}
