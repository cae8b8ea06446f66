"""TagResource, UntagResource, ListTagsForResource for every ECS resource."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws.ecs import handlers
from nozama.aws import tagging
from nozama.aws.ecs.common import MAX_TAGS, tag_list, tags_from_request
from nozama.store import clusters as cluster_store
from nozama.store import container_instances as instance_store
from nozama.store import services as service_store
from nozama.store import tags as tag_store
from nozama.store import task_definitions as task_definition_store
from nozama.store import tasks as task_store


def _exists(ctx: RequestContext, conn: Connection, arn: arns.Arn, text: str) -> bool:
    kind, path = arn.resource_type, arn.resource_path
    if kind == "cluster":
        row = cluster_store.get(conn, ctx.region, ctx.account_id, path)
        return row is not None and row.status == "ACTIVE"
    if kind == "task-definition":
        family, _, revision = path.partition(":")
        return revision.isdigit() and task_definition_store.get(
            conn, ctx.region, ctx.account_id, family, int(revision)) is not None
    if kind == "container-instance":
        row = instance_store.get(conn, text)
        return row is not None and row.status != "INACTIVE"
    if kind == "service":
        row = service_store.get(conn, text)
        return row is not None and row.status != "INACTIVE"
    if kind == "task":
        return task_store.get(conn, text) is not None
    return False


def _resource(ctx: RequestContext, conn: Connection, text: str) -> str:
    parsed = arns.parse(text)
    if parsed is None or parsed.service != "ecs":
        raise errors.ecs.InvalidParameterException(f"Invalid resource ARN: {text}")
    if parsed.region != ctx.region or parsed.account != ctx.account_id \
            or not _exists(ctx, conn, parsed, text):
        raise errors.ecs.ResourceNotFoundException("The specified resource could not be found.")
    return text


@handlers.operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    new = tags_from_request(params["tags"])
    with ctx.store.write() as conn:
        arn = _resource(ctx, conn, params["resourceArn"])
        tagging.add(conn, arn, new, errors.ecs.InvalidParameterException(
            f"A resource can have at most {MAX_TAGS} tags."))
    return {}


@handlers.operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        arn = _resource(ctx, conn, params["resourceArn"])
        tag_store.remove(conn, arn, params["tagKeys"])
    return {}


@handlers.operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        arn = _resource(ctx, conn, params["resourceArn"])
        return {"tags": tag_list(tag_store.get(conn, arn))}
