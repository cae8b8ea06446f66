"""The AWS JSON 1.0/1.1 protocol: POST /, X-Amz-Target names the operation.

An operation whose output has an event stream (StartLiveTail) answers with one: the
handler's result holds an async iterator of (member name, value) pairs under the
stream member, sent as event stream messages after an initial-response event with
the rest of the output (what botocore reads first).
"""

from __future__ import annotations

import json

import orjson

from botocore.model import OperationModel, StructureShape

from nozama.api.catalog import Service
from nozama.kernel import eventstream
from nozama.kernel.errors import SerializationException, ServiceError
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.api.protocols.base import Protocol, query_error_header
from nozama.api.shapes import from_document, to_document


def decode_json_body(body: bytes):
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # The standard parser has the words for what is wrong (or takes NaN and such).
    try:
        return json.loads(body)
    except RecursionError:
        raise SerializationException("The request body nests too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from None


def encode_json(document) -> bytes:
    # orjson: about ten times the standard encoder's speed on the large documents
    # (task definitions, services) that dominate response time.
    return orjson.dumps(document)


class JsonProtocol(Protocol):
    name = "json"

    def operation_name(self, service: Service, request: HttpRequest) -> str | None:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.rpartition(".")
        return operation if prefix == service.target_prefix and operation else None

    def parse(self, service: Service, operation: OperationModel, request: HttpRequest) -> dict:
        document = decode_json_body(request.body)
        shape = operation.input_shape
        return from_document(shape, document) if shape is not None else {}

    def _headers(self, service: Service, request_id: str) -> dict[str, str]:
        return {"content-type": f"application/x-amz-json-{service.json_version}",
                "x-amzn-requestid": request_id}

    def serialize(self, service: Service, operation: OperationModel, result: dict,
                  request_id: str) -> HttpResponse:
        shape = operation.output_shape
        if shape is not None and shape.event_stream_name:
            return self._event_stream(service, shape, result, request_id)
        document = to_document(shape, result) if shape is not None else {}
        return HttpResponse(200, encode_json(document), self._headers(service, request_id))

    def _event_stream(self, service: Service, shape: StructureShape, result: dict,
                      request_id: str) -> HttpResponse:
        name = shape.event_stream_name
        events, rest = result[name], {k: v for k, v in result.items() if k != name}
        members = shape.members[name].members
        initial = encode_json(to_document(shape, rest))

        async def messages():
            yield eventstream.event("initial-response", initial)
            async for member, value in events:
                payload = encode_json(to_document(members[member], value))
                if members[member].metadata.get("exception"):
                    yield eventstream.exception(member, payload)
                else:
                    yield eventstream.event(member, payload)

        headers = self._headers(service, request_id)
        headers["content-type"] = "application/vnd.amazon.eventstream"
        return HttpResponse(200, b"", headers, stream=_closing(messages(), events))

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        headers = self._headers(service, request_id)
        headers["x-amzn-errortype"] = error.code
        headers.update(query_error_header(service, error))
        body = {"__type": error.code, "message": error.message, **error.fields}
        return HttpResponse(error.status, encode_json(body), headers)


async def _closing(messages, events):
    """`messages`, closing the handler's own generator too when the client goes away."""
    try:
        async for message in messages:
            yield message
    finally:
        await messages.aclose()
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
