"""AWS Identity and Access Management (query protocol, global: any region's signature
reaches the one account-wide IAM): users and their access keys, roles and their trust
policies, inline and AWS managed policies. What a key may do is decided from these by
model/iam_authorize.py; its secret is sealed at rest (store/sealing.py)."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("iam", validation_error=errors.ValidationError)

# Importing the operation modules registers their handlers.
from nozama.aws.iam import access_keys, managed_policies, policies, roles  # noqa: E402,F401
from nozama.aws.iam import users  # noqa: E402,F401
