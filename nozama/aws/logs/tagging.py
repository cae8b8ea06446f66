"""Tags of log groups: TagResource, UntagResource, ListTagsForResource, and the
older TagLogGroup, UntagLogGroup, ListTagsLogGroup that name the group instead.

Tags live in the shared tags table under the log group's ARN without `:*`.
"""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws import tagging
from nozama.aws.logs import handlers
from nozama.aws.logs.common import check_tags, find_group, log_group_arn, name_in_arn
from nozama.store import tags as tag_store



def _group_by_arn(ctx: RequestContext, conn: Connection, text: str) -> str:
    """The tagging ARN of the log group `text` names; only log groups are taggable here."""
    parsed = arns.parse(text)
    if parsed is None or parsed.service != "logs":
        raise errors.logs.InvalidParameterException(f"Invalid resource ARN: {text}")
    name = name_in_arn(ctx, text)
    if name is None:
        raise errors.logs.ResourceNotFoundException("The specified resource does not exist.")
    return _group_arn(ctx, conn, name)


def _add(conn: Connection, arn: str, tags: dict, too_many: type[errors.ServiceError]) -> None:
    # TagResource and the older TagLogGroup refuse too many tags with different errors.
    tagging.add(conn, arn, check_tags(tags),
                too_many(f"A resource can have at most {tagging.MAX_TAGS} tags."))


@handlers.operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        _add(conn, _group_by_arn(ctx, conn, params["resourceArn"]), params["tags"],
             errors.logs.TooManyTagsException)
    return {}


@handlers.operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        tag_store.remove(conn, _group_by_arn(ctx, conn, params["resourceArn"]), params["tagKeys"])
    return {}


@handlers.operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return {"tags": tag_store.get(conn, _group_by_arn(ctx, conn, params["resourceArn"]))}


def _group_arn(ctx: RequestContext, conn: Connection, name: str) -> str:
    return log_group_arn(ctx, find_group(ctx, conn, name).name)


@handlers.operation("TagLogGroup")
def tag_log_group(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        _add(conn, _group_arn(ctx, conn, params["logGroupName"]), params["tags"],
             errors.logs.InvalidParameterException)
    return {}


@handlers.operation("UntagLogGroup")
def untag_log_group(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        tag_store.remove(conn, _group_arn(ctx, conn, params["logGroupName"]), params["tags"])
    return {}


@handlers.operation("ListTagsLogGroup")
def list_tags_log_group(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return {"tags": tag_store.get(conn, _group_arn(ctx, conn, params["logGroupName"]))}
