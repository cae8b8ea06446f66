"""Amazon ECR (JSON 1.1 protocol): repositories, images, lifecycle policies, tags and
GetAuthorizationToken, answered from the store.

The images themselves live in Docker Distribution, run by `nozama registry`; this package
never calls it. A change to images writes store rows and, in the same transaction, a
tombstone per affected digest, which the registry process applies (store/ecr_images.py)."""

from nozama.aws import ServiceHandlers
from nozama.aws.ecr.common import validation_message
from nozama.kernel import errors

handlers = ServiceHandlers("ecr", validation_error=errors.ecr.InvalidParameterException,
                           validation_message=validation_message)

# Importing the operation modules registers their handlers.
from nozama.aws.ecr import authorization, images, lifecycle  # noqa: E402,F401
from nozama.aws.ecr import repositories, tagging  # noqa: E402,F401
