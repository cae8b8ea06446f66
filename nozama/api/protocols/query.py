"""The AWS query protocol: form-encoded parameters in, XML out (ELBv2)."""

from __future__ import annotations

import base64
import re
from xml.sax.saxutils import escape as _escape

from botocore.model import OperationModel, Shape

from nozama.api.catalog import Service
from nozama.kernel.errors import ServiceError
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.api.protocols.base import Protocol, error_code
from nozama.api.shapes import as_datetime, from_text, iso8601

_INDEX = re.compile(r"(\d+)")


# Characters XML 1.0 cannot carry at all, not even as references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    """Text for an XML element: markup escaped, and characters XML cannot carry (control
    characters a request may have sent and an error message echoes) as U+FFFD."""
    return _escape(_NOT_XML.sub("\ufffd", text))


def _member_name(shape: Shape, default: str) -> str:
    return shape.serialization.get("name", default)


class QueryProtocol(Protocol):
    name = "query"

    def operation_name(self, service: Service, request: HttpRequest) -> str | None:
        return request.form.get("Action") or None

    def parse(self, service: Service, operation: OperationModel, request: HttpRequest) -> dict:
        shape = operation.input_shape
        if shape is None:
            return {}
        params = {k: v for k, v in request.form.items() if k not in ("Action", "Version")}
        return self._structure(shape, params, "") or {}

    # Each reader returns None when nothing under its prefix was sent.
    def _read(self, shape: Shape, params: dict, key: str):
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, params, key + ".")
        if kind == "list":
            return self._list(shape, params, key)
        if kind == "map":
            return self._map(shape, params, key)
        if key in params:
            return from_text(shape, params[key], key)
        return None

    def _structure(self, shape: Shape, params: dict, prefix: str):
        if prefix and not any(k.startswith(prefix) for k in params):
            return None
        out = {}
        for name, member in shape.members.items():
            value = self._read(member, params, prefix + _member_name(member, name))
            if value is not None:
                out[name] = value
        return out

    def _list(self, shape: Shape, params: dict, key: str):
        if params.get(key) == "":
            return []  # botocore sends an empty list as "Key="
        if shape.serialization.get("flattened"):
            base = key
        else:
            base = f"{key}.{shape.member.serialization.get('name', 'member')}"
        items = self._indexed(shape.member, params, base)
        return None if items is None else [v for _, v in sorted(items.items())]

    def _map(self, shape: Shape, params: dict, key: str):
        base = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = _member_name(shape.key, "key")
        value_name = _member_name(shape.value, "value")
        indexes = self._indexes(params, base)
        if not indexes:
            return None
        out = {}
        for i in sorted(indexes):
            k = self._read(shape.key, params, f"{base}.{i}.{key_name}")
            if k is not None:
                out[k] = self._read(shape.value, params, f"{base}.{i}.{value_name}")
        return out

    def _indexes(self, params: dict, base: str) -> set[int]:
        prefix = base + "."
        found = set()
        for k in params:
            if k.startswith(prefix):
                match = _INDEX.match(k, len(prefix))
                if match:
                    found.add(int(match.group(1)))
        return found

    def _indexed(self, member: Shape, params: dict, base: str):
        indexes = self._indexes(params, base)
        if not indexes:
            return None
        return {i: self._read(member, params, f"{base}.{i}") for i in indexes}

    # ------------------------------------------------------------ responses

    def serialize(self, service: Service, operation: OperationModel, result: dict,
                  request_id: str) -> HttpResponse:
        name = operation.name
        namespace = service.model.metadata.get("xmlNamespace", "")
        shape = operation.output_shape
        inner = ""
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
            inner = f"<{wrapper}>{self._xml_members(shape, result)}</{wrapper}>"
        body = (f'<{name}Response xmlns="{namespace}">{inner}'
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                f"</{name}Response>")
        return HttpResponse(200, body.encode(), self._headers(request_id))

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"content-type": "text/xml", "x-amzn-requestid": request_id}

    def _xml_members(self, shape: Shape, value: dict) -> str:
        parts = []
        members = shape.members
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                parts.append(self._xml(member, item, _member_name(member, name)))
        return "".join(parts)

    def _xml(self, shape: Shape, value, tag: str) -> str:
        kind = shape.type_name
        if kind == "structure":
            return f"<{tag}>{self._xml_members(shape, value)}</{tag}>"
        if kind == "list":
            member = shape.member
            if shape.serialization.get("flattened"):
                item_tag = _member_name(member, tag)
                return "".join(self._xml(member, v, item_tag) for v in value)
            item_tag = _member_name(member, "member")
            return f"<{tag}>{''.join(self._xml(member, v, item_tag) for v in value)}</{tag}>"
        if kind == "map":
            key_tag, value_tag = _member_name(shape.key, "key"), _member_name(shape.value, "value")
            entries = "".join(f"<entry>{self._xml(shape.key, k, key_tag)}"
                              f"{self._xml(shape.value, v, value_tag)}</entry>"
                              for k, v in value.items())
            return f"<{tag}>{entries}</{tag}>"
        return f"<{tag}>{escape(self._text(shape, value))}</{tag}>"

    def _text(self, shape: Shape, value) -> str:
        kind = shape.type_name
        if kind == "boolean":
            return "true" if value else "false"
        if kind == "timestamp":
            return iso8601(as_datetime(value))
        if kind == "blob":
            return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
        return str(value)

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        namespace = service.model.metadata.get("xmlNamespace", "")
        kind = "Sender" if error.sender_fault else "Receiver"
        body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
                f"<Code>{escape(error_code(service, error))}</Code>"
                f"<Message>{escape(error.message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        return HttpResponse(error.status, body.encode(), self._headers(request_id))
