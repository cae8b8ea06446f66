"""AWS errors come from the botocore models: codes, statuses and fault as the model says.

kernel/errors.py builds one class per error shape of each served model; only
the wire protocols' own errors are typed there by hand. These tests hold the
classes to the model, and hold every handler to raising only those classes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.loaders
import pytest

from nozama.api import catalog
from nozama.api.protocols.base import error_code
from nozama.aws import registry
from nozama.kernel import errors

NOZAMA = Path(__file__).resolve().parents[2] / "nozama"


def _shapes(service: str) -> dict[str, dict]:
    data = botocore.loaders.Loader().load_service_model(service, "service-2")
    return {name: shape for name, shape in data["shapes"].items() if shape.get("exception")}


# (namespace, shape, wire code, HTTP status, sender fault): a sample per service,
# written out from the models so that a change of botocore shows up here.
SAMPLES = [
    (errors.ecs, "ClusterNotFoundException", "ClusterNotFoundException", 400, True),
    (errors.ecs, "InvalidParameterException", "InvalidParameterException", 400, True),
    (errors.ecs, "ServerException", "ServerException", 500, False),        # "fault": true
    (errors.elbv2, "TargetGroupNotFoundException", "TargetGroupNotFound", 400, True),
    (errors.elbv2, "TooManyTagsException", "TooManyTags", 400, True),
    (errors.elbv2, "ResourceInUseException", "ResourceInUse", 400, True),
    (errors.lambda_, "ResourceNotFoundException", "ResourceNotFoundException", 404, True),
    (errors.lambda_, "ResourceConflictException", "ResourceConflictException", 409, True),
    (errors.lambda_, "PreconditionFailedException", "PreconditionFailedException", 412, True),
    (errors.lambda_, "TooManyRequestsException", "TooManyRequestsException", 429, True),
    (errors.lambda_, "InvalidZipFileException", "InvalidZipFileException", 502, False),
    (errors.cloudwatch, "InvalidParameterValueException", "InvalidParameterValueException",
     400, True),
    (errors.cloudwatch, "ResourceNotFound", "ResourceNotFound", 404, True),
    (errors.cloudwatch, "InvalidNextToken", "InvalidNextToken", 400, True),
    (errors.logs, "ResourceNotFoundException", "ResourceNotFoundException", 400, True),
    (errors.logs, "ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 400, True),
    (errors.logs, "ServiceUnavailableException", "ServiceUnavailableException", 500, False),
]


@pytest.mark.parametrize("namespace, shape, code, status, sender_fault", SAMPLES,
                         ids=[f"{s[0].service}.{s[1]}" for s in SAMPLES])
def test_a_modeled_error_has_the_models_code_status_and_fault(namespace, shape, code, status,
                                                              sender_fault):
    cls = getattr(namespace, shape)
    error = cls("it failed", Reason="x")
    assert isinstance(error, errors.ServiceError)
    assert (error.code, error.status, error.sender_fault) == (code, status, sender_fault)
    assert (cls.code, cls.status, cls.sender_fault) == (code, status, sender_fault)
    assert error.message == "it failed" and error.fields == {"Reason": "x"}
    assert type(error).__name__ == shape


MODELED = sorted(name for name, namespace in errors.SERVICES.items()
                 if not isinstance(namespace, errors.DocumentedErrors))


@pytest.mark.parametrize("name", MODELED)
def test_every_error_shape_of_a_model_is_a_class_as_the_model_says(name):
    namespace = errors.SERVICES[name]
    shapes = _shapes(name)
    assert {cls.__name__ for cls in namespace} == set(shapes)
    query = catalog.service(name).protocol == "query"
    for shape_name, shape in shapes.items():
        cls = getattr(namespace, shape_name)
        meta = shape.get("error") or {}
        if meta:
            assert cls.status == meta["httpStatusCode"], shape_name
            assert cls.sender_fault == meta.get("senderFault", False), shape_name
        else:
            # JSON 1.1 models (ECS, Logs) give no status: a fault is the service's 500.
            assert cls.status == (500 if shape.get("fault") else 400), shape_name
            assert cls.sender_fault is not bool(shape.get("fault")), shape_name
        assert cls.code == (meta.get("code", shape_name) if query else shape_name)


def test_ec2s_errors_are_its_documented_codes():
    # EC2's model lists no errors: its codes (with dots) are typed in kernel/errors.py.
    assert _shapes("ec2") == {}
    error = errors.ec2.InvalidVpcID_NotFound("The vpc ID 'vpc-1' does not exist")
    assert (error.code, error.status, error.sender_fault) == ("InvalidVpcID.NotFound", 400, True)
    assert type(error).__name__ == "InvalidVpcID_NotFound"
    assert (errors.ec2.InternalError.status, errors.ec2.InternalError.sender_fault) == (500, False)
    assert "DependencyViolation" in errors.ec2
    with pytest.raises(AttributeError, match="no error"):
        errors.ec2.VpcNotFound


def test_a_query_compatible_service_sends_the_query_code_in_its_header():
    # CloudWatch speaks CBOR (__type: the shape name) and tells query clients
    # the code its model gives: InvalidParameterValue.
    cloudwatch = catalog.service("cloudwatch")
    error = errors.cloudwatch.InvalidParameterValueException("bad")
    assert error_code(cloudwatch, error) == "InvalidParameterValue"
    assert error_code(catalog.service("elbv2"), errors.elbv2.TargetGroupNotFoundException()) \
        == "TargetGroupNotFound"


def test_an_error_no_model_has_is_refused():
    with pytest.raises(AttributeError, match="no error"):
        errors.ecs.TargetGroupNotFoundException
    with pytest.raises(AttributeError):
        errors.elbv2.TargetGroupNotFound     # the wire code is not the class name


def test_protocol_errors_are_in_no_model_and_keep_their_statuses():
    assert {(e.code, e.status, e.sender_fault) for e in errors.PROTOCOL_ERRORS} == {
        ("SerializationException", 400, True), ("UnknownOperationException", 404, True),
        ("UnrecognizedClientException", 403, True), ("UnknownServiceException", 400, True),
        ("MissingAction", 400, True),
        ("InvalidAction", 400, True), ("InternalFailure", 500, False),
        ("ValidationError", 400, True), ("ValidationException", 400, True),
        ("NotImplemented", 501, False), ("InvalidRegion", 400, True),
        ("InvalidRequest", 400, True), ("ContainerInstanceDeregistered", 400, True),
        ("ContainerInstanceUnknown", 400, True),
        ("MissingAuthenticationToken", 403, True), ("AccessDenied", 403, True),
        ("AccessDeniedException", 403, True)}
    # ValidationException is Lambda's answer to a constraint violation; Lambda's model
    # does not list it (the Logs model does, and Logs raises its own).
    assert "ValidationException" not in errors.lambda_
    assert "ValidationError" not in errors.elbv2
    assert "ValidationError" not in errors.cloudwatch


def test_each_service_answers_validation_with_its_own_or_a_protocol_error():
    for name, handlers in registry().items():
        cls = handlers.validation_error
        assert cls in errors.PROTOCOL_ERRORS or cls in set(errors.SERVICES[name]), name


# ---------------------------------------------------------------------------
# What the code raises: only modeled classes of its own service, or protocol errors.

def _modules():
    for path in sorted(NOZAMA.rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _service_of(path: Path) -> str | None:
    parts = path.relative_to(NOZAMA).parts
    if parts[0] == "aws" and len(parts) > 2:
        return {"lambda_": "lambda"}.get(parts[1], parts[1])
    return None


def _error_references(tree: ast.AST):
    """(namespace, class name, line) of each errors.<service>.<Name> and
    `from nozama.kernel.errors import <service> as x` ... x.<Name>."""
    aliases = {"errors": None}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "nozama.kernel.errors":
            for alias in node.names:
                if alias.name in ("ecs", "elbv2", "lambda_", "cloudwatch", "logs", "acm",
                                  "ec2"):
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        value = node.value
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) \
                and value.value.id == "errors" and value.attr in errors.__dict__ \
                and isinstance(errors.__dict__[value.attr], errors.ServiceErrors):
            yield value.attr, node.attr, node.lineno
        elif isinstance(value, ast.Name) and aliases.get(value.id):
            yield aliases[value.id], node.attr, node.lineno


def test_every_error_the_code_raises_is_in_its_service_model():
    wrong, seen = [], 0
    for path, tree in _modules():
        if path.name == "errors.py" and path.parent.name == "kernel":
            continue
        service = _service_of(path)
        for namespace, name, line in _error_references(tree):
            seen += 1
            where = f"{path.relative_to(NOZAMA)}:{line}"
            if name not in getattr(errors, namespace):
                wrong.append(f"{where}: {namespace} has no error {name}")
            elif service and getattr(errors, namespace).service != service:
                wrong.append(f"{where}: a {service} handler raises {namespace}.{name}")
    assert not wrong, "\n".join(wrong)
    assert seen > 100   # the scan sees the handlers' errors, not nothing


def test_only_the_errors_module_types_codes_and_statuses():
    allowed = {"ServiceError", "ServiceErrors", *errors.SERVICES, "lambda_",
               *(cls.__name__ for cls in errors.PROTOCOL_ERRORS), "NotImplementedOperation"}
    wrong = []
    for path, tree in _modules():
        if path.name == "errors.py" and path.parent.name == "kernel":
            continue
        for node in ast.walk(tree):
            where = f"{path.relative_to(NOZAMA)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and node.module == "nozama.kernel.errors":
                wrong += [f"{where}: imports {a.name}" for a in node.names
                          if a.name not in allowed]
            if isinstance(node, ast.Name) and node.id == "error_class":
                wrong.append(f"{where}: error_class")
            # A handler raises its model's classes, never a code it spells itself.
            if _service_of(path) and isinstance(node, ast.Call) and \
                    getattr(node.func, "id", getattr(node.func, "attr", None)) == "ServiceError":
                wrong.append(f"{where}: ServiceError(...) in a handler")
    assert not wrong, "\n".join(wrong)
