"""AWS errors: the one place that raises what a client sees when a request fails.

Every failure that reaches the wire is a ServiceError carrying the AWS error
code, a message and the HTTP status. The protocol serializers turn it into the
service's own error format (json `__type`, query XML `<ErrorResponse>`, ...).
Anything else that escapes a handler is logged and answered as the service's
internal error, never as a traceback.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error with an AWS error code, returned to the client as is."""

    def __init__(self, code: str, message: str, status: int = 400, sender_fault: bool | None = None,
                 **fields):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # Query-protocol errors say whether the caller (Sender) or the service
        # (Receiver) is at fault; it follows the status unless given.
        self.sender_fault = status < 500 if sender_fault is None else sender_fault
        self.fields = fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


def error_class(code: str, status: int = 400):
    """Make a ServiceError subclass for one AWS error code."""

    def __init__(self, message: str = "", **fields):
        ServiceError.__init__(self, code, message, status, **fields)

    return type(code, (ServiceError,), {"__init__": __init__})


# Protocol-level errors, shared by all services.
SerializationException = error_class("SerializationException")
UnknownOperationException = error_class("UnknownOperationException", 404)
UnrecognizedClientException = error_class("UnrecognizedClientException", 403)
InternalFailure = error_class("InternalFailure", 500)
MissingAction = error_class("MissingAction")
InvalidAction = error_class("InvalidAction")

# ECS.
ClientException = error_class("ClientException")
InvalidParameterException = error_class("InvalidParameterException")
ServerException = error_class("ServerException", 500)
ClusterNotFoundException = error_class("ClusterNotFoundException")
ClusterContainsContainerInstancesException = error_class("ClusterContainsContainerInstancesException")
ClusterContainsServicesException = error_class("ClusterContainsServicesException")
ClusterContainsTasksException = error_class("ClusterContainsTasksException")
AttributeLimitExceededException = error_class("AttributeLimitExceededException")
TargetNotFoundException = error_class("TargetNotFoundException")
ResourceNotFoundException = error_class("ResourceNotFoundException")
ResourceInUseException = error_class("ResourceInUseException")
LimitExceededException = error_class("LimitExceededException")
ServiceNotFoundException = error_class("ServiceNotFoundException")
ServiceNotActiveException = error_class("ServiceNotActiveException")

# Query-protocol services (ELBv2, CloudWatch) name validation failures this way.
ValidationError = error_class("ValidationError")

# CloudWatch Logs.
ResourceAlreadyExistsException = error_class("ResourceAlreadyExistsException")
TooManyTagsException = error_class("TooManyTagsException")
ValidationException = error_class("ValidationException")
