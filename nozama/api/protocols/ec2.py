"""EC2's own protocol (`ec2`): the query protocol with EC2's differences.

Requests are form-encoded as in the query protocol, but a member is named by its
queryName or its capitalized locationName, and a list's items follow its name
directly (`SubnetId.1`, `Filter.1.Value.1`; no `.member`, and an empty list is not
sent at all). Responses have no Result wrapper: `<XxxResponse xmlns=...><requestId>`
and the output's members, lists as `<item>` elements. Errors are
`<Response><Errors><Error>`, with RequestID spelled EC2's way.
"""

from __future__ import annotations

from botocore.model import OperationModel, Shape

from nozama.api.catalog import Service
from nozama.api.protocols.query import QueryProtocol, escape
from nozama.kernel import errors
from nozama.kernel.errors import ServiceError
from nozama.kernel.http import HttpRequest, HttpResponse

# EC2's answers name the API version's namespace with its trailing slash.
NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _input_name(shape: Shape, default: str) -> str:
    # As botocore's EC2Serializer names a member on the wire.
    if "queryName" in shape.serialization:
        return shape.serialization["queryName"]
    name = shape.serialization.get("name")
    return name[0].upper() + name[1:] if name else default


class Ec2Protocol(QueryProtocol):
    name = "ec2"

    def parse(self, service: Service, operation: OperationModel, request: HttpRequest) -> dict:
        params = super().parse(service, operation, request)
        shape = operation.input_shape
        # EC2 answers a missing parameter with its own code, before any other check.
        for name in shape.required_members if shape is not None else ():
            if params.get(name) is None:
                raise errors.ec2.MissingParameter(
                    f"The request must contain the parameter {name}")
        return params

    def _structure(self, shape: Shape, params: dict, prefix: str):
        if prefix and not any(k.startswith(prefix) for k in params):
            return None
        out = {}
        for name, member in shape.members.items():
            value = self._read(member, params, prefix + _input_name(member, name))
            if value is not None:
                out[name] = value
        return out

    def _list(self, shape: Shape, params: dict, key: str):
        items = self._indexed(shape.member, params, key)
        return None if items is None else [v for _, v in sorted(items.items())]

    # ------------------------------------------------------------ responses

    def serialize(self, service: Service, operation: OperationModel, result: dict,
                  request_id: str) -> HttpResponse:
        name = operation.name
        shape = operation.output_shape
        inner = self._xml_members(shape, result) if shape is not None else ""
        if shape is None:
            inner = "<return>true</return>"  # what EC2 answers an operation with no output
        body = (f'{_DECLARATION}<{name}Response xmlns="{NAMESPACE}">'
                f"<requestId>{request_id}</requestId>{inner}</{name}Response>")
        return HttpResponse(200, body.encode(), self._headers(request_id))

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"content-type": "text/xml;charset=UTF-8", "x-amzn-requestid": request_id}

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        body = (f"{_DECLARATION}<Response><Errors><Error><Code>{escape(error.code)}</Code>"
                f"<Message>{escape(error.message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return HttpResponse(error.status, body.encode(), self._headers(request_id))
