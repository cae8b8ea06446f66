"""AWS errors: the one place that says what a client sees when a request fails.

Every failure that reaches the wire is a ServiceError carrying the AWS error
code, a message and the HTTP status. The protocol serializers turn it into the
service's own error format (json `__type`, query XML `<ErrorResponse>`, ...).
Anything else that escapes a handler is logged and answered as the service's
internal error, never as a traceback.

The error classes of each service come from its botocore model, as botocore's
own clients build theirs (`OperationModel.error_shapes`): one class per error
shape, named as the shape is (boto3's `client.exceptions.<Name>`), with the
code, HTTP status and sender fault the model gives it. A handler raises
`errors.ecs.ClusterNotFoundException(...)` or
`errors.elbv2.TargetGroupNotFoundException(...)`, never a status it typed
itself. Only errors of the wire protocols, which no service model lists, and
EC2's (whose model lists none: its API reference does), are defined by hand below.
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.model


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


def _error_class(name: str, code: str, status: int, sender_fault: bool,
                 service: str | None = None) -> type[ServiceError]:
    """A ServiceError subclass for one error: raised as `Name(message, **fields)`."""

    def __init__(self, message: str = "", **fields):
        ServiceError.__init__(self, code, message, status, sender_fault, **fields)

    return type(name, (ServiceError,), {
        "__init__": __init__, "__module__": __name__,
        "__qualname__": f"{service}.{name}" if service else name,
        "code": code, "status": status, "sender_fault": sender_fault, "service": service})


# ---------------------------------------------------------------------------
# Errors of the services' models.

@functools.cache
def _model_data(name: str) -> dict:
    return botocore.loaders.Loader().load_service_model(name, "service-2")


@functools.cache
def _service_model(name: str) -> botocore.model.ServiceModel:
    return botocore.model.ServiceModel(_model_data(name), service_name=name)


def modeled_error(service: str, shape: botocore.model.Shape) -> tuple[str, int, bool]:
    """The (code, HTTP status, sender fault) a model gives one of its error shapes.

    Query-protocol services put their own code on the wire (shape
    TargetGroupNotFoundException, code TargetGroupNotFound); the JSON, REST-JSON
    and CBOR protocols send the shape name, and a query-compatible service's
    query code goes in a header the serializer reads from the model itself. A
    shape without `error` metadata (ECS, Logs) is a 400 from the caller, or a
    500 from the service when the model marks it a `fault`.
    """
    error = shape.metadata.get("error") or {}
    # botocore's Shape.metadata leaves out the `fault` trait; the model has it.
    fault = bool(_model_data(service)["shapes"][shape.name].get("fault"))
    status = error.get("httpStatusCode", 500 if fault else 400)
    sender_fault = error.get("senderFault", False) if error else not fault
    protocol = _service_model(service).metadata.get("protocol")
    code = error.get("code", shape.name) if protocol == "query" else shape.name
    return code, status, sender_fault


class ServiceErrors:
    """The error classes one service's model declares, as attributes by shape name.

    Built on first use, so importing this module reads no model."""

    def __init__(self, service: str):
        self.service = service

    @functools.cached_property
    def _classes(self) -> dict[str, type[ServiceError]]:
        classes = {}
        for shape in _service_model(self.service).error_shapes:
            code, status, sender_fault = modeled_error(self.service, shape)
            classes[shape.name] = _error_class(shape.name, code, status, sender_fault,
                                               self.service)
        return classes

    def __getattr__(self, name: str) -> type[ServiceError]:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._classes[name]
        except KeyError:
            raise AttributeError(f"the {self.service} model has no error {name}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._classes

    def __iter__(self):
        return iter(self._classes.values())

    def __repr__(self) -> str:
        return f"<errors of {self.service}>"


# The services Nozama serves, by botocore name (`lambda` is a keyword in Python).
ecs = ServiceErrors("ecs")
elbv2 = ServiceErrors("elbv2")
lambda_ = ServiceErrors("lambda")
cloudwatch = ServiceErrors("cloudwatch")
logs = ServiceErrors("logs")
acm = ServiceErrors("acm")
iam = ServiceErrors("iam")
sts = ServiceErrors("sts")
ecr = ServiceErrors("ecr")


class DocumentedErrors(ServiceErrors):
    """The error classes of a service whose model declares none (EC2): their codes are
    the ones the service's API reference lists, typed here. A code with a dot
    (InvalidVpcID.NotFound) is the attribute with an underscore for the dot
    (`errors.ec2.InvalidVpcID_NotFound`)."""

    def __init__(self, service: str, codes: dict[str, int]):
        super().__init__(service)
        self.codes = codes

    @functools.cached_property
    def _classes(self) -> dict[str, type[ServiceError]]:
        return {code.replace(".", "_"): _error_class(code.replace(".", "_"), code, status,
                                                     status < 500, self.service)
                for code, status in self.codes.items()}


# EC2's error codes (docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)
# that Nozama answers, with their HTTP statuses: client errors are 400s.
ec2 = DocumentedErrors("ec2", {
    code: 400 for code in (
        "InvalidVpcID.NotFound", "InvalidVpcID.Malformed", "InvalidSubnetID.NotFound",
        "InvalidSubnetID.Malformed", "InvalidGroup.NotFound", "InvalidGroupId.Malformed",
        "InvalidGroup.Duplicate", "InvalidGroup.Reserved", "InvalidSubnet.Conflict",
        "InvalidSubnet.Range", "InvalidVpc.Range", "InvalidParameterValue",
        "InvalidParameterCombination", "InvalidParameter", "MissingParameter",
        "DependencyViolation", "InvalidPermission.Duplicate", "InvalidPermission.NotFound",
        "InvalidPermission.Malformed", "InvalidInstanceID.NotFound",
        "InvalidInstanceID.Malformed", "InvalidFilter", "InvalidAvailabilityZone",
        "CannotDelete", "OperationNotPermitted", "VpcLimitExceeded", "SecurityGroupLimitExceeded",
        "RulesPerSecurityGroupLimitExceeded", "InvalidID", "InvalidNextToken", "TagLimitExceeded",
        "InvalidTagKey.Malformed", "InvalidZone.NotFound", "InvalidSecurityGroupRuleId.NotFound",
        # Refused signatures (docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
        "RequestExpired")
} | {"InternalError": 500, "Unavailable": 503, "UnauthorizedOperation": 403,
     "AuthFailure": 401})

SERVICES = {"ecs": ecs, "elbv2": elbv2, "lambda": lambda_, "cloudwatch": cloudwatch,
            "logs": logs, "acm": acm, "ec2": ec2, "iam": iam, "sts": sts,
            "ecr": ecr}


# ---------------------------------------------------------------------------
# Errors of the wire protocols. No service model lists them (every service
# can answer them, and botocore maps them by code alone), so they are the
# only codes and statuses typed here.

def _protocol_error(code: str, status: int = 400) -> type[ServiceError]:
    return _error_class(code, code, status, status < 500)


# A body the protocol cannot parse (JSON, CBOR, gzip, text that is not UTF-8).
SerializationException = _protocol_error("SerializationException")
# JSON / CBOR: an X-Amz-Target or path naming no operation of the service.
UnknownOperationException = _protocol_error("UnknownOperationException", 404)
UnrecognizedClientException = _protocol_error("UnrecognizedClientException", 403)
# A request that names (or signs for) no service Nozama serves.
UnknownServiceException = _protocol_error("UnknownServiceException")
# Query protocol: no Action parameter, or one the service does not have.
MissingAction = _protocol_error("MissingAction")
InvalidAction = _protocol_error("InvalidAction")
# The internal error of services whose model names none (ELBv2, CloudWatch).
InternalFailure = _protocol_error("InternalFailure", 500)
# The database is unreachable (store/availability.py): a 503, which every SDK retries.
# JSON services answer ServiceUnavailableException (Logs models it, with status 500: the
# code is what botocore maps to its class), query services AWS's common
# ServiceUnavailable; EC2's is Unavailable (its API reference's list, above).
ServiceUnavailableException = _protocol_error("ServiceUnavailableException", 503)
ServiceUnavailable = _protocol_error("ServiceUnavailable", 503)
# Query-protocol services (ELBv2, CloudWatch's query side) answer constraint
# violations with ValidationError, and Lambda with ValidationException; neither
# model lists them.
ValidationError = _protocol_error("ValidationError")
ValidationException = _protocol_error("ValidationException")
# An operation the model has and Nozama does not implement (yet).
NotImplementedOperation = _protocol_error("NotImplemented", 501)
# A SigV4 credential scope naming a region that cannot be one.
InvalidRegion = _protocol_error("InvalidRegion")
# A request with neither a SigV4 Authorization header nor a presigned query: AWS's own
# answer (its message is always "Missing Authentication Token").
MissingAuthenticationToken = _protocol_error("MissingAuthenticationToken", 403)
# A request a web page made (a browser marked it cross-site), or one addressed to a
# name the server does not answer to (DNS rebinding).
AccessDenied = _protocol_error("AccessDenied", 403)
# A call its caller's policies do not allow (model/iam_authorize.py), as the JSON and
# REST-JSON services answer it; query services answer AccessDenied, EC2
# UnauthorizedOperation.
AccessDeniedException = _protocol_error("AccessDeniedException", 403)

# Nozama's own channels (the agents', /_nozama/ endpoints), which no AWS model describes.
InvalidRequest = _protocol_error("InvalidRequest")
# An agent polling for a container instance that was deregistered: it then exits.
ContainerInstanceDeregistered = _protocol_error("ContainerInstanceDeregistered")
# An agent registering again as an instance the control plane does not know (a new
# control plane): it then registers as a new instance.
ContainerInstanceUnknown = _protocol_error("ContainerInstanceUnknown")

# Refused SigV4 signatures (api/sigv4.py), answered per protocol family (api/auth.py):
# the JSON, REST-JSON and CBOR services answer as coral's JSON services do, the query
# services (ELBv2, IAM, STS, CloudWatch's query side) with their own codes.
IncompleteSignatureException = _protocol_error("IncompleteSignatureException")
IncompleteSignature = _protocol_error("IncompleteSignature")
InvalidSignatureException = _protocol_error("InvalidSignatureException", 403)
SignatureDoesNotMatch = _protocol_error("SignatureDoesNotMatch", 403)
InvalidClientTokenId = _protocol_error("InvalidClientTokenId", 403)
ExpiredTokenException = _protocol_error("ExpiredTokenException", 403)
ExpiredToken = _protocol_error("ExpiredToken", 403)

SIGNATURE_ERRORS = (IncompleteSignatureException, IncompleteSignature, InvalidSignatureException,
                    SignatureDoesNotMatch, InvalidClientTokenId, ExpiredTokenException,
                    ExpiredToken)

PROTOCOL_ERRORS = (SerializationException, UnknownOperationException,
                   UnrecognizedClientException, UnknownServiceException, MissingAction,
                   InvalidAction, InternalFailure, ValidationError, ValidationException,
                   NotImplementedOperation, InvalidRegion, InvalidRequest,
                   ContainerInstanceDeregistered, ContainerInstanceUnknown,
                   MissingAuthenticationToken, AccessDenied, AccessDeniedException)
