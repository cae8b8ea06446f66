"""Round-trips through botocore's own client serializers and parsers, for every protocol.

A request that botocore serializes must parse back to the parameters it was
given; a result Nozama serializes must parse, with botocore's client parser,
back to the result; an error must reach the client with its code and message.
Every operation of every served service is exercised with an example value
that sets every member of its input and output shapes.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from urllib.parse import urlencode

import botocore.parsers
import botocore.serialize
import pytest
from botocore.model import OperationModel, Shape
from botocore.awsrequest import HeadersDict
from botocore.response import StreamingBody

from nozama.api import catalog
from nozama.kernel.errors import ServiceError
from nozama.kernel.http import HttpRequest
from nozama.api.protocols import PROTOCOLS

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def example(shape: Shape, depth: int = 0, stack: tuple = ()):
    """A value for `shape` that sets every member, two items per list and map."""
    kind = shape.type_name
    if kind == "structure":
        if shape.name in stack or depth > 8:
            return {}
        out = {}
        for name, member in shape.members.items():
            if member.serialization.get("eventstream") or member.type_name == "structure" \
                    and member.metadata.get("eventstream"):
                continue
            if shape.is_tagged_union and out:
                break  # a union sets exactly one member
            out[name] = example(member, depth + 1, stack + (shape.name,))
        return out
    if kind == "list":
        items = [example(shape.member, depth + 1, stack) for _ in range(2)]
        # An empty structure has no wire form in the query protocol: cut the list.
        return [] if items[0] == {} else items
    if kind == "map":
        return {f"k{i}": example(shape.value, depth + 1, stack) for i in range(2)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"v-{shape.name[:20]}-1"
    if kind in ("integer", "long"):
        return 7
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return WHEN
    if kind == "blob":
        return b"\x00\x01blob"
    raise AssertionError(kind)


def normalized(value):
    """Compare datetimes as instants and streaming bodies by their bytes."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, StreamingBody):
        return value.read()
    if isinstance(value, str) and value.startswith("\x00"):
        return value.encode()
    return value


def _has_streaming_input(operation: OperationModel) -> bool:
    shape = operation.input_shape
    return shape is not None and any(m.serialization.get("eventstream") or
                                     m.metadata.get("eventstream")
                                     for m in shape.members.values())


def cases(direction: str):
    """Every operation of every served service, over each protocol its model lists.

    Event streams (Lambda InvokeWithResponseStream, Logs StartLiveTail) are
    framed differently and are left out until Nozama serves them.
    """
    for service in catalog.served():
        protocols = service.model.metadata.get("protocols") or [service.protocol]
        for protocol in protocols:
            for name in service.model.operation_names:
                operation = service.model.operation_model(name)
                streaming = _has_streaming_input(operation) if direction == "request" \
                    else operation.has_event_stream_output
                if not streaming:
                    yield pytest.param(service.name, protocol, name,
                                       id=f"{service.name}-{protocol}-{name}")


def as_http_request(serialized: dict) -> HttpRequest:
    body = serialized["body"]
    if isinstance(body, dict):
        body = urlencode(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    elif body is None:
        body = b""
    elif not isinstance(body, bytes):
        body = body.read()
    path = serialized["url_path"]
    query = serialized.get("query_string") or ""
    if isinstance(query, dict):
        query = urlencode(query, doseq=True)
    if "?" in path:
        path, _, extra = path.partition("?")
        query = "&".join(q for q in (extra, query) if q)
    from urllib.parse import unquote
    headers = {k.lower(): str(v) for k, v in serialized["headers"].items()}
    return HttpRequest(serialized["method"], unquote(path), path, query, headers, body)


@pytest.mark.parametrize("service_name,protocol,operation_name", list(cases("request")))
def test_request_round_trip(service_name, protocol, operation_name):
    service = catalog.service(service_name)
    operation = service.model.operation_model(operation_name)
    params = example(operation.input_shape) if operation.input_shape else {}
    serialized = botocore.serialize.create_serializer(protocol, include_validation=False) \
        .serialize_to_request(params, operation)
    request = as_http_request(serialized)
    ours = PROTOCOLS[protocol]
    assert ours.operation_name(service, request) == operation_name
    sent = sent_by_ec2(params) if protocol == "ec2" else params
    assert normalized(ours.parse(service, operation, request)) == normalized(sent)


def sent_by_ec2(value):
    """What EC2's protocol carries of a request: botocore sends nothing for an empty list,
    so a structure left with nothing else in it is not on the wire either."""
    if isinstance(value, dict):
        kept = {k: sent_by_ec2(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {})}
    if isinstance(value, list):
        return [sent_by_ec2(v) for v in value]
    return value


@pytest.mark.parametrize("service_name,protocol,operation_name", list(cases("response")))
def test_response_round_trip(service_name, protocol, operation_name):
    service = catalog.service(service_name)
    operation = service.model.operation_model(operation_name)
    result = example(operation.output_shape) if operation.output_shape else {}
    response = PROTOCOLS[protocol].serialize(service, operation, result, "req-1")
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"status_code": response.status, "headers": HeadersDict(response.headers),
         "body": response.body if not operation.has_streaming_output
         else StreamingBody(io.BytesIO(response.body), len(response.body))},
        operation.output_shape)
    if operation.output_shape is not None:  # botocore reads no metadata otherwise
        assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    assert normalized(parsed) == normalized(result)


@pytest.mark.parametrize("service_name", catalog.SERVED)
def test_errors_reach_the_client_with_code_and_message(service_name):
    service = catalog.service(service_name)
    operation = service.model.operation_model(service.model.operation_names[0])
    for protocol in service.model.metadata.get("protocols") or [service.protocol]:
        error = ServiceError("ResourceNotFoundException", "The thing is gone.", 404)
        response = PROTOCOLS[protocol].serialize_error(service, operation, error, "req-2")
        parsed = botocore.parsers.create_parser(protocol).parse(
            {"status_code": response.status, "headers": HeadersDict(response.headers),
             "body": response.body}, operation.output_shape)
        assert response.status == 404
        assert parsed["Error"]["Message"] == "The thing is gone."
        assert parsed["Error"]["Code"] in ("ResourceNotFoundException", "ResourceNotFound")
        assert parsed["ResponseMetadata"]["RequestId"] == "req-2"


def test_query_compatible_errors_carry_the_query_code():
    # CloudWatch left the query protocol; its clients still expect query codes.
    service = catalog.service("cloudwatch")
    operation = service.model.operation_model("GetDashboard")
    error = ServiceError("ResourceNotFound", "No dashboard.", 404)
    for protocol in ("smithy-rpc-v2-cbor", "json"):
        response = PROTOCOLS[protocol].serialize_error(service, operation, error, "r")
        assert response.headers["x-amzn-query-error"] == "ResourceNotFound;Sender"


def test_json_body_that_is_not_json_is_a_serialization_error():
    service = catalog.service("ecs")
    operation = service.model.operation_model("CreateCluster")
    request = HttpRequest("POST", "/", "/", "", {}, b"{not json")
    with pytest.raises(ServiceError) as raised:
        PROTOCOLS["json"].parse(service, operation, request)
    assert raised.value.code == "SerializationException"


def test_wrong_json_type_is_a_serialization_error():
    service = catalog.service("ecs")
    operation = service.model.operation_model("RunTask")
    body = json.dumps({"taskDefinition": "x", "count": "three"}).encode()
    with pytest.raises(ServiceError) as raised:
        PROTOCOLS["json"].parse(service, operation, HttpRequest("POST", "/", "/", "", {}, body))
    assert raised.value.code == "SerializationException"
    assert "count" in raised.value.message
