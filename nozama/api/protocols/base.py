"""What every wire protocol provides to the server."""

from __future__ import annotations

from botocore.model import NoShapeFoundError, OperationModel

from nozama.api.catalog import Service
from nozama.kernel.errors import ServiceError
from nozama.kernel.http import HttpRequest, HttpResponse


class Protocol:
    name: str

    def operation_name(self, service: Service, request: HttpRequest) -> str | None:
        """The operation a request asks for, or None when it names none."""
        raise NotImplementedError

    def parse(self, service: Service, operation: OperationModel, request: HttpRequest) -> dict:
        """Decode and type-check the request's parameters (not yet validated)."""
        raise NotImplementedError

    def serialize(self, service: Service, operation: OperationModel, result: dict,
                  request_id: str) -> HttpResponse:
        raise NotImplementedError

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        raise NotImplementedError


def error_code(service: Service, error: ServiceError) -> str:
    """The code a query client expects: a modeled error may rename its shape."""
    try:
        shape = service.model.shape_for(error.code)
    except NoShapeFoundError:
        return error.code
    return shape.metadata.get("error", {}).get("code", error.code)


def query_error_header(service: Service, error: ServiceError) -> dict[str, str]:
    """Services that left the query protocol still report query error codes."""
    if not service.query_compatible:
        return {}
    fault = "Sender" if error.sender_fault else "Receiver"
    return {"x-amzn-query-error": f"{error_code(service, error)};{fault}"}
