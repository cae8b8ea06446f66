"""The HTTP/1.1 reverse proxy of a listener, on asyncio Protocols and httptools.

A client connection parses requests; each is routed by the listener's rules
(lb/routing.py) to a fixed response, a redirect, or a target chosen by the
balancer, reached over a pooled keep-alive connection. Bodies stream both
ways chunk by chunk (nothing is buffered whole), with back-pressure: a side
that cannot keep up pauses the other's reading. One request per client
connection is in flight at a time: reading pauses until it is answered. A
request read along with the one in flight (pipelined in the same packet) is
not forwarded: the first is answered with Connection: close, and the client
sends the rest again.

An upgrade request (WebSocket) is forwarded with its Upgrade header; when the
target answers 101 the connection becomes a tunnel that passes bytes through
both ways until either side closes or the idle timeout passes.

Errors are the request's own: 503 when its target group has no healthy
target, 502 when the target refuses, resets or sends garbage before the
response began, 504 when it stays silent past the idle timeout. Once a
response has begun, a failing target can only cut the client connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

import httptools

from nozama.kernel.clock import Clock
from nozama.lb import routing
from nozama.lb.balancer import Balancer, TargetState, token
from nozama.lb.config import Listener

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-authenticate",
                        "proxy-authorization", "expect"})
# A client's headers that do not go on to the target: hop-by-hop ones, and those the
# load balancer sets itself.
_NOT_FORWARDED = HOP_BY_HOP | {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port",
                               "x-amzn-trace-id"}
MAX_HEADER_BYTES = 64 * 1024
MAX_IDLE_PER_TARGET = 64
CONNECT_TIMEOUT = 10.0
_REASONS = {s.value: s.phrase for s in HTTPStatus}
# A target's response head passes on as bytes, without a Python call per header: this
# finds the hop-by-hop lines to cut in the lower-cased head, at C speed.
_HOP_BY_HOP_NAME = re.compile(b"\n(?:" + b"|".join(n.encode() for n in HOP_BY_HOP) + b"):")


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def _target_headers(lines: bytes) -> tuple[bytes, bool, bool]:
    """The header lines of a target's response head without its hop-by-hop ones; whether
    it has a Content-Length; whether it is chunked."""
    low = b"\n" + lines.lower()   # low[i + 1] is lines[i]; each name follows a line feed
    chunked = False
    kept, last = [], 0
    for match in _HOP_BY_HOP_NAME.finditer(low):
        start = match.start()           # the line is lines[start:end], its \n included
        end = low.find(b"\n", start + 1)
        if match.group() == b"\ntransfer-encoding:" and b"chunked" in low[start:end]:
            chunked = True
        kept.append(lines[last:start])
        last = end
    if last:
        kept.append(lines[last:])
        lines = b"".join(kept)
    return lines, b"\ncontent-length:" in low, chunked


def local_response(status: int, body: bytes = b"", content_type: str = "text/html",
                   extra: list[tuple[str, str]] = (), keep_alive: bool = True) -> bytes:
    """A response the load balancer writes itself (errors, fixed responses, redirects)."""
    lines = [f"HTTP/1.1 {status} {_reason(status)}", "Server: awselb/2.0",
             f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in extra]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _error_page(status: int) -> bytes:
    return (f"<html>\r\n<head><title>{status} {_reason(status)}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {_reason(status)}</h1></center>\r\n</body>\r\n</html>\r\n"
            ).encode()


class TraceIds:
    """X-Amzn-Trace-Id values, Root=1-<second>-<96 bits>: the data plane's random 32 bits,
    then a counter, so that ids are unique without drawing random bits per request."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.prefix = f"{random.getrandbits(32):08x}"
        self.counter = itertools.count(random.getrandbits(32))
        self.second, self.root = -1, ""

    def next(self) -> str:
        second = int(self.clock.time())
        if second != self.second:
            self.second, self.root = second, f"Root=1-{second:08x}-{self.prefix}"
        return f"{self.root}{next(self.counter) & _MASK64:016x}"


_MASK64 = (1 << 64) - 1
# A memo of a pure function of the status (the HTTP status codes are few): not state.
_STATUS_LINES: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {_reason(status)}\r\n".encode()
    return line


