"""GetCallerIdentity: the account, ARN and id of whoever signed the request. AWS
answers it for every authenticated caller, whatever its policies say."""

from __future__ import annotations

from nozama.aws.iam.common import caller
from nozama.aws.sts import handlers
from nozama.kernel.context import RequestContext


@handlers.operation("GetCallerIdentity")
def get_caller_identity(ctx: RequestContext, params: dict) -> dict:
    principal = caller(ctx)
    return {"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn}
