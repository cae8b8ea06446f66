"""CreateRole, GetRole, ListRoles, DeleteRole. A role's trust policy (its
AssumeRolePolicyDocument) says who may assume it (aws/sts/assume_role.py)."""

from __future__ import annotations

from nozama.aws.iam import common, handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.model.iam_policy import check_document
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store

MAX_SESSION_LIMIT = 43200   # CreateRole's MaxSessionDuration: 3600 to 12 hours


@handlers.operation("CreateRole")
def create_role(ctx: RequestContext, params: dict) -> dict:
    name, path = params["RoleName"], params.get("Path") or "/"
    model.check_name(name, "roleName")
    model.check_path(path)
    duration = params.get("MaxSessionDuration") or model.MAX_SESSION_DURATION
    if not model.MAX_SESSION_DURATION <= duration <= MAX_SESSION_LIMIT:
        raise errors.ValidationError(
            f"1 validation error detected: Value '{duration}' at 'maxSessionDuration' failed "
            f"to satisfy constraint: Member must have value less than or equal to "
            f"{MAX_SESSION_LIMIT}")
    if params.get("Tags") or params.get("PermissionsBoundary"):
        raise errors.iam.InvalidInputException(
            "Nozama does not keep tags or permissions boundaries of IAM roles yet.")
    text = params["AssumeRolePolicyDocument"]
    check_document(text, trust=True)
    with ctx.store.write() as conn:
        if iam_store.get_role(conn, ctx.account_id, name) is not None:
            raise errors.iam.EntityAlreadyExistsException(
                f"Role with name {name} already exists.")
        iam_store.create_role(conn, ctx.account_id, name, model.new_id("AROA"),
                              model.role_arn(ctx.account_id, path, name), path,
                              ctx.clock.now(), text, duration, params.get("Description"))
        row = iam_store.get_role(conn, ctx.account_id, name)
    return {"Role": common.role_shape(row)}


@handlers.operation("GetRole")
def get_role(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return {"Role": common.role_shape(common.role(ctx, conn, params["RoleName"]))}


@handlers.operation("ListRoles")
def list_roles(ctx: RequestContext, params: dict) -> dict:
    prefix = params.get("PathPrefix") or "/"
    limit = common.max_items(params)
    with ctx.store.read() as conn:
        rows = iam_store.roles(conn, ctx.account_id, prefix, common.marker(params, "ListRoles"),
                               limit + 1)
    rows, more = common.paged(rows, limit, "ListRoles", lambda row: row.name_key)
    return {"Roles": [common.role_shape(row) for row in rows], **more}


@handlers.operation("DeleteRole")
def delete_role(ctx: RequestContext, params: dict) -> dict:
    name = params["RoleName"]
    with ctx.store.write() as conn:
        row = common.role(ctx, conn, name)
        if iam_store.policy_names(conn, ctx.account_id, iam_store.ROLE, name,
                                  iam_store.INLINE):
            raise errors.iam.DeleteConflictException(
                "Cannot delete entity, must delete policies first.")
        if iam_store.policy_names(conn, ctx.account_id, iam_store.ROLE, name,
                                  iam_store.MANAGED):
            raise errors.iam.DeleteConflictException(
                "Cannot delete entity, must detach all policies first.")
        iam_store.delete_role(conn, ctx.account_id, name)
        key_store.delete_of_principal(conn, ctx.account_id, iam_store.ROLE, row.name_key)
    # Its sessions end with it.
    keys = ctx.store.access_keys
    if keys is not None:
        keys.forget_principal(ctx.account_id, model.assumed_role_arn(ctx.account_id,
                                                                    row.name, ""))
    return {}