def _stickiness_cookies(header: str) -> dict[str, str]:
    """The load balancer's own cookies (AWSALB, AWSALBTG, AWSALBAPP-0) of a Cookie header."""
    if "AWSALB" not in header:
        return {}
    found = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name in ("AWSALB", "AWSALBTG", "AWSALBAPP-0"):
            found[name] = value
    return found


def _cookie_value(header: str, name: str) -> str | None:
    """The value of one cookie of a Cookie header."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _set_cookies(action: dict, group, group_cookie: str | None,
                 state: TargetState, clock: Clock) -> list[str]:
    """The stickiness cookies a response carries: AWSALBTG for the action's target group
    stickiness, AWSALB for the group's own lb_cookie stickiness (`group_cookie` names the
    cookie of the group's stickiness, if on). (AWSALBAPP-0, for app_cookie stickiness, is
    added only when the target sets its cookie.)"""
    cookies = []
    config = action["ForwardConfig"]
    stickiness = config["TargetGroupStickinessConfig"]
    if stickiness.get("Enabled") and len(config["TargetGroups"]) > 1:
        cookies.append(_cookie("AWSALBTG", token(state.target.target_group_arn),
                               stickiness["DurationSeconds"], clock))
    if group_cookie == "AWSALB":
        cookies.append(_cookie("AWSALB", token(*state.target.key), int(
            group.attributes["stickiness.lb_cookie.duration_seconds"]), clock))
    return cookies


def _cookie(name: str, value: str, seconds: int, clock: Clock) -> str:
    """A stickiness cookie that expires `seconds` from now."""
    expires = formatdate(clock.time() + seconds, usegmt=True)
    return f"{name}={value}; Expires={expires}; Path=/"


class Pool:
    """Idle keep-alive connections to targets, by (host, port)."""

    def __init__(self):
        self.idle: dict[tuple[str, int], list["Upstream"]] = {}

    def take(self, host: str, port: int) -> "Upstream | None":
        idle = self.idle.get((host, port))
        while idle:
            upstream = idle.pop()
            if upstream.transport is not None and not upstream.transport.is_closing():
                return upstream
        return None

    def give(self, upstream: "Upstream") -> None:
        idle = self.idle.setdefault(upstream.address, [])
        if len(idle) < MAX_IDLE_PER_TARGET:
            idle.append(upstream)
        else:
            upstream.transport.close()

    def close(self) -> None:
        for idle in self.idle.values():
            for upstream in idle:
                if upstream.transport is not None:
                    upstream.transport.close()
        self.idle.clear()


class Upstream(asyncio.Protocol):
    """A connection to a target, carrying one exchange at a time."""

    def __init__(self, address: tuple[str, int]):
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.parser = httptools.HttpResponseParser(self)
        # The bytes of the response head being read (None once it has been read).
        self.head: bytes | None = b""
        self.interim = False  # the message being read is a 1xx before the response

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None
        exchange, self.exchange = self.exchange, None
        if exchange is None:
            return
        if exchange.tunnel:
            exchange.client.close()  # the upgraded connection ends on both sides
            exchange._finish()
        elif exchange.until_close and exc is None:
            exchange.response_done(False)  # a body that ends when the connection does
        else:
            exchange.fail(502)  # reset, or closed before the response ended

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:
            # An idle connection has nothing to say: drop it.
            self.transport.close()
            return
        self.exchange.touch()
        if self.exchange.tunnel:
            self.exchange.client.write(data)
            return
        # What one read of the target's response makes (a small response's head and
        # body, usually) goes to the client in one send.
        client = self.exchange.client
        if self.head is not None:
            self.head += data
        client.cork()
        try:
            self.parser.feed_data(data)
            if self.head is not None and len(self.head) > MAX_HEADER_BYTES:
                raise httptools.HttpParserError("the response head has no end")
        except httptools.HttpParserUpgrade as upgrade:
            # The target switched protocols (101): what follows is the client's.
            if self.exchange is not None and self.exchange.tunnel:
                self.exchange.client.write(data[upgrade.args[0]:])
        except httptools.HttpParserError:
            if self.exchange is not None:
                self.exchange.fail(502)  # not HTTP
            elif self.transport is not None:
                self.transport.close()
        finally:
            client.uncork()

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.pause()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.resume()

    # httptools callbacks

    def on_headers_complete(self) -> None:
        raw = self.head
        end = raw.find(b"\r\n\r\n") + 4   # the parser takes no bare line feeds
        status = self.parser.get_status_code()
        # After an interim response (100 Continue, 103 Early Hints) the real one follows.
        self.interim = 100 <= status < 200 and status != 101
        self.head = raw[end:] if self.interim else None
        self.exchange.response_head(status, raw[:end])

    def on_body(self, body: bytes) -> None:
        self.exchange.response_body(body)

    def on_message_complete(self) -> None:
        if self.exchange.tunnel or self.interim:
            return  # a 101's "message" ends where the tunnel begins; a 1xx's, the response
        exchange, self.exchange = self.exchange, None
        exchange.response_done(self.parser.should_keep_alive())


class Exchange:
    """One request from a client to a target and its response back."""

    def __init__(self, client: "ClientConnection", state: TargetState, head: bytes,
                 chunked_request: bool, method: str):
        self.client = client
        self.meter = client.dataplane.meters.target(client.listener.load_balancer_arn, state)
        self.meter.requests += 1
        self.state = state
        self.head = head
        self.chunked_request = chunked_request
        self.method = method
        self.upstream: Upstream | None = None
        self.pending: list[bytes] = [head]   # request bytes waiting for the connection
        self.request_complete = False
        self.response_started = False
        self.response_chunked = False
        self.response_has_body = True
        self.until_close = False    # the target's body ends when its connection does
        self.set_cookies: list[str] = []  # stickiness
        # app_cookie stickiness: (the application's cookie, the AWSALBAPP-0 to add when
        # the target sets it)
        self.app_cookie: tuple[str, str] | None = None
        self.tunnel = False  # after a 101, bytes pass through both ways as they come
        self.finished = False
        self.started = self.last_activity = client.monotonic()
        state.in_flight += 1

    # request side

    def start(self, pool: Pool) -> None:
        target = self.state.target
        upstream = pool.take(target.host, target.port)
        if upstream is not None:
            self._attach(upstream)
        else:
            asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        target = self.state.target
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await asyncio.wait_for(loop.create_connection(
                lambda: Upstream((target.host, target.port)), target.host, target.port),
                CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            self.fail(502)  # the target refused or did not answer the connection
            return
        if self.finished:
            upstream.transport.close()
            return
        self._attach(upstream)

    def _attach(self, upstream: Upstream) -> None:
        self.upstream = upstream
        upstream.exchange = self
        # A pooled connection's parser is at the end of a response: it reads the next.
        upstream.head = b""
        upstream.transport.write(b"".join(self.pending))
        self.pending = []

    def request_body(self, chunk: bytes) -> None:
        self.touch()
        data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked_request else chunk
        self._send(data)

    def request_done(self) -> None:
        self.request_complete = True
        if self.chunked_request:
            self._send(b"0\r\n\r\n")

    def _send(self, data: bytes) -> None:
        if self.upstream is None:
            self.pending.append(data)
        elif self.upstream.transport is not None:
            self.upstream.transport.write(data)

    # response side

    def touch(self) -> None:
        self.last_activity = self.client.monotonic()

    def response_head(self, status: int, head: bytes) -> None:
        """The target's response head, as it came (status line, headers, blank line)."""
        if status == 101 and self.client.upgrade:
            # Switching protocols (WebSocket): pass the 101 on as it is, then pipe both ways.
            self.tunnel = self.response_started = True
            self.client.write(head)
            self.client.start_tunnel()
            return
        if 100 <= status < 200:
            return  # interim responses (100 Continue) are the proxy's business, not forwarded
        self.response_started = True
        self.meter.codes[status // 100 if status < 600 else 5] += 1
        self.meter.response_time(self.last_activity - self.started)
        if self.client.upgrade:
            # The target refused the upgrade: the client's parser has gone past HTTP.
            self.client.keep_alive = False
        # The header lines between the status line and the blank line, hop-by-hop ones
        # dropped; how the body is framed decides what the client's response says.
        lines, has_length, chunked = _target_headers(head[head.find(b"\n") + 1:-2])
        self.response_has_body = self.method != "HEAD" and status not in (204, 304)
        self.until_close = self.response_has_body and not (has_length or chunked)
        self.response_chunked = self.response_has_body and not has_length
        if self.response_chunked and self.client.http10:
            # HTTP/1.0 has no chunks: the body ends when the connection closes.
            self.response_chunked = False
            self.client.keep_alive = False
        extra = [f"Set-Cookie: {cookie}\r\n" for cookie in self.set_cookies]
        if self.app_cookie is not None and re.search(
                rb"^set-cookie[ \t]*:[ \t]*" + re.escape(self.app_cookie[0].encode()) + b"=",
                lines, re.IGNORECASE | re.MULTILINE):
            extra.append(f"Set-Cookie: {self.app_cookie[1]}\r\n")
        if self.response_chunked:
            extra.append("Transfer-Encoding: chunked\r\n")
        if not self.client.keep_alive:
            extra.append("Connection: close\r\n")
        self.client.write(b"".join((_status_line(status), lines,
                                    "".join(extra).encode("latin-1"), b"\r\n")))
        if not self.response_has_body and self.method == "HEAD":
            # The parser cannot know a HEAD response has no body: end it here.
            self.drop_upstream()
            self._finish()

    def response_body(self, chunk: bytes) -> None:
        if not self.response_has_body or not chunk:
            return
        self.client.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.response_chunked
                          else chunk)

    def response_done(self, upstream_keep_alive: bool) -> None:
        if self.response_chunked:
            self.client.write(b"0\r\n\r\n")
        upstream = self.upstream
        upstream.exchange = None
        if upstream_keep_alive and self.request_complete and upstream.transport is not None:
            self.client.dataplane.pool.give(upstream)
        elif upstream.transport is not None:
            upstream.transport.close()
        self._finish()

    def drop_upstream(self) -> None:
        """Close the target connection: nothing more it sends concerns this exchange."""
        upstream = self.upstream
        if upstream is not None:
            upstream.exchange = None
            if upstream.transport is not None:
                upstream.transport.close()

    def fail(self, status: int) -> None:
        """End the exchange on a failure: the load balancer's `status` (502, 504) when the
        response has not begun, a cut client connection when it has."""
        if self.finished:
            return
        self.drop_upstream()
        if self.response_started:
            self.client.abort()
        else:
            self.client.answered(status)
            self.client.write(local_response(status, _error_page(status), keep_alive=False))
            self.client.close()
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.state.in_flight -= 1
        self.client.exchange_done()


