"""The HTTP endpoint: an ASGI app that hands AWS requests to the gateway.

Nozama's own routes live under /_nozama/ where no AWS API puts anything.
Handlers are short, indexed database calls, so they run on the event loop
thread itself: a thread hop per request would cost more than it saves.
"""

from __future__ import annotations

import json
import time

from nozama import __version__
from nozama.api.gateway import Gateway
from nozama.api.http import HttpRequest, HttpResponse

MAX_BODY = 16 * 1024 * 1024


class App:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.started = time.monotonic()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = HttpRequest(
            method=scope["method"], path=scope["path"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"), headers=headers, body=body)
        if request.path.startswith("/_nozama/"):
            response = self.internal(request)
        elif body is None:
            response = HttpResponse(413, b'{"message":"Request body too large"}',
                                    {"content-type": "application/json"})
        else:
            response = self.gateway.handle(request)
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()]})
        await send({"type": "http.response.body", "body": response.body})

    def internal(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/_nozama/health":
            document = {"status": "ok", "version": __version__,
                        "store": self.gateway.store.kind,
                        "uptimeSeconds": round(time.monotonic() - self.started, 3)}
            return HttpResponse(200, json.dumps(document).encode(),
                                {"content-type": "application/json"})
        return HttpResponse(404, b'{"message":"Not found"}', {"content-type": "application/json"})


async def _read_body(receive) -> bytes | None:
    """The whole request body, or None when it is larger than MAX_BODY."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
