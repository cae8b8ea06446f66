"""A small HTTP/1.1 server on asyncio Protocols and httptools.

The API's requests are short and answered from the event loop thread, so the
per-request cost of the server itself matters as much as the handler's: an
ASGI server spends more time building scopes, message dicts and a task per
request than the indexed lookups behind most AWS calls take. This server
parses with httptools straight into an HttpRequest and writes the response
in one call.

A handler returns an HttpResponse, or a coroutine for the few requests that
wait (the agents' long poll); those run as tasks. Responses go out in request
order: while an awaited request is in flight the connection stops reading, so
pipelined requests queue behind it. A response with a `stream` (StartLiveTail's
event stream) is sent chunk by chunk with chunked transfer encoding, as a task
that is cancelled (closing the stream's generator) when the client disconnects.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl as ssl_module
from email.utils import formatdate
from http import HTTPStatus
from typing import Awaitable, Callable, Union
from urllib.parse import unquote

import httptools

from nozama.kernel.clock import Clock
from nozama.kernel.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], Union[HttpResponse, Awaitable[HttpResponse]]]

MAX_BODY = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
KEEP_ALIVE_SECONDS = 75.0  # longer than the idle timeouts of AWS SDKs' pools

_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


class DateHeader:
    """The Date header's value, formatted once a second rather than per response."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.second = 0
        self.value = b""

    def now(self) -> bytes:
        second = int(self.clock.time())
        if second != self.second:
            self.second = second
            self.value = formatdate(second, usegmt=True).encode()
        return self.value


def encode_response(response: HttpResponse, keep_alive: bool, date: bytes) -> bytes:
    status = response.status
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    for name, value in response.headers.items():
        lines.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
    if response.stream is None:
        lines.append(b"date: %s\r\ncontent-length: %d\r\n" % (date, len(response.body)))
    else:
        lines.append(b"date: %s\r\ntransfer-encoding: chunked\r\n" % date)
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    if response.stream is None:
        lines.append(response.body)
    return b"".join(lines)


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body; the empty chunk ends it."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _error(status: int, message: str) -> HttpResponse:
    body = b'{"message": "%s"}' % message.encode()
    return HttpResponse(status, body, {"content-type": "application/json"})


