"""The API's HTTP/1.1 server, driven over real sockets with raw bytes."""

from __future__ import annotations

import asyncio

import pytest

from nozama.kernel import http_server
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.kernel.http_server import HttpServer


def _echo(request: HttpRequest) -> HttpResponse:
    text = f"{request.method} {request.path} q={request.query_string} " \
           f"len={len(request.body)}{' oversized' if request.oversized else ''} " \
           f"x={request.headers.get('x-thing', '')}"
    return HttpResponse(200, text.encode(), {"content-type": "text/plain"})


async def _slow_then_echo(request: HttpRequest):
    if request.path == "/slow":
        async def later():
            await asyncio.sleep(0.2)
            return HttpResponse(200, b"slow")
        return await later()
    return _echo(request)


def _handler(request: HttpRequest):
    # Like the App: awaited only for some paths.
    if request.path == "/slow":
        return _slow_then_echo(request)
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    return _echo(request)


async def _exchange(port: int, data: bytes, responses: int = 1) -> list[tuple[int, dict, bytes]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = []
    try:
        for _ in range(responses):
            out.append(await asyncio.wait_for(_read_response(reader), 5))
    finally:
        writer.close()
    return out


async def _read_response(reader) -> tuple[int, dict, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, body


async def _response_then_eof(port: int, data: bytes):
    """Send `data`, read one response, then all that follows until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    response = await asyncio.wait_for(_read_response(reader), 5)
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return response, rest


def _run(scenario, **settings):
    async def main():
        server = HttpServer(_handler, **settings)
        await server.start("127.0.0.1", 0)
        try:
            return await scenario(server.port)
        finally:
            await server.stop()
    return asyncio.run(main())


def test_answers_with_path_query_body_and_headers():
    async def scenario(port):
        body = b'{"a": 1}'
        return await _exchange(port, b"POST /a%20b/c?x=1&y=2 HTTP/1.1\r\nHost: h\r\n"
                                     b"X-Thing: yes\r\nContent-Length: 8\r\n\r\n" + body)
    [(status, headers, body)] = _run(scenario)
    assert status == 200
    assert body == b"POST /a b/c q=x=1&y=2 len=8 x=yes"
    assert headers["content-length"] == str(len(body))
    assert "date" in headers and "connection" not in headers


def test_keep_alive_and_pipelined_requests_answer_in_order():
    async def scenario(port):
        requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(5))
        return await _exchange(port, requests, responses=5)
    bodies = [body for _, _, body in _run(scenario)]
    assert bodies == [f"GET /{i} q= len=0 x=".encode() for i in range(5)]


def test_requests_behind_an_awaited_one_wait_their_turn():
    async def scenario(port):
        requests = (b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"
                    b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
        return await _exchange(port, requests, responses=2)
    bodies = [body for _, _, body in _run(scenario)]
    assert bodies == [b"slow", b"GET /after q= len=0 x="]


def test_chunked_request_body_is_reassembled():
    async def scenario(port):
        return await _exchange(port, b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                                     b"\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    [(status, _, body)] = _run(scenario)
    assert (status, body) == (200, b"PUT /c q= len=5 x=")


def test_http10_closes_after_the_response():
    async def scenario(port):
        return await _response_then_eof(port, b"GET /old HTTP/1.0\r\n\r\n")
    (status, headers, _), rest = _run(scenario)
    assert status == 200 and headers["connection"] == "close" and rest == b""


def test_malformed_request_gets_400_and_the_connection_closes():
    async def scenario(port):
        return await _response_then_eof(port, b"NOT HTTP AT ALL\r\n\r\n")
    (status, headers, body), rest = _run(scenario)
    assert status == 400 and b"Malformed" in body and rest == b""


def test_oversized_body_gets_413():
    async def scenario(port):
        return await _exchange(port, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n"
                                     + b"x" * 5000)
    [(status, _, body)] = _run(scenario, max_body=1000)
    assert status == 413 and b"too large" in body


def test_an_oversized_body_can_be_dropped_and_the_request_answered():
    """The Runtime API's server: the handler learns the body was too large."""
    async def scenario(port):
        return await _exchange(port, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n"
                                     + b"x" * 5000 + b"POST /b HTTP/1.1\r\nHost: h\r\n"
                                     b"Content-Length: 3\r\n\r\nabc", responses=2)
    [(first, _, dropped), (second, _, kept)] = _run(scenario, max_body=1000,
                                                    pass_oversized=True)
    assert (first, second) == (200, 200)
    assert dropped.startswith(b"POST / q= len=0 oversized")
    assert kept.startswith(b"POST /b q= len=3 x=")


def test_oversized_headers_get_431(monkeypatch):
    monkeypatch.setattr(http_server, "MAX_HEADER_BYTES", 200)

    async def scenario(port):
        return await _exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"y" * 500
                                     + b"\r\n\r\n")
    [(status, _, _)] = _run(scenario)
    assert status == 431


def test_expect_100_continue_is_answered_before_the_body():
    async def scenario(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"abc")
        response = await asyncio.wait_for(_read_response(reader), 5)
        writer.close()
        return interim, response
    interim, (status, _, body) = _run(scenario)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    assert (status, body) == (200, b"POST /e q= len=3 x=")


def test_a_handler_bug_gets_500_without_a_traceback_and_the_server_goes_on():
    async def scenario(port):
        return await _exchange(port, b"GET /boom HTTP/1.1\r\nHost: h\r\n\r\n"
                                     b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n", responses=2)
    (status, _, body), (status2, _, _) = _run(scenario)
    assert status == 500 and b"Traceback" not in body and b"handler bug" not in body
    assert status2 == 200


@pytest.mark.parametrize("raw", [b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"])
def test_connection_close_is_honoured(raw):
    async def scenario(port):
        return await _response_then_eof(port, raw)
    (status, headers, _), rest = _run(scenario)
    assert status == 200 and headers["connection"] == "close" and rest == b""


def test_an_upgrade_request_is_answered_as_plain_http():
    async def scenario(port):
        return await _exchange(port, b"GET /u HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                                     b"Upgrade: h2c\r\n\r\n")
    [(status, _, body)] = _run(scenario)
    assert (status, body) == (200, b"GET /u q= len=0 x=")


def test_an_idle_keep_alive_connection_is_closed(monkeypatch):
    monkeypatch.setattr(http_server, "KEEP_ALIVE_SECONDS", 0.4)

    async def scenario(port):
        return await _response_then_eof(port, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
    (status, headers, _), rest = _run(scenario)
    assert status == 200 and "connection" not in headers and rest == b""


# Streamed responses (StartLiveTail's event stream)

def _streaming_run(scenario, chunks_sent: list, closed: list):
    async def chunks():
        try:
            for i in range(1000):
                chunks_sent.append(i)
                yield b"chunk-%d;" % i
                if i >= 2:
                    await asyncio.sleep(0.02)
                if i == 3 and closed is not None and "finite" in closed:
                    return
        finally:
            closed.append("closed")

    def handler(request: HttpRequest):
        if request.path == "/stream":
            return HttpResponse(200, b"", {"content-type": "application/x-test"},
                                stream=chunks())
        return _echo(request)

    async def main():
        server = HttpServer(handler)
        await server.start("127.0.0.1", 0)
        try:
            return await scenario(server.port)
        finally:
            await server.stop()
    return asyncio.run(main())


async def _read_chunks(reader, count: int) -> list[bytes]:
    out = []
    while len(out) < count:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        data = await reader.readexactly(size + 2)
        out.append(data[:-2])
        if size == 0:
            break
    return out


def test_a_streamed_response_is_sent_in_chunks_and_ends_with_the_empty_chunk():
    sent, closed = [], ["finite"]

    async def scenario(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        chunks = await asyncio.wait_for(_read_chunks(reader, 10), 5)
        after = await asyncio.wait_for(_read_response(reader), 5)
        writer.close()
        return head, chunks, after

    head, chunks, after = _streaming_run(scenario, sent, closed)
    assert b"transfer-encoding: chunked" in head and b"content-length" not in head
    assert chunks == [b"chunk-0;", b"chunk-1;", b"chunk-2;", b"chunk-3;", b""]
    # The pipelined request is answered on the same connection once the stream ends.
    assert after[0] == 200 and after[2].startswith(b"GET /after")
    assert closed[-1] == "closed"


def test_a_client_that_disconnects_ends_the_stream():
    sent, closed = [], []

    async def scenario(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        await asyncio.wait_for(_read_chunks(reader, 3), 5)
        writer.close()
        for _ in range(100):  # the server notices at its next writes
            if closed:
                break
            await asyncio.sleep(0.02)
        return len(sent)

    count = _streaming_run(scenario, sent, closed)
    assert closed == ["closed"]
    assert count < 1000
