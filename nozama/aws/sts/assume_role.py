"""AssumeRole: temporary credentials of a role, for a caller its policies allow to
assume it and whom the role's trust policy trusts.

The credentials are minted by store/role_sessions.py, as the sessions the control plane
makes for tasks and functions: a key like any other, whose principal is the assumed
role's session, with the role's policies read afresh on each lookup (a policy detached
from the role stops applying to its sessions at once, as in AWS).
"""

from __future__ import annotations

import json

from nozama.aws.iam.common import caller, keys_of
from nozama.aws.sts import handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.model.iam_authorize import authorize, denied, trusts
from nozama.store import role_sessions

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
    with ctx.store.write() as conn:
        role = _trusting_role(ctx, conn, principal, role_arn)
        duration = params.get("DurationSeconds") or model.MAX_SESSION_DURATION
        if duration > role.max_session_duration:
            raise errors.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                "role.")
        minted = role_sessions.mint(conn, keys, ctx.account_id, role, session, duration,
                                    ctx.clock.now())
    keys.forget(minted.access_key_id)
    return {"Credentials": {"AccessKeyId": minted.access_key_id,
                            "SecretAccessKey": minted.secret_access_key,
                            "SessionToken": minted.session_token,
                            "Expiration": minted.expires_at},
            "AssumedRoleUser": {"AssumedRoleId": minted.assumed_role_id,
                                "Arn": minted.assumed_role_arn}}


def _trusting_role(ctx: RequestContext, conn, principal: model.Principal, role_arn: str):
    """The role `role_arn` names, if its trust policy trusts the caller. A role that does
    not exist, of another account, or that does not trust the caller are one answer in
    AWS (AccessDenied), which says nothing of which it was."""
    row = role_sessions.role_by_arn(conn, ctx.account_id, role_arn)
    if row is None or not trusts(json.loads(row.trust_policy), principal, ACTION):
        raise denied(principal, "sts", ACTION, role_arn, None)
    return row
