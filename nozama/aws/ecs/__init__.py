"""Amazon ECS (JSON 1.1 protocol): account settings, clusters, task definitions, container
instances, tasks and services."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("ecs", validation_error=errors.ecs.InvalidParameterException)

# Importing the operation modules registers their handlers.
from nozama.aws.ecs import account_settings, attributes, clusters  # noqa: E402,F401
from nozama.aws.ecs import container_instances  # noqa: E402,F401
from nozama.aws.ecs import service_deployments, services, tagging  # noqa: E402,F401
from nozama.aws.ecs import task_definitions, tasks  # noqa: E402,F401
