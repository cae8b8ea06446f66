"""One module per AWS service, translating operations into control-plane calls.

A service module registers a handler per operation it implements. Handlers
receive the request context and the validated parameters (a dict shaped like
the operation's input) and return a dict shaped like its output.
"""

from __future__ import annotations

from typing import Callable

from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ServiceError

Handler = Callable[[RequestContext, dict], dict]


class ServiceHandlers:
    def __init__(self, name: str, validation_error: type[ServiceError],
                 validation_message: Callable[[str], str] | None = None):
        self.name = name
        # The error this service answers constraint violations with, and the text: the
        # summary of what broke, or the service's own sentence for it (ECR's for a
        # repository name) when its clients look for that.
        self.validation_error = validation_error
        self.validation_message = validation_message or (lambda summary: summary)
        self.operations: dict[str, Handler] = {}

    def operation(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations[name] = handler
            return handler
        return register


def registry() -> dict[str, ServiceHandlers]:
    """Every service's handlers, by botocore service name."""
    from nozama.aws import acm, cloudwatch, ec2, ecr, ecs, elbv2, iam, lambda_, logs, sts
    return {"ecs": ecs.handlers, "elbv2": elbv2.handlers, "logs": logs.handlers,
            "cloudwatch": cloudwatch.handlers, "lambda": lambda_.handlers,
            "acm": acm.handlers, "ec2": ec2.handlers, "iam": iam.handlers,
            "sts": sts.handlers, "ecr": ecr.handlers}
