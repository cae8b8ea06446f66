"""CreateUser, GetUser, ListUsers, DeleteUser."""

from __future__ import annotations

from nozama.aws.iam import common, handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store


@handlers.operation("CreateUser")
def create_user(ctx: RequestContext, params: dict) -> dict:
    name, path = params["UserName"], params.get("Path") or "/"
    model.check_name(name, "userName")
    model.check_path(path)
    if params.get("Tags") or params.get("PermissionsBoundary"):
        raise errors.iam.InvalidInputException(
            "Nozama does not keep tags or permissions boundaries of IAM users yet.")
    with ctx.store.write() as conn:
        if iam_store.get_user(conn, ctx.account_id, name) is not None:
            raise errors.iam.EntityAlreadyExistsException(
                f"User with name {name} already exists.")
        iam_store.create_user(conn, ctx.account_id, name, model.new_id("AIDA"),
                              model.user_arn(ctx.account_id, path, name), path,
                              ctx.clock.now())
        row = iam_store.get_user(conn, ctx.account_id, name)
    return {"User": common.user_shape(row)}


@handlers.operation("GetUser")
def get_user(ctx: RequestContext, params: dict) -> dict:
    name = params.get("UserName")
    if name is None:
        # The caller itself: a user, or the root (whose "user" has no name in IAM).
        principal = common.caller(ctx)
        if principal.is_root:
            return {"User": {"UserId": principal.account, "Arn": principal.arn,
                             "Path": "/", "UserName": "", "CreateDate": ctx.clock.now()}}
        if principal.kind != "user":
            raise errors.ValidationError(
                "Must specify userName when calling with non-User credentials")
        name = principal.arn.rsplit("/", 1)[1]
    with ctx.store.read() as conn:
        return {"User": common.user_shape(common.user(ctx, conn, name))}


@handlers.operation("ListUsers")
def list_users(ctx: RequestContext, params: dict) -> dict:
    prefix = params.get("PathPrefix") or "/"
    limit = common.max_items(params)
    with ctx.store.read() as conn:
        rows = iam_store.users(conn, ctx.account_id, prefix, common.marker(params, "ListUsers"),
                               limit + 1)
    rows, more = common.paged(rows, limit, "ListUsers", lambda row: row.name_key)
    return {"Users": [common.user_shape(row) for row in rows], **more}


@handlers.operation("DeleteUser")
def delete_user(ctx: RequestContext, params: dict) -> dict:
    name = params["UserName"]
    with ctx.store.write() as conn:
        row = common.user(ctx, conn, name)
        # IAM refuses while anything hangs off the user, in this order.
        if key_store.of_principal(conn, ctx.account_id, iam_store.USER, row.name_key):
            raise errors.iam.DeleteConflictException(
                "Cannot delete entity, must delete access keys first.")
        if iam_store.policy_names(conn, ctx.account_id, iam_store.USER, name,
                                  iam_store.INLINE):
            raise errors.iam.DeleteConflictException(
                "Cannot delete entity, must delete policies first.")
        if iam_store.policy_names(conn, ctx.account_id, iam_store.USER, name,
                                  iam_store.MANAGED):
            raise errors.iam.DeleteConflictException(
                "Cannot delete entity, must detach all policies first.")
        iam_store.delete_user(conn, ctx.account_id, name)
    return {}
