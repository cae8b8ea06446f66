"""AWS Security Token Service (query protocol): who the caller is (GetCallerIdentity),
and temporary credentials of a role (AssumeRole) that the verifier accepts until they
expire."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("sts", validation_error=errors.ValidationError)

# Importing the operation modules registers their handlers.
from nozama.aws.sts import assume_role, identity  # noqa: E402,F401
