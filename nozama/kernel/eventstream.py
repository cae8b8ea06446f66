"""The AWS event stream encoding (application/vnd.amazon.eventstream).

A streaming response (CloudWatch Logs' StartLiveTail) is a sequence of binary
messages, each one:

    prelude   total length (uint32), headers length (uint32), CRC32 of those 8 bytes
    headers   name length (uint8), name, value type (7: string), length (uint16), value
    payload   the event's body (JSON for the JSON protocol)
    CRC32     of everything before it

botocore/eventstream.py is the parser this must satisfy (tests check it against
botocore's EventStreamBuffer).
"""

from __future__ import annotations

import struct
import zlib

_STRING = 7
_PRELUDE = struct.Struct(">II")


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack(">B", len(raw_name)) + raw_name + \
        struct.pack(">BH", _STRING, len(raw_value)) + raw_value


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event stream message with string headers."""
    raw_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + 4 + len(raw_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(raw_headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """A message of `:message-type` event, as a modeled stream member is sent."""
    return encode_message({":event-type": event_type, ":content-type": content_type,
                           ":message-type": "event"}, payload)


def exception(exception_type: str, payload: bytes,
              content_type: str = "application/json") -> bytes:
    """A modeled exception sent on the stream (it ends the stream on the client)."""
    return encode_message({":exception-type": exception_type, ":content-type": content_type,
                           ":message-type": "exception"}, payload)
