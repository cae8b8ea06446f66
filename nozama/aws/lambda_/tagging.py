"""Tags of functions: TagResource, UntagResource, ListTags.

Only functions take tags, under their unqualified ARN in the shared tags table;
a version or alias ARN is refused, as in Lambda. A change of tags gives $LATEST
a new RevisionId, as Lambda does.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.functions import notify
from nozama.model import arns
from nozama.aws import tagging
from nozama.aws.lambda_ import handlers
from nozama.functions.lookup import find_function, function_ref, renew_latest_revision
from nozama.store import tags as tag_store



def checked_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > tagging.MAX_TAGS:
        raise errors.lambda_.InvalidParameterValueException(
            "Number of tags exceeds resource tag limit.")
    return dict(tags)


def _function(ctx: RequestContext, conn: Connection, resource: str) -> Row:
    """The function a taggable resource ARN names."""
    parsed = arns.parse(resource)
    if parsed is None or not parsed.resource.startswith("function:"):
        # Code signing configs, event source mappings, ...: none exist in Nozama.
        raise errors.lambda_.ResourceNotFoundException(
            f"The resource you requested does not exist: {resource}")
    ref = function_ref(ctx, resource)
    if ref.qualifier is not None:
        raise errors.lambda_.InvalidParameterValueException(
            "Tags on function aliases and versions are not supported. "
            "Please specify a function ARN.")
    return find_function(ctx, conn, ref.name)


@handlers.operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    if not params["Tags"]:
        raise errors.lambda_.InvalidParameterValueException(
            "An error occurred and the request cannot be processed.")
    with ctx.store.write() as conn:
        function = _function(ctx, conn, params["Resource"])
        new = checked_tags(params["Tags"])
        tagging.add(conn, function.arn, new, errors.lambda_.InvalidParameterValueException(
            "Number of tags exceeds resource tag limit."))
        renew_latest_revision(conn, function)
    notify.function_changed(ctx, function.name)
    return {}


@handlers.operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        function = _function(ctx, conn, params["Resource"])
        tag_store.remove(conn, function.arn, params["TagKeys"])
        renew_latest_revision(conn, function)
    notify.function_changed(ctx, function.name)
    return {}


@handlers.operation("ListTags")
def list_tags(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return {"Tags": tag_store.get(conn, _function(ctx, conn, params["Resource"]).arn)}
