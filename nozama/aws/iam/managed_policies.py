"""GetPolicy, of the AWS managed policies Nozama knows (model/iam_managed_policies.py).

Customer managed policies (CreatePolicy) are not served yet: an ARN of one is
NoSuchEntity, as a policy that does not exist is."""

from __future__ import annotations

from nozama.aws.iam import handlers
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import iam_managed_policies as managed
from nozama.store import iam as iam_store


@handlers.operation("GetPolicy")
def get_policy(ctx: RequestContext, params: dict) -> dict:
    arn = params["PolicyArn"]
    policy = managed.find(arn)
    if policy is None:
        raise errors.iam.NoSuchEntityException(f"Policy {arn} was not found.")
    with ctx.store.read() as conn:
        attached = iam_store.count_attachments(conn, ctx.account_id, policy.arn)
    return {"Policy": {"PolicyName": policy.name, "PolicyId": policy.policy_id,
                       "Arn": policy.arn, "Path": policy.path, "DefaultVersionId": "v1",
                       "AttachmentCount": attached, "PermissionsBoundaryUsageCount": 0,
                       "IsAttachable": True, "Description": policy.description,
                       "CreateDate": managed.CREATED, "UpdateDate": managed.CREATED}}
