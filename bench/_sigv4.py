"""Pre-signed raw HTTP/1.1 requests for the benchmarks.

A request is serialized by botocore's own serializer for the service's
protocol (so the bytes are what an SDK sends), signed once with SigV4 and
returned as the exact bytes to write on a keep-alive connection. Nozama
verifies signatures (moto does not): sign with a key the server knows (its
administrator key). A signature stays valid for 15 minutes from its
X-Amz-Date (the allowed clock skew) however often it is replayed, so a run
longer than that must sign again.
"""

from __future__ import annotations

from functools import lru_cache

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer
from botocore.session import get_session

USER_AGENT = "nozama-bench/1 botocore-presigned"


@lru_cache(maxsize=None)
def service_model(service: str):
    return get_session().get_service_model(service)


def signed_request(host: str, port: int, operation: str, params: dict,
                   key: tuple[str, str], service: str = "ecs",
                   region: str = "us-east-1") -> bytes:
    """The raw bytes of one HTTP/1.1 request (keep-alive) signed with `key` (access key
    id, secret)."""
    model = service_model(service)
    op_model = model.operation_model(operation)
    serializer = create_serializer(model.metadata["protocol"], include_validation=True)
    parts = serializer.serialize_to_request(params, op_model)
    path = parts["url_path"] or "/"
    query = parts.get("query_string") or ""
    if query:
        raise ValueError(f"{operation}: query-string requests are not supported here")
    body = parts["body"]
    if isinstance(body, str):
        body = body.encode()
    authority = f"{host}:{port}"
    request = AWSRequest(method=parts["method"], url=f"http://{authority}{path}", data=body,
                         headers=dict(parts["headers"]))
    request.headers["User-Agent"] = USER_AGENT
    SigV4Auth(Credentials(*key), model.signing_name or service,
              region).add_auth(request)
    headers = [("Host", authority)]
    for name, value in request.headers.items():
        if name.lower() in ("host", "content-length", "connection"):
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        headers.append((name, value))
    headers.append(("Content-Length", str(len(body))))
    head = f"{parts['method']} {path} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("latin-1") + body
