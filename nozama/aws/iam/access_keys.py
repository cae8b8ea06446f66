"""CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey.

Without UserName each works on the caller's own keys (a user's, or the root's), as
IAM's do. The secret is answered once, by CreateAccessKey; the store keeps it sealed.
A key made Inactive or deleted is forgotten at once by this server's lookup cache
(store/access_keys.py), and by the others within its few seconds.
"""

from __future__ import annotations

from nozama.aws.iam import common, handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store


def _owner(ctx: RequestContext, conn, params: dict) -> tuple[str, str, str]:
    """(principal type, principal key, user name) whose keys the call is about."""
    name = params.get("UserName")
    if name is None:
        principal = common.caller(ctx)
        if principal.is_root:
            return "root", "", ""
        if principal.kind != "user":
            raise errors.ValidationError(
                "Must specify userName when calling with non-User credentials")
        name = principal.arn.rsplit("/", 1)[1]
    row = common.user(ctx, conn, name)
    return iam_store.USER, row.name_key, row.name


@handlers.operation("CreateAccessKey")
def create_access_key(ctx: RequestContext, params: dict) -> dict:
    keys = common.keys_of(ctx)
    key_id, secret = model.new_id("AKIA"), model.new_secret()
    with ctx.store.write() as conn:
        kind, owner, name = _owner(ctx, conn, params)
        if len(key_store.of_principal(conn, ctx.account_id, kind, owner)) \
                >= model.MAX_ACCESS_KEYS:
            raise errors.iam.LimitExceededException(
                f"Cannot exceed quota for AccessKeysPerUser: {model.MAX_ACCESS_KEYS}")
        now = ctx.clock.now()
        key_store.insert(conn, key_id, ctx.account_id, kind, owner, keys.seal(secret, key_id),
                         now)
    keys.forget(key_id)   # a lookup that found nothing under this id must not be kept
    return {"AccessKey": {"UserName": name, "AccessKeyId": key_id, "Status": "Active",
                          "SecretAccessKey": secret, "CreateDate": now}}


@handlers.operation("ListAccessKeys")
def list_access_keys(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        kind, owner, name = _owner(ctx, conn, params)
        rows = key_store.of_principal(conn, ctx.account_id, kind, owner)
    items = [{"UserName": name, "AccessKeyId": row.access_key_id, "Status": row.status,
              "CreateDate": row.created_at} for row in rows]
    items, more = common.names_page_of(items, params, "ListAccessKeys")
    return {"AccessKeyMetadata": items, **more}


def _key(ctx: RequestContext, conn, params: dict):
    kind, owner, _ = _owner(ctx, conn, params)
    key_id = params["AccessKeyId"]
    row = key_store.get(conn, key_id)
    if row is None or row.expires_at is not None or \
            (row.account, row.principal_type, row.principal_key) != (ctx.account_id, kind,
                                                                     owner):
        raise errors.iam.NoSuchEntityException(
            f"The Access Key with id {key_id} cannot be found.")
    return row


@handlers.operation("UpdateAccessKey")
def update_access_key(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = _key(ctx, conn, params)
        key_store.set_status(conn, row.access_key_id, params["Status"])
    common.keys_of(ctx).forget(row.access_key_id)
    ctx.wakeups.wake(key_store.TOPIC, row.access_key_id)   # the other servers forget it
    return {}


@handlers.operation("DeleteAccessKey")
def delete_access_key(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = _key(ctx, conn, params)
        key_store.delete(conn, row.access_key_id)
    common.keys_of(ctx).forget(row.access_key_id)
    ctx.wakeups.wake(key_store.TOPIC, row.access_key_id)   # the other servers forget it
    return {}
