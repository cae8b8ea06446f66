"""Users' and roles' policies: inline (Put/Get/Delete/List{User,Role}Policy) and AWS
managed ones attached by ARN (Attach/Detach/ListAttached{User,Role}Policies).

A change forgets, on this server, the cached keys of the principal it concerns
(store/access_keys.py): a user's keys, or every session of a role.
"""

from __future__ import annotations

from urllib.parse import quote

from nozama.aws.iam import common, handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam as model
from nozama.model import iam_managed_policies as managed
from nozama.model.iam_policy import check_document
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store

# IAM's quotas: attached managed policies per user or role.
MAX_ATTACHED = 20


class _Kind:
    """What differs between a user's and a role's policies: names, lookups, messages."""

    def __init__(self, principal_type: str, name_param: str, word: str):
        self.type = principal_type
        self.name_param = name_param
        self.word = word   # "user" or "role", as IAM's messages say

    def find(self, ctx: RequestContext, conn, params: dict):
        name = params[self.name_param]
        return common.user(ctx, conn, name) if self.type == iam_store.USER \
            else common.role(ctx, conn, name)

    def forget(self, ctx: RequestContext, row) -> None:
        keys = ctx.store.access_keys
        if keys is None:
            return
        if self.type == iam_store.USER:
            arn = row.arn
        else:
            arn = model.assumed_role_arn(ctx.account_id, row.name, "")
        keys.forget_principal(ctx.account_id, arn)
        # The other servers of the store forget them too (store/access_keys.py).
        ctx.wakeups.wake(key_store.TOPIC, "principal", ctx.account_id, arn)


USER = _Kind(iam_store.USER, "UserName", "user")
ROLE = _Kind(iam_store.ROLE, "RoleName", "role")


def _put(kind: _Kind, ctx: RequestContext, params: dict) -> dict:
    name = params["PolicyName"]
    model.check_name(name, "policyName")
    text = params["PolicyDocument"]
    check_document(text)
    with ctx.store.write() as conn:
        row = kind.find(ctx, conn, params)
        iam_store.put_policy(conn, ctx.account_id, kind.type, row.name, iam_store.INLINE, name,
                             text)
    kind.forget(ctx, row)
    return {}


def _get(kind: _Kind, ctx: RequestContext, params: dict) -> dict:
    name = params["PolicyName"]
    with ctx.store.read() as conn:
        row = kind.find(ctx, conn, params)
        found = iam_store.get_policy(conn, ctx.account_id, kind.type, row.name,
                                     iam_store.INLINE, name)
    if found is None:
        raise errors.iam.NoSuchEntityException(
            f"The {kind.word} policy with name {name} cannot be found.")
    # IAM returns policy documents URL-encoded (botocore decodes them into dicts).
    return {kind.name_param: row.name, "PolicyName": name,
            "PolicyDocument": quote(found.document, safe="")}


def _delete(kind: _Kind, ctx: RequestContext, params: dict) -> dict:
    name = params["PolicyName"]
    with ctx.store.write() as conn:
        row = kind.find(ctx, conn, params)
        if not iam_store.delete_policy(conn, ctx.account_id, kind.type, row.name,
                                       iam_store.INLINE, name):
            raise errors.iam.NoSuchEntityException(
                f"The {kind.word} policy with name {name} cannot be found.")
    kind.forget(ctx, row)
    return {}


def _list(kind: _Kind, ctx: RequestContext, params: dict, listing: str) -> dict:
    with ctx.store.read() as conn:
        row = kind.find(ctx, conn, params)
        names = iam_store.policy_names(conn, ctx.account_id, kind.type, row.name,
                                       iam_store.INLINE)
    names, more = common.names_page(names, params, listing)
    return {"PolicyNames": names, **more}


def _managed(arn: str) -> managed.ManagedPolicy:
    policy = managed.find(arn)
    if policy is None:
        raise errors.iam.NoSuchEntityException(
            f"Policy {arn} does not exist or is not attachable.")
    return policy


def _attach(kind: _Kind, ctx: RequestContext, params: dict) -> dict:
    policy = _managed(params["PolicyArn"])
    with ctx.store.write() as conn:
        row = kind.find(ctx, conn, params)
        attached = iam_store.policy_names(conn, ctx.account_id, kind.type, row.name,
                                          iam_store.MANAGED)
        if policy.arn not in attached and len(attached) >= MAX_ATTACHED:
            raise errors.iam.LimitExceededException(
                f"Cannot exceed quota for PoliciesPerUser: {MAX_ATTACHED}"
                if kind.type == iam_store.USER
                else f"Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED}")
        iam_store.put_policy(conn, ctx.account_id, kind.type, row.name, iam_store.MANAGED,
                             policy.arn, None)
    kind.forget(ctx, row)
    return {}


def _detach(kind: _Kind, ctx: RequestContext, params: dict) -> dict:
    arn = params["PolicyArn"]
    with ctx.store.write() as conn:
        row = kind.find(ctx, conn, params)
        if not iam_store.delete_policy(conn, ctx.account_id, kind.type, row.name,
                                       iam_store.MANAGED, arn):
            raise errors.iam.NoSuchEntityException(f"Policy {arn} was not found.")
    kind.forget(ctx, row)
    return {}


def _list_attached(kind: _Kind, ctx: RequestContext, params: dict, listing: str) -> dict:
    prefix = params.get("PathPrefix") or "/"
    with ctx.store.read() as conn:
        row = kind.find(ctx, conn, params)
        arns = iam_store.policy_names(conn, ctx.account_id, kind.type, row.name,
                                      iam_store.MANAGED)
    arns = [arn for arn in arns if (managed.find(arn) and managed.find(arn).path
                                    .startswith(prefix))]
    arns, more = common.names_page(arns, params, listing)
    return {"AttachedPolicies": [{"PolicyName": managed.find(arn).name, "PolicyArn": arn}
                                 for arn in arns], **more}


def _register(kind: _Kind, noun: str) -> None:
    handlers.operation(f"Put{noun}Policy")(lambda ctx, params: _put(kind, ctx, params))
    handlers.operation(f"Get{noun}Policy")(lambda ctx, params: _get(kind, ctx, params))
    handlers.operation(f"Delete{noun}Policy")(lambda ctx, params: _delete(kind, ctx, params))
    handlers.operation(f"List{noun}Policies")(
        lambda ctx, params: _list(kind, ctx, params, f"List{noun}Policies"))
    handlers.operation(f"Attach{noun}Policy")(lambda ctx, params: _attach(kind, ctx, params))
    handlers.operation(f"Detach{noun}Policy")(lambda ctx, params: _detach(kind, ctx, params))
    handlers.operation(f"ListAttached{noun}Policies")(
        lambda ctx, params: _list_attached(kind, ctx, params, f"ListAttached{noun}Policies"))


_register(USER, "User")
_register(ROLE, "Role")
