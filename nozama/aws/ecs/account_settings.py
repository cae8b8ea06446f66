"""PutAccountSetting, PutAccountSettingDefault, ListAccountSettings, DeleteAccountSetting.

Settings are kept per region and principal (model/account_settings.py has the rules).
Nozama does not tell IAM users apart yet: a request that names no principalArn acts
for the account's root user. What the settings change in Nozama:
- the long ARN formats are recorded and listed, but Nozama always uses long ARNs
  (ECS itself no longer lets accounts opt out of them);
- containerInsights is the value CreateCluster gives a cluster that sets none;
- awsvpcTrunking and the others are recorded and listed only.
"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import account_settings as rules
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import page_size
from nozama.store import account_settings as setting_store
from nozama.store.pagination import decode_token, page

MAX_RESULTS = 10


@handlers.operation("PutAccountSetting")
def put_account_setting(ctx: RequestContext, params: dict) -> dict:
    name = rules.check_name(params.get("name"))
    value = rules.check_value(name, params.get("value"))
    principal = rules.principal(ctx.account_id, params.get("principalArn"))
    rules.check_principal_may_hold(name, principal, ctx.account_id)
    return {"setting": _put(ctx, principal, name, value)}


@handlers.operation("PutAccountSettingDefault")
def put_account_setting_default(ctx: RequestContext, params: dict) -> dict:
    name = rules.check_name(params.get("name"))
    value = rules.check_value(name, params.get("value"))
    return {"setting": _put(ctx, rules.root_arn(ctx.account_id), name, value)}


def _put(ctx: RequestContext, principal: str, name: str, value: str) -> dict:
    with ctx.store.write() as conn:
        setting_store.put(conn, ctx.region, ctx.account_id, principal, name, value)
    return rules.Setting(name, value, principal).shape()


@handlers.operation("DeleteAccountSetting")
def delete_account_setting(ctx: RequestContext, params: dict) -> dict:
    """Removes the principal's own value: the root user's (the account default) or ECS's
    default applies again. The answer is the value removed, or the one that applied
    when the principal had none."""
    name = rules.check_name(params.get("name"))
    if name in rules.AWS_MANAGED:
        rules.check_value(name, None)  # refuses, in the words of a Put
    principal = rules.principal(ctx.account_id, params.get("principalArn"))
    with ctx.store.write() as conn:
        value = setting_store.get(conn, ctx.region, ctx.account_id, principal, name)
        if value is None:
            value = _effective(ctx, conn, principal, [name])[0].value
        setting_store.remove(conn, ctx.region, ctx.account_id, principal, name)
    return {"setting": rules.Setting(name, value, principal).shape()}


@handlers.operation("ListAccountSettings")
def list_account_settings(ctx: RequestContext, params: dict) -> dict:
    name, value = params.get("name"), params.get("value")
    if name is not None:
        rules.check_name(name)
    if value is not None and name is None:
        raise errors.ecs.InvalidParameterException(
            "The value parameter needs an account setting name: specify name too.")
    limit = page_size(params, default=MAX_RESULTS, maximum=MAX_RESULTS)
    after = decode_token(params.get("nextToken"), "ListAccountSettings", str,
                         error=errors.ecs.InvalidParameterException)
    principal = rules.principal(ctx.account_id, params.get("principalArn"))
    names = [name] if name else sorted(rules.VALUES)
    with ctx.store.read() as conn:
        if params.get("effectiveSettings"):
            settings = _effective(ctx, conn, principal, names)
        else:
            own = setting_store.of_principals(conn, ctx.region, ctx.account_id, [principal])
            settings = [rules.Setting(n, own[(principal, n)], principal)
                        for n in names if (principal, n) in own]
    settings = [s for s in settings
                if (value is None or s.value == value) and (after is None or s.name > after)]
    items, token = page(settings, limit, "ListAccountSettings", key=lambda s: s.name)
    return {"settings": [s.shape() for s in items], **({"nextToken": token} if token else {})}


def _effective(ctx: RequestContext, conn, principal: str,
               names: list[str]) -> list[rules.Setting]:
    explicit = setting_store.of_principals(conn, ctx.region, ctx.account_id,
                                           list({principal, rules.root_arn(ctx.account_id)}))
    return [rules.effective(n, principal, ctx.account_id, explicit) for n in names]
