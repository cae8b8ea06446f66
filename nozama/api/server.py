"""The HTTP endpoint: an ASGI app that hands AWS requests to the gateway.

Nozama's own routes live under /_nozama/ where no AWS API puts anything: the
health check and the agents' channel. AWS handlers are short, indexed
database calls, so they run on the event loop thread itself: a thread hop
per request would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from nozama import __version__
from nozama.api import catalog
from nozama.api.errors import InvalidParameterException, ServiceError
from nozama.api.gateway import Gateway
from nozama.api.http import HttpRequest, HttpResponse
from nozama.api.shapes import from_document
from nozama.api.validate import summarize, validation_errors
from nozama.controllers import agents
from nozama.controllers import services as service_controller
from nozama.services.ecs.container_instances import register_container_instance

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024
AGENT_PREFIX = "/_nozama/agent/v1/"


class App:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.started = time.monotonic()
        self.background: list[asyncio.Task] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = HttpRequest(
            method=scope["method"], path=scope["path"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"), headers=headers,
            body=body or b"")
        if body is None:
            response = _json(413, {"message": "Request body too large"})
        elif request.path.startswith(AGENT_PREFIX):
            response = await self.agent_channel(request)
        elif request.path.startswith("/_nozama/"):
            response = self.internal(request)
        else:
            response = self.gateway.handle(request)
        headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start_background()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self.background:
                    task.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def start_background(self) -> None:
        gateway = self.gateway
        self.background.append(asyncio.ensure_future(
            agents.watch_heartbeats(gateway.store, gateway.clock)))
        self.background.append(asyncio.ensure_future(service_controller.run(gateway.context)))

    def internal(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/_nozama/health":
            return _json(200, {"status": "ok", "version": __version__,
                               "store": self.gateway.store.kind,
                               "uptimeSeconds": round(time.monotonic() - self.started, 3)})
        return _json(404, {"message": "Not found"})

    async def agent_channel(self, request: HttpRequest) -> HttpResponse:
        """register / poll / state: JSON in, JSON out, AWS-style errors."""
        operation = request.path[len(AGENT_PREFIX):]
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict) or request.method != "POST":
                raise ServiceError("InvalidRequest", "POST a JSON object.")
            if operation == "register":
                ctx = self.gateway.context(str(body.pop("region", "us-east-1")))
                result = register_container_instance(ctx, _validated("RegisterContainerInstance",
                                                                     body))
                agents.assignments(ctx, result["containerInstance"]["containerInstanceArn"])
            elif operation == "poll":
                arn = body.get("containerInstanceArn", "")
                ctx = agents.instance_context(self.gateway.context, arn)
                result = await agents.poll(ctx, arn, body.get("digest"))
            elif operation == "state":
                arn = body.get("containerInstanceArn", "")
                ctx = agents.instance_context(self.gateway.context, arn)
                result = agents.report(ctx, arn, body.get("tasks") or [])
            else:
                return _json(404, {"message": f"Unknown agent operation {operation}"})
        except ServiceError as error:
            return _json(error.status, {"__type": error.code, "message": error.message})
        except ValueError:
            return _json(400, {"__type": "SerializationException",
                               "message": "The body is not valid JSON."})
        except Exception:
            log.exception("agent channel %s failed", operation)
            return _json(500, {"__type": "ServerException", "message": "Internal error"})
        return _json(200, result)


def _validated(operation: str, body: dict) -> dict:
    """Check a channel request against the ECS operation's input shape, as the API does."""
    shape = catalog.service("ecs").operation(operation).input_shape
    params = from_document(shape, body)
    found = validation_errors(shape, params)
    if found:
        raise InvalidParameterException(summarize(found))
    return params


def _json(status: int, document: dict) -> HttpResponse:
    return HttpResponse(status, json.dumps(document, default=_default).encode(),
                        {"content-type": "application/json"})


def _default(value):
    # Rows carry datetimes (registeredAt): the channel sends epoch seconds, like the API.
    return value.timestamp()


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
