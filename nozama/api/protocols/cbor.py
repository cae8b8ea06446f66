"""Smithy RPC v2 CBOR: POST /service/<ServiceName>/operation/<Operation>, CBOR bodies."""

from __future__ import annotations

import cbor2
from botocore.model import OperationModel

from nozama.api.catalog import Service
from nozama.kernel.errors import SerializationException, ServiceError
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.api.protocols.base import Protocol, query_error_header
from nozama.api.shapes import from_document, to_document


def operation_path(path: str) -> tuple[str, str] | None:
    """("ServiceName", "Operation") from an RPC v2 path, else None."""
    parts = path.split("/")
    if len(parts) == 5 and parts[0] == "" and parts[1] == "service" and parts[3] == "operation":
        return parts[2], parts[4]
    return None


class RpcV2CborProtocol(Protocol):
    name = "smithy-rpc-v2-cbor"

    def operation_name(self, service: Service, request: HttpRequest) -> str | None:
        found = operation_path(request.path)
        return found[1] if found and found[0] == service.target_prefix else None

    def parse(self, service: Service, operation: OperationModel, request: HttpRequest) -> dict:
        shape = operation.input_shape
        if shape is None or not request.body:
            return {}
        try:
            document = cbor2.loads(request.body)
        except Exception as exc:  # cbor2 raises several unrelated types on bad input
            raise SerializationException(f"The request body is not valid CBOR: {exc}") from None
        return from_document(shape, document)

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                "x-amzn-requestid": request_id}

    def serialize(self, service: Service, operation: OperationModel, result: dict,
                  request_id: str) -> HttpResponse:
        shape = operation.output_shape
        document = to_document(shape, result, binary=True) if shape is not None else {}
        body = cbor2.dumps(document, datetime_as_timestamp=True, timezone=None)
        return HttpResponse(200, body, self._headers(request_id))

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        headers = self._headers(request_id)
        headers.update(query_error_header(service, error))
        body = {"__type": error.code, "message": error.message, **error.fields}
        return HttpResponse(error.status, cbor2.dumps(body), headers)
