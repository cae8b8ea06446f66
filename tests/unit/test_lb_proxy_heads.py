"""What the proxy makes of a target's response head: it passes the head on as bytes,
dropping hop-by-hop headers and framing the body for the client, however the target's
bytes are split into reads; and what it does with requests pipelined behind one in
flight. The proxy runs on fake transports here, so the bytes a client would receive are
compared exactly."""

from __future__ import annotations

import pytest

from nozama.kernel.clock import Clock
from nozama.lb import balancer, meters, proxy
from nozama.lb.config import Listener, Target, TargetGroup

TG = "arn:aws:elasticloadbalancing:zz-test-1:000000000000:targetgroup/blue/1"
LB = "arn:aws:elasticloadbalancing:zz-test-1:000000000000:loadbalancer/app/web/1"


class FakeTransport:
    def __init__(self):
        self.sent = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str):
        return ("10.0.0.7", 50000) if name == "peername" else None

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class FakeDataPlane:
    def __init__(self):
        target = Target(1, TG, "10.0.0.9", 8080, "10.0.0.9", False, None,
                        ("healthy", None, None))
        self.balancer = balancer.Balancer()
        self.balancer.update({TG: TargetGroup(TG, {"Attributes": {}}, [target])})
        self.pool = proxy.Pool()
        self.meters = meters.Meters()
        self.connections = set()
        self.clock = Clock()
        self.traces = proxy.TraceIds(self.clock)


@pytest.fixture
def proxied():
    """A client connection and the pooled target connection its request goes to."""
    dataplane = FakeDataPlane()
    action = {"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": TG, "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": False}}}
    listener = Listener("listener", LB, "127.0.0.1", 80,
                        [{"Conditions": [], "Actions": [action]}], 60.0)
    client = proxy.ClientConnection(dataplane, listener)
    client.connection_made(FakeTransport())
    upstream = proxy.Upstream(("10.0.0.9", 8080))
    upstream.connection_made(FakeTransport())
    dataplane.pool.give(upstream)
    return client, upstream, dataplane


def exchange(proxied, request: bytes, *reads: bytes) -> bytes:
    client, upstream, _ = proxied
    client.transport.sent.clear()
    client.data_received(request)
    for data in reads:
        upstream.data_received(data)
    return bytes(client.transport.sent)


GET = b"GET /a HTTP/1.1\r\nHost: web\r\n\r\n"


def test_a_head_passes_on_without_hop_by_hop_headers(proxied):
    sent = exchange(proxied, GET, b"HTTP/1.1 200 Fine\r\nServer: nginx\r\nConnection: keep-alive"
                    b"\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\nX-Backend: blue\r\n\r\nok")
    # The status line is the proxy's own; the target's other headers pass in order.
    assert sent == (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n"
                    b"X-Backend: blue\r\n\r\nok")
    client, upstream, dataplane = proxied
    assert client.exchange is None                       # the exchange is over
    assert dataplane.pool.take("10.0.0.9", 8080) is upstream   # and its connection pooled


@pytest.mark.parametrize("cut", [5, 20, 40, 63])
def test_a_head_split_across_reads(proxied, cut):
    response = b"HTTP/1.1 404 Not Found\r\nCONNECTION: Keep-Alive\r\nContent-Length: 4\r\n\r\nnope"
    sent = exchange(proxied, GET, response[:cut], response[cut:])
    assert sent == b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"


def test_a_chunked_body_stays_chunked(proxied):
    sent = exchange(proxied, GET, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n")
    assert sent == (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert proxied[0].exchange is None


def test_a_body_without_length_is_chunked_for_the_client(proxied):
    client, upstream, _ = proxied
    sent = exchange(proxied, GET, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello")
    upstream.connection_lost(None)  # the body ended with the connection
    sent += bytes(client.transport.sent[len(sent):])
    assert sent == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")


@pytest.mark.parametrize("reads", [
    [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"],
    [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
     b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"],
])
def test_interim_responses_are_not_forwarded(proxied, reads):
    sent = exchange(proxied, GET, *reads)
    assert sent == b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    assert proxied[0].exchange is None


def test_a_head_of_bare_line_feeds_is_a_502(proxied):
    sent = exchange(proxied, GET, b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx")
    assert sent.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")


def test_a_head_request_ends_with_the_head(proxied):
    sent = exchange(proxied, b"HEAD / HTTP/1.1\r\nHost: web\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    assert sent == b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    assert proxied[0].exchange is None


def test_a_head_with_no_end_is_a_502(proxied):
    client, upstream, _ = proxied
    sent = exchange(proxied, GET, b"HTTP/1.1 200 OK\r\n" + b"X-Filler: abcdefgh\r\n" * 4000)
    assert sent.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert client.transport.closed and upstream.transport.closed


@pytest.mark.parametrize("pipelined", [
    b"GET /2 HTTP/1.1\r\nHost: web\r\n\r\n",
    b"POST /2 HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\n\r\nsecond",
])
def test_a_pipelined_request_is_answered_by_closing_after_the_first(proxied, pipelined):
    client, upstream, _ = proxied
    client.data_received(GET + pipelined)
    # Only the first request reaches the target, and nothing of the second.
    assert bytes(upstream.transport.sent).startswith(b"GET /a HTTP/1.1\r\n")
    assert b"/2" not in bytes(upstream.transport.sent)
    assert b"second" not in bytes(upstream.transport.sent)
    upstream.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    # The first is answered, saying the connection closes; the client sends /2 again.
    assert bytes(client.transport.sent) == (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                            b"Connection: close\r\n\r\nok")
    assert client.transport.closed
