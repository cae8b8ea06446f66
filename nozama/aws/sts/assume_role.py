"""AssumeRole: temporary credentials of a role, for a caller its policies allow to
assume it and whom the role's trust policy trusts.

The credentials are a key like any other (store/access_keys.py): an ASIA id, a sealed
secret, the SHA-256 of their session token, and their expiry, after which the lookup
refuses them. Their principal is the assumed role's session, whose policies are the
role's, read afresh on each lookup (a policy detached from the role stops applying
to its sessions at once, as in AWS).
"""

from __future__ import annotations

import json
from datetime import timedelta

from nozama.aws.iam.common import caller, keys_of
from nozama.aws.sts import handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.model.iam_authorize import authorize, denied, trusts
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store

ACTION = "sts:AssumeRole"


@handlers.operation("AssumeRole")
def assume_role(ctx: RequestContext, params: dict) -> dict:
    role_arn, session = params["RoleArn"], params["RoleSessionName"]
    if params.get("Policy") or params.get("PolicyArns"):
        # Session policies narrow a session's permissions; ignoring one would grant more
        # than asked, so it is refused until the evaluation intersects them.
        raise errors.ValidationError("Nozama does not support session policies (Policy, "
                                     "PolicyArns) yet.")
    principal = caller(ctx)
    authorize(principal, "sts", "AssumeRole", params, ctx.region, ctx.account_id)
    keys = keys_of(ctx)
    key_id, secret, token = model.new_id("ASIA"), model.new_secret(), model.new_session_token()
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        role = _trusting_role(ctx, conn, principal, role_arn)
        duration = params.get("DurationSeconds") or model.MAX_SESSION_DURATION
        if duration > role.max_session_duration:
            raise errors.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                "role.")
        expires = now + timedelta(seconds=duration)
        key_store.purge_expired(conn, now)
        key_store.insert(conn, key_id, ctx.account_id, iam_store.ROLE, role.name_key,
                         keys.seal(secret, key_id), now, session_token=token,
                         session_name=session, expires_at=expires)
    keys.forget(key_id)
    return {"Credentials": {"AccessKeyId": key_id, "SecretAccessKey": secret,
                            "SessionToken": token, "Expiration": expires},
            "AssumedRoleUser": {
                "AssumedRoleId": f"{role.role_id}:{session}",
                "Arn": model.assumed_role_arn(ctx.account_id, role.name, session)}}


def _trusting_role(ctx: RequestContext, conn, principal: model.Principal, role_arn: str):
    """The role `role_arn` names, if its trust policy trusts the caller. A role that does
    not exist, of another account, or that does not trust the caller are one answer in
    AWS (AccessDenied), which says nothing of which it was."""
    name = role_arn.rsplit("/", 1)[-1]
    prefix = f"arn:aws:iam::{ctx.account_id}:role/"
    row = iam_store.get_role(conn, ctx.account_id, name) \
        if role_arn.startswith(prefix) and model.NAME.fullmatch(name) else None
    if row is None or row.arn != role_arn or not trusts(json.loads(row.trust_policy),
                                                        principal, ACTION):
        raise denied(principal, "sts", ACTION, role_arn, None)
    return row