class HttpConnection(asyncio.Protocol):
    def __init__(self, server: "HttpServer"):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: collections.deque[tuple[HttpRequest, bool]] = collections.deque()
        self.waiting: asyncio.Task | None = None   # an awaited handler in flight
        self.last_active = 0.0
        self.local_address = ""
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_size = 0

    # asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        sockname = transport.get_extra_info("sockname")
        self.local_address = sockname[0] if isinstance(sockname, tuple) else ""
        self.server.connections.add(self)
        self.last_active = self.server.clock.monotonic()

    def connection_lost(self, exc) -> None:
        self.server.connections.discard(self)
        if self.waiting is not None:
            self.waiting.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.last_active = self.server.clock.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request itself has been answered; the API speaks no other
            # protocol, so whatever follows the upgrade request is not for us.
            self.close_if_idle()
        except httptools.HttpParserError as error:
            # httptools wraps what a callback raises; a limit we enforce shows through.
            limit = error.__context__
            if isinstance(limit, _TooLarge):
                self._fail(limit.status, limit.message)
            else:
                self._fail(400, "Malformed HTTP request.")

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_HEADER_BYTES:
            raise _TooLarge(414, "Request URI too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > MAX_HEADER_BYTES:
            raise _TooLarge(431, "Request headers too large.")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        # Repeated headers fold into one, comma-separated, as HTTP allows.
        self.headers[key] = f"{self.headers[key]},{text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        if self.headers.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.server.max_body:
            if not self.server.pass_oversized:
                raise _TooLarge(413, "Request body too large.")
            self.body.clear()  # read on to the end, keeping nothing
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self.url)
        raw_path = (url.path or b"/").decode("latin-1")
        request = HttpRequest(
            method=self.parser.get_method().decode("latin-1"), path=unquote(raw_path),
            raw_path=raw_path, query_string=(url.query or b"").decode("latin-1"),
            headers=self.headers, body=b"".join(self.body),
            oversized=self.body_size > self.server.max_body, local_address=self.local_address)
        self.queue.append((request, self.parser.should_keep_alive()))
        if self.waiting is None:
            self._drain_queue()

    # Answering

    def _drain_queue(self) -> None:
        while self.queue and self.transport is not None:
            request, keep_alive = self.queue.popleft()
            try:
                result = self.server.handler(request)
            except Exception:
                log.exception("unhandled error answering %s %s", request.method, request.path)
                result = _error(500, "Internal error")
            if isinstance(result, HttpResponse) and result.stream is None:
                self._respond(result, keep_alive)
                continue
            self.transport.pause_reading()
            self.waiting = asyncio.ensure_future(self._await(result, keep_alive))
            return

    async def _await(self, pending: Awaitable[HttpResponse] | HttpResponse,
                     keep_alive: bool) -> None:
        try:
            response = pending if isinstance(pending, HttpResponse) else await pending
            if response.stream is not None and self.transport is not None:
                keep_alive = await self._stream(response, keep_alive)
                response = None
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("unhandled error in an awaited handler")
            response = _error(500, "Internal error")
        self.waiting = None
        if self.transport is None:
            return
        if response is not None:
            self._respond(response, keep_alive)
        if self.transport is not None:
            self.transport.resume_reading()
            self._drain_queue()

    async def _stream(self, response: HttpResponse, keep_alive: bool) -> bool:
        """Send a streamed response; whether the connection stays open after it.

        Once the head is out an error cannot become a 500: the body just ends, and
        the connection closes so the client sees the stream cut short.
        """
        keep_alive = keep_alive and not self.server.closing
        self.transport.write(encode_response(response, keep_alive, self.server.date.now()))
        stream = response.stream
        try:
            async for chunk in stream:
                if self.transport is None:
                    return False
                if chunk:
                    self.transport.write(encode_chunk(chunk))
        except Exception:
            log.exception("a streamed response failed")
            self.transport.close()
            self.transport = None
            return False
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if self.transport is None:
            return False
        self.transport.write(encode_chunk(b""))
        if not keep_alive:
            self.transport.close()
            self.transport = None
        return keep_alive

    def _respond(self, response: HttpResponse, keep_alive: bool) -> None:
        keep_alive = keep_alive and not self.server.closing
        self.transport.write(encode_response(response, keep_alive, self.server.date.now()))
        if not keep_alive:
            self.transport.close()
            self.transport = None

    def _fail(self, status: int, message: str) -> None:
        if self.transport is not None:
            self.queue.clear()
            self._respond(_error(status, message), keep_alive=False)

    def close_if_idle(self) -> None:
        if self.transport is not None and self.waiting is None and not self.queue:
            self.transport.close()
            self.transport = None


class _TooLarge(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class HttpServer:
    """Listens on host:port and answers every request with `handler`.

    A request body over `max_body` is refused with 413, or, with `pass_oversized`,
    read to its end and dropped: the handler gets the request marked `oversized`.
    """

    def __init__(self, handler: Handler, max_body: int = MAX_BODY,
                 pass_oversized: bool = False, clock: Clock | None = None):
        self.handler = handler
        self.clock = clock or Clock()
        self.date = DateHeader(self.clock)
        self.max_body = max_body
        self.pass_oversized = pass_oversized
        self.connections: set[HttpConnection] = set()
        self.closing = False
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None,
                    reuse_port: bool = False) -> None:
        """Listen; with `reuse_port`, beside other sockets of the same user on the same
        address and port (SO_REUSEPORT), which share its connections."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: HttpConnection(self), host, port,
                                                reuse_address=True, backlog=1024, ssl=ssl,
                                                reuse_port=reuse_port or None)
        self._sweeper = asyncio.ensure_future(self._close_idle_connections())

    async def _close_idle_connections(self) -> None:
        # One sweep every few seconds costs less than a timer per request.
        while True:
            await asyncio.sleep(KEEP_ALIVE_SECONDS / 8)
            idle_since = self.clock.monotonic() - KEEP_ALIVE_SECONDS
            for connection in list(self.connections):
                if connection.last_active < idle_since:
                    connection.close_if_idle()

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting and close every connection.

        Handlers run on this thread, so none is half-way through when this
        runs; the only requests in flight are awaited long polls, which the
        agents simply repeat against the next server.
        """
        self.closing = True
        self._sweeper.cancel()
        self._server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        await self._server.wait_closed()
