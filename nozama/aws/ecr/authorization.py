"""GetAuthorizationToken: the password `docker login` takes for Nozama's registry.

The password is signed, not stored (model/ecr_authorization.py): it carries the caller's
access key id, principal ARN, the region and its expiry, 12 hours away, or sooner when the
caller's own credentials (an assumed role's session) end first, as on AWS. The registry's
gate checks it, and the key and its policies, at every token exchange."""

from __future__ import annotations

import os

from nozama.aws.ecr import handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import ecr_authorization as authorization
from nozama.model import ecr_names
from nozama.model import iam as iam_model
from nozama.store import access_keys as key_store
from nozama.store import registries
from nozama.store import server_keys
from nozama.aws.ecr.common import utc


def _caller(ctx: RequestContext) -> tuple[str, str]:
    """(access key id, principal ARN) the password is minted for. A server with auth off
    verifies no key: its passwords stand for the account root, under the service key id
    the gate knows only a server can mint."""
    if ctx.caller is None:
        return authorization.SERVICE_KEY_ID, iam_model.root_arn(ctx.account_id)
    return ctx.access_key_id, ctx.caller.arn


@handlers.operation("GetAuthorizationToken")
def get_authorization_token(ctx: RequestContext, params: dict) -> dict:
    for registry in params.get("registryIds") or []:
        if registry != ctx.account_id:
            raise errors.ecr.InvalidParameterException(
                f"Invalid parameter at 'registryIds': the registry with id '{registry}' is "
                f"not this account's ('{ctx.account_id}').")
    key_id, principal_arn = _caller(ctx)
    now = ctx.clock.now()
    expires_at = now + authorization.LIFETIME
    with ctx.store.write() as conn:
        if key_id != authorization.SERVICE_KEY_ID:
            key = key_store.get(conn, key_id)
            session_end = utc(key.expires_at) if key is not None else None
            if session_end is not None:
                expires_at = min(expires_at, session_end)
        secret = server_keys.key(conn, authorization.KEY_NAME, lambda: os.urandom(32))
        running = registries.current(conn, now)
    password = authorization.mint_password(secret, authorization.Authorization(
        key_id, principal_arn, ctx.region, expires_at))
    endpoint = f"{running.scheme}://{running.address}" if running is not None else \
        f"https://{ecr_names.registry_host(ctx.account_id, ctx.region)}"
    return {"authorizationData": [{
        "authorizationToken": authorization.authorization_token(password),
        "expiresAt": expires_at, "proxyEndpoint": endpoint}]}
