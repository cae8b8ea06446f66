"""The AWS REST-JSON protocol: method and URI name the operation (Lambda)."""

from __future__ import annotations

import functools
import re
from email.utils import formatdate
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from nozama.api.catalog import Service
from nozama.kernel.errors import ServiceError
from nozama.kernel.http import PAYLOAD_CONTENT_TYPE, HttpRequest, HttpResponse
from nozama.api.protocols.base import Protocol
from nozama.api.protocols.json import decode_json_body, encode_json
from nozama.api.shapes import as_datetime, epoch_seconds, from_document, from_text, iso8601
from nozama.api.shapes import to_document

_LABEL = re.compile(r"\{([^}]+)\}")


class Route:
    def __init__(self, operation: str, method: str, request_uri: str):
        path, _, static_query = request_uri.partition("?")
        self.operation = operation
        self.method = method
        self.static_query = [q.split("=", 1)[0] for q in static_query.split("&") if q]
        pattern, last = "", 0
        for match in _LABEL.finditer(path):
            pattern += re.escape(path[last:match.start()])
            label = match.group(1)
            greedy = label.endswith("+")
            pattern += f"(?P<{label.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
            last = match.end()
        pattern += re.escape(path[last:])
        self.regex = re.compile(pattern.rstrip("/") + "/?$")
        # More literal text means a more specific route: try those first.
        self.specificity = (len(_LABEL.sub("", path)), len(self.static_query))

    def match(self, request: HttpRequest) -> dict[str, str] | None:
        if request.method != self.method:
            return None
        found = self.regex.match(request.raw_path)
        if found is None or any(q not in request.query for q in self.static_query):
            return None
        return {k: unquote(v) for k, v in found.groupdict().items()}


@functools.cache
def routes(service: Service) -> dict[str, list[Route]]:
    """The service's routes by HTTP method, the most specific first."""
    model = service.model
    table = [Route(name, op.http["method"], op.http["requestUri"])
             for name in model.operation_names
             for op in [model.operation_model(name)]]
    by_method: dict[str, list[Route]] = {}
    for route in sorted(table, key=lambda r: r.specificity, reverse=True):
        by_method.setdefault(route.method, []).append(route)
    return by_method


def find_route(service: Service, request: HttpRequest) -> tuple[Route, dict] | None:
    # Routing and parsing both need the match: the request keeps it.
    if request.matched_route is not None and request.matched_route[0] is service:
        return request.matched_route[1]
    found = None
    for route in routes(service).get(request.method, ()):
        labels = route.match(request)
        if labels is not None:
            found = route, labels
            break
    request.matched_route = (service, found)
    return found


class RestJsonProtocol(Protocol):
    name = "rest-json"

    def operation_name(self, service: Service, request: HttpRequest) -> str | None:
        found = find_route(service, request)
        return found[0].operation if found else None

    def parse(self, service: Service, operation: OperationModel, request: HttpRequest) -> dict:
        shape = operation.input_shape
        if shape is None:
            return {}
        route, labels = find_route(service, request)
        params: dict = {}
        body_members = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                if wire in labels:
                    params[name] = from_text(member, labels[wire], name)
            elif location == "querystring":
                value = self._from_query(member, request, wire, shape)
                if value is not None:
                    params[name] = value
            elif location == "header":
                if wire.lower() in request.headers:
                    params[name] = self._from_header(member, request.headers[wire.lower()], name)
            elif location == "headers":
                prefix = wire.lower()
                found = {k[len(prefix):]: v for k, v in request.headers.items()
                         if k.startswith(prefix)}
                if found:
                    params[name] = found
            else:
                body_members[name] = member
        params.update(self._from_body(shape, body_members, request.body))
        return params

    def _from_query(self, member: Shape, request: HttpRequest, wire: str, shape: Shape):
        if member.type_name == "map":
            # A querystring map takes every parameter not bound to another member.
            bound = {m.serialization.get("name", n) for n, m in shape.members.items()
                     if m.serialization.get("location") == "querystring" and m is not member}
            return {k: v for k, v in request.query.items() if k not in bound} or None
        if wire not in request.query_lists:
            return None
        if member.type_name == "list":
            return [from_text(member.member, v, wire) for v in request.query_lists[wire]]
        return from_text(member, request.query[wire], wire)

    def _from_header(self, member: Shape, text: str, name: str):
        if member.type_name == "list":
            return [from_text(member.member, v.strip(), name) for v in text.split(",")]
        return from_text(member, text, name)

    def _from_body(self, shape: Shape, body_members: dict, body: bytes) -> dict:
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            if member.type_name in ("blob", "string"):
                if not body:
                    return {}
                return {payload: body if member.type_name == "blob" else body.decode()}
            return {payload: from_document(member, decode_json_body(body), payload)}
        if not body_members:
            return {}
        document = decode_json_body(body)
        if not isinstance(document, dict):
            return from_document(shape, document)  # raises the type error
        return {k: from_document(body_members[k], v, k) for k, v in document.items()
                if k in body_members and v is not None}

    # ------------------------------------------------------------ responses

    def serialize(self, service: Service, operation: OperationModel, result: dict,
                  request_id: str) -> HttpResponse:
        status = operation.http.get("responseCode", 200)
        headers = {"content-type": "application/json", "x-amzn-requestid": request_id}
        shape = operation.output_shape
        if shape is None:
            return HttpResponse(status, b"{}" if status != 204 else b"", headers)
        body_doc = {}
        for name, value in result.items():
            member = shape.members.get(name)
            if member is None or value is None:
                continue
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "statusCode":
                status = int(value)
            elif location == "header":
                headers[wire.lower()] = self._header_text(member, value)
            elif location == "headers":
                headers.update({f"{wire.lower()}{k}": str(v) for k, v in value.items()})
            else:
                body_doc[name] = value
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            value = body_doc.get(payload)
            if member.type_name in ("blob", "string"):
                body = value.encode() if isinstance(value, str) else (value or b"")
                if body or PAYLOAD_CONTENT_TYPE in result:
                    headers["content-type"] = result.get(PAYLOAD_CONTENT_TYPE,
                                                          "application/octet-stream")
                else:  # 202 or 204 with nothing in it: no content to type
                    del headers["content-type"]
                return HttpResponse(status, body, headers)
            return HttpResponse(status, encode_json(to_document(member, value or {})), headers)
        if status == 204:  # No Content means no body, whatever members the shape has
            return HttpResponse(status, b"", headers)
        return HttpResponse(status, encode_json(to_document(shape, body_doc)), headers)

    def _header_text(self, member: Shape, value) -> str:
        kind = member.type_name
        if kind == "timestamp":
            fmt = member.serialization.get("timestampFormat", "rfc822")
            if fmt == "iso8601":
                return iso8601(value)
            if fmt == "unixTimestamp":
                return str(epoch_seconds(value))
            return formatdate(as_datetime(value).timestamp(), usegmt=True)
        if kind == "boolean":
            return "true" if value else "false"
        if kind == "list":
            return ",".join(str(v) for v in value)
        return str(value)

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        headers = {"content-type": "application/json", "x-amzn-requestid": request_id,
                   "x-amzn-errortype": error.code}
        body = {"Type": "User" if error.sender_fault else "Server", "message": error.message,
                **error.fields}
        return HttpResponse(error.status, encode_json(body), headers)
