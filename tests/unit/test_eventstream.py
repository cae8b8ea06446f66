"""The event stream encoder against botocore's own parser."""

from botocore.eventstream import EventStreamBuffer

from nozama.kernel.eventstream import encode_message, event, exception


def parse(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_botocore_reads_events_headers_and_payloads():
    data = event("initial-response", b"{}") + event("sessionUpdate", b'{"a": "\xc3\xa9"}')
    messages = parse(data)
    assert [m.headers for m in messages] == [
        {":event-type": "initial-response", ":content-type": "application/json",
         ":message-type": "event"},
        {":event-type": "sessionUpdate", ":content-type": "application/json",
         ":message-type": "event"}]
    assert [m.payload for m in messages] == [b"{}", b'{"a": "\xc3\xa9"}']


def test_botocore_reads_an_exception_and_an_empty_payload():
    [error, empty] = parse(exception("SessionTimeoutException", b'{"message": "over"}')
                           + encode_message({"x": "y"}, b""))
    assert error.headers[":message-type"] == "exception"
    assert error.headers[":exception-type"] == "SessionTimeoutException"
    assert empty.headers == {"x": "y"} and empty.payload == b""


def test_messages_split_across_chunks_are_reassembled():
    data = event("sessionStart", b'{"sessionId": "s"}' * 50)
    buffer = EventStreamBuffer()
    found = []
    for i in range(0, len(data), 7):
        buffer.add_data(data[i:i + 7])
        found.extend(buffer)
    assert len(found) == 1 and found[0].payload == b'{"sessionId": "s"}' * 50
