"""The HTTP request and response as the protocol layer sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import AsyncIterator
from urllib.parse import parse_qsl


@dataclass
class HttpRequest:
    method: str
    path: str                 # percent-decoded path
    raw_path: str             # path as sent, for greedy rest-json labels
    query_string: str
    headers: dict[str, str]   # lower-case names
    body: bytes
    # (service, route match) once the REST-JSON protocol has matched the path.
    matched_route: tuple | None = None
    # The body was larger than the server keeps: it was read and dropped (`body` is empty).
    oversized: bool = False
    # The server's own address this request's connection came in on (Host checks).
    local_address: str = ""

    @cached_property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @cached_property
    def query_lists(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(key, []).append(value)
        return out

    @cached_property
    def form(self) -> dict[str, str]:
        """Query-protocol parameters: the form body and the URL's query string."""
        params = dict(self.query)
        content_type = self.headers.get("content-type", "")
        if self.body and (not content_type or "x-www-form-urlencoded" in content_type):
            try:
                text = self.body.decode()
            except UnicodeDecodeError:
                text = ""
            params.update(parse_qsl(text, keep_blank_values=True))
        return params


# A handler's result may carry this key to set the content type of a blob payload
# (Lambda's Invoke answers application/json; botocore's models do not say so).
PAYLOAD_CONTENT_TYPE = "__payload_content_type__"


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A streamed response (an event stream): its chunks are sent as they come, with
    # chunked transfer encoding, and `body` is ignored. The server stops iterating (the
    # generator is closed) when the client goes away or the server stops.
    stream: AsyncIterator[bytes] | None = None
