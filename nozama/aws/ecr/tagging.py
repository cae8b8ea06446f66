"""TagResource, UntagResource, ListTagsForResource: the tags of repositories, in the
shared tags table under the repository's ARN."""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.aws import tagging
from nozama.aws.ecr import handlers
from nozama.aws.ecr.common import check_tags, not_found, too_many_tags
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.store import ecr_repositories as repository_store
from nozama.store import tags as tag_store


def _repository(ctx: RequestContext, conn: Connection, arn: str) -> Row:
    """The repository an ARN names; only repositories take tags in ECR."""
    parsed = arns.parse(arn)
    if parsed is None or parsed.service != "ecr" or not parsed.resource.startswith(
            "repository/"):
        raise errors.ecr.InvalidParameterException(
            f"Invalid parameter at 'resourceArn' failed to satisfy constraint: "
            f"'Invalid ARN: {arn}'")
    name = parsed.resource[len("repository/"):]
    row = repository_store.get(conn, ctx.region, ctx.account_id, name) \
        if parsed.region == ctx.region and parsed.account == ctx.account_id else None
    if row is None:
        raise not_found(name, parsed.account)
    return row


@handlers.operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    tags = check_tags(params["tags"])
    with ctx.store.write() as conn:
        row = _repository(ctx, conn, params["resourceArn"])
        tagging.add(conn, row.arn, tags, too_many_tags())
    return {}


@handlers.operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = _repository(ctx, conn, params["resourceArn"])
        tag_store.remove(conn, row.arn, params["tagKeys"])
    return {}


@handlers.operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        row = _repository(ctx, conn, params["resourceArn"])
        return {"tags": tagging.as_pairs(tag_store.get(conn, row.arn))}