class ClientConnection(asyncio.Protocol):
    def __init__(self, dataplane, listener: Listener):
        self.dataplane = dataplane
        self.listener = listener
        # Bound once per connection: it is read on every request and every read.
        self.monotonic = dataplane.clock.monotonic
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = ""
        self.exchange: Exchange | None = None
        self.local: bytes | None = None    # a response the proxy gives itself, once the
        self.keep_alive = True             # request has been read
        self.http10 = False
        self.upgrade = False       # the request in flight asks to switch protocols
        self.tunneling = False
        self.early = b""
        self.paused = False
        self.corked: list[bytes] | None = None   # writes held back until uncork()
        self.last_active = self.monotonic()
        self.pipelined = False     # the request being parsed came behind one in flight
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}    # by lower-case name, repeats comma-joined
        self.forwarded: list[str] = []       # the header lines that go on to the target
        self.header_bytes = 0

    # asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        self.dataplane.connections.add(self)
        self.dataplane.meters.connected(self.listener.load_balancer_arn)

    def connection_lost(self, exc) -> None:
        self.dataplane.connections.discard(self)
        self.transport = None
        exchange = self.exchange
        if exchange is not None and not exchange.finished:
            # The client went away mid-exchange: so does the target connection.
            exchange.drop_upstream()
            exchange._finish()

    def data_received(self, data: bytes) -> None:
        self.last_active = self.monotonic()
        if self.tunneling:
            if self.exchange is not None:
                self.exchange.touch()
                self.exchange._send(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # Bytes after an upgrade request belong to the new protocol: they wait
            # for the target's 101 (or are dropped with any other answer).
            self.early = data[upgrade.args[0]:]
            if self.exchange is None or self.exchange.finished:
                self.close()
        except httptools.HttpParserError:
            self._refuse(400, "")

    def pause_writing(self) -> None:
        # The client reads slower than the target sends: stop reading the target.
        if self.exchange is not None and self.exchange.upstream is not None and \
                self.exchange.upstream.transport is not None:
            self.exchange.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.exchange is not None and self.exchange.upstream is not None and \
                self.exchange.upstream.transport is not None:
            self.exchange.upstream.transport.resume_reading()

    # httptools callbacks

    def on_message_begin(self) -> None:
        # A request read along with the one in flight (pipelined) is not forwarded: the
        # proxy answers the first and then closes the connection, and the client sends
        # the others again, as HTTP/1.1 lets a server make it do. Forwarding it would
        # need its answer held back until the first one's had been sent.
        self.pipelined = self.exchange is not None and not self.exchange.finished
        if self.pipelined:
            self.keep_alive = False
        self._reset()

    def on_url(self, url: bytes) -> None:
        if self.pipelined:
            return
        self.url += url
        if len(self.url) > MAX_HEADER_BYTES:
            raise ValueError("URL too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.pipelined:
            return
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > MAX_HEADER_BYTES:
            raise ValueError("headers too large")
        name, value = name.decode("latin-1"), value.decode("latin-1")
        key = name.lower()
        headers = self.headers
        headers[key] = f"{headers[key]},{value}" if key in headers else value
        if key not in _NOT_FORWARDED:
            self.forwarded.append(f"{name}: {value}\r\n")

    def on_headers_complete(self) -> None:
        if self.pipelined:
            return
        parser = self.parser
        self.keep_alive = parser.should_keep_alive()
        self.http10 = parser.get_http_version() == "1.0"
        method = parser.get_method().decode("latin-1")
        url = httptools.parse_url(self.url)
        path = unquote((url.path or b"/").decode("latin-1"))
        query = (url.query or b"").decode("latin-1")
        lower = self.headers
        self.upgrade = "upgrade" in lower and "upgrade" in lower.get("connection", "").lower()
        if lower.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        facts = routing.RequestFacts(method, path, query, lower, self.peer)
        rule = routing.matching_rule(self.listener.rules, facts)
        action = rule["Actions"][0]
        self.local = None
        if action["Type"] == "fixed-response":
            config = action["FixedResponseConfig"]
            self.answered(int(config["StatusCode"]))
            self.local = local_response(int(config["StatusCode"]),
                                        config.get("MessageBody", "").encode(),
                                        config.get("ContentType", "text/plain"),
                                        keep_alive=self.keep_alive)
        elif action["Type"] == "redirect":
            config = action["RedirectConfig"]
            status = 301 if config["StatusCode"] == "HTTP_301" else 302
            self.answered(status)
            location = routing.redirect_location(config, facts, self.listener.port)
            self.local = local_response(status, b"", extra=[("Location", location)],
                                        keep_alive=self.keep_alive)
        else:
            self._forward(action, method, lower)

    def _forward(self, action: dict, method: str, lower: dict[str, str]) -> None:
        balancer: Balancer = self.dataplane.balancer
        cookies = _stickiness_cookies(lower.get("cookie", ""))
        identity = action.get("_identity")
        if identity is not None:
            identity = lower.get(identity["header"].lower()) if "header" in identity else \
                _cookie_value(lower.get("cookie", ""), identity["cookie"])
        group = balancer.group_for(action, cookies.get("AWSALBTG"), identity)
        target_group = balancer.groups.get(group) if group else None
        cookie = balancer.policies[group][0] if target_group is not None else None
        state = balancer.target_in(group, cookies.get(cookie) if cookie else None) \
            if group else None
        if state is None:
            self.answered(503)
            self.local = local_response(503, _error_page(503), keep_alive=self.keep_alive)
            return
        forwarded_for = f"{lower['x-forwarded-for']}, {self.peer}" \
            if "x-forwarded-for" in lower else self.peer
        chunked = "chunked" in lower.get("transfer-encoding", "").lower()
        lines = [f"{method} {self.url.decode('latin-1')} HTTP/1.1\r\n", *self.forwarded]
        if chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        if self.upgrade:
            lines.append(f"Connection: Upgrade\r\nUpgrade: {lower['upgrade']}\r\n")
        trace = lower.get("x-amzn-trace-id") or self.dataplane.traces.next()
        lines.append(f"X-Forwarded-For: {forwarded_for}\r\nX-Forwarded-Proto: http\r\n"
                     f"X-Forwarded-Port: {self.listener.port}\r\n"
                     f"X-Amzn-Trace-Id: {trace}\r\n\r\n")
        self.exchange = Exchange(self, state, "".join(lines).encode("latin-1"), chunked, method)
        self.exchange.set_cookies = _set_cookies(action, target_group, cookie, state,
                                                 self.dataplane.clock)
        if cookie == "AWSALBAPP-0":
            self.exchange.app_cookie = (target_group.attributes[
                "stickiness.app_cookie.cookie_name"], _cookie("AWSALBAPP-0", token(
                    *state.target.key), int(target_group.attributes[
                        "stickiness.app_cookie.duration_seconds"]), self.dataplane.clock))
        self.exchange.start(self.dataplane.pool)

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None and not self.exchange.finished and not self.pipelined:
            self.exchange.request_body(body)

    def on_message_complete(self) -> None:
        # One request at a time: read no further until this one is answered. (A target
        # that answered before the request ended has already let reading go on.)
        if self.pipelined:
            return
        if self.local is not None:
            self.transport.pause_reading()
            self.paused = True
            self.write(self.local)
            self.local = None
            self.exchange_done()
        elif self.exchange is not None and not self.exchange.finished:
            self.transport.pause_reading()
            self.paused = True
            self.exchange.request_done()

    # the exchange's side

    def write(self, data: bytes) -> None:
        if self.corked is not None:
            self.corked.append(data)
        elif self.transport is not None:
            self.transport.write(data)

    def cork(self) -> None:
        if self.corked is None:
            self.corked = []

    def uncork(self) -> None:
        """Send what was held back, in one write."""
        held, self.corked = self.corked, None
        if held and self.transport is not None:
            self.transport.write(b"".join(held))

    def pause(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.paused:
            self.transport.resume_reading()

    def exchange_done(self) -> None:
        self.exchange = None
        if self.transport is None:
            return
        if not self.keep_alive:
            self.uncork()  # a close drops what is written after it
            self.transport.close()
            return
        self.paused = False
        self.last_active = self.monotonic()
        self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.uncork()  # a close drops what is written after it
            self.transport.close()

    def start_tunnel(self) -> None:
        """The target accepted the upgrade: from now on, bytes pass through."""
        self.tunneling = True
        self.keep_alive = False  # when the tunnel ends, so does the connection
        self.paused = False
        if self.early:
            self.exchange._send(self.early)
            self.early = b""
        if self.transport is not None:
            self.transport.resume_reading()

    def finish_and_close(self) -> None:
        """Close once the request in flight (if any) is answered."""
        self.keep_alive = False
        if self.exchange is None:
            self.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def answered(self, status: int) -> None:
        """Count a response the load balancer gave itself."""
        self.dataplane.meters.answered(self.listener.load_balancer_arn, status)

    def _refuse(self, status: int, message: str) -> None:
        if self.transport is None:
            return
        if self.exchange is None or not self.exchange.response_started:
            self.answered(status)
            self.write(local_response(status, message.encode() or _error_page(status),
                                      keep_alive=False))
        self.close()

    def check_idle(self, now: float) -> None:
        """Apply the idle timeout: to the target while a request is out, else to the client."""
        timeout = self.listener.idle_timeout
        exchange = self.exchange
        if exchange is not None and not exchange.finished:
            if now - exchange.last_activity >= timeout:
                exchange.fail(504)  # the target stayed silent
        elif self.transport is not None and now - self.last_active >= timeout:
            self.transport.close()
