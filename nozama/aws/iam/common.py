"""What the IAM operations share: the caller, finding users and roles, pages, shapes."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.store import iam as iam_store
from nozama.store.access_keys import AccessKeys
from nozama.store.pagination import decode_token, encode_token

DEFAULT_MAX_ITEMS = 100


def caller(ctx: RequestContext) -> model.Principal:
    """Who signed the request: the verifier's answer when it gave one; else the principal
    of the scope's access key; else (a key Nozama does not know, while signatures are not
    verified) the account's root, as an emulator answers."""
    if ctx.caller is not None:
        return ctx.caller
    keys: AccessKeys | None = ctx.store.access_keys
    if ctx.access_key_id and keys is not None:
        found = keys.principal(ctx.access_key_id)
        if found is not None:
            return found
    return model.root(ctx.account_id)


def keys_of(ctx: RequestContext) -> AccessKeys:
    keys = ctx.store.access_keys
    if keys is None:   # a store opened without the server's data dir: nothing can be sealed
        raise errors.iam.ServiceFailureException(
            "This server has no sealing key for access keys' secrets.")
    return keys


def user(ctx: RequestContext, conn: Connection, name: str):
    return _existing(iam_store.get_user, "user", ctx, conn, name)


def role(ctx: RequestContext, conn: Connection, name: str):
    return _existing(iam_store.get_role, "role", ctx, conn, name)


def _existing(get, kind: str, ctx: RequestContext, conn: Connection, name: str):
    """The user or role `name` of the caller's account, or IAM's NoSuchEntity."""
    model.check_name(name, f"{kind}Name")
    row = get(conn, ctx.account_id, name)
    if row is None:
        raise errors.iam.NoSuchEntityException(f"The {kind} with name {name} cannot be found.")
    return row


def user_shape(row) -> dict:
    return {"Path": row.path, "UserName": row.name, "UserId": row.user_id, "Arn": row.arn,
            "CreateDate": row.created_at}


def role_shape(row) -> dict:
    from urllib.parse import quote
    shape = {"Path": row.path, "RoleName": row.name, "RoleId": row.role_id, "Arn": row.arn,
             "CreateDate": row.created_at, "MaxSessionDuration": row.max_session_duration,
             # IAM returns trust policies URL-encoded, as every policy document.
             "AssumeRolePolicyDocument": quote(row.trust_policy, safe="")}
    if row.description:
        shape["Description"] = row.description
    return shape


# ---------------------------------------------------------------- pages

def max_items(params: dict) -> int:
    return params.get("MaxItems") or DEFAULT_MAX_ITEMS


def marker(params: dict, listing: str) -> str:
    """The name key a Marker says the page starts after ("" for the first page)."""
    return decode_token(params.get("Marker"), listing, str,
                        error=errors.ValidationError) or ""


def paged(items: list, limit: int, listing: str, key) -> tuple[list, dict]:
    """One page of items fetched with limit + 1: IsTruncated, and Marker when it is."""
    if len(items) <= limit:
        return items, {"IsTruncated": False}
    items = items[:limit]
    return items, {"IsTruncated": True, "Marker": encode_token(listing, key(items[-1]))}


def names_page(names: list[str], params: dict, listing: str) -> tuple[list, dict]:
    """A page of a short list held whole (a principal's policy names), by name."""
    after = marker(params, listing)
    rest = [name for name in names if name > after] if after else names
    return paged(rest, max_items(params), listing, lambda name: name)


def names_page_of(items: list[dict], params: dict, listing: str) -> tuple[list, dict]:
    """A page of a short list of access key shapes held whole, by key id."""
    after = marker(params, listing)
    rest = sorted((item for item in items if item["AccessKeyId"] > after),
                  key=lambda item: item["AccessKeyId"])
    return paged(rest, max_items(params), listing, lambda item: item["AccessKeyId"])
