"""Conversions between wire values and Python values, driven by botocore shapes.

Every protocol ends up here: a JSON or CBOR document is walked against the
input shape to type-check it and turn epoch numbers into datetimes and base64
into bytes; query strings, headers and XML text are converted by `from_text`;
results are walked against the output shape by `to_document`.

Python values are: dict (structure, map), list, str, int, float, bool, bytes
(blob) and timezone-aware datetime (timestamp).
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from botocore.model import Shape

from nozama.kernel.clock import as_datetime
from nozama.kernel.errors import SerializationException
from nozama.kernel.text import checked_text

_JSON_TYPE_NAMES = {dict: "structure or map", list: "list", str: "string", bool: "boolean",
                    int: "number", float: "number", bytes: "blob", type(None): "null"}


def _type_error(path: str, shape: Shape, value) -> SerializationException:
    got = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return SerializationException(
        f"Value at '{path or 'request'}' is a {got}, expected {shape.type_name}.")


# ---------------------------------------------------------------- documents in

def from_document(shape: Shape, value, path: str = ""):
    """Type-check a decoded JSON/CBOR value against `shape` and convert it."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _type_error(path, shape, value)
        members = shape.members
        out = {}
        for key, item in value.items():
            member = members.get(key)
            # Unknown members are ignored, as AWS's JSON services do.
            if member is not None and item is not None:
                out[key] = from_document(member, item, f"{path}.{key}" if path else key)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(path, shape, value)
        member = shape.member
        return [from_document(member, item, f"{path}[{i}]") for i, item in enumerate(value)
                if item is not None]
    if kind == "map":
        if not isinstance(value, dict):
            raise _type_error(path, shape, value)
        return {from_document(shape.key, k, path): from_document(shape.value, v, f"{path}.{k}")
                for k, v in value.items() if v is not None}
    return _scalar_from_document(shape, value, path)


def _scalar_from_document(shape: Shape, value, path: str):
    kind = shape.type_name
    if kind == "string":
        if isinstance(value, str):
            return checked_text(value, path)
    elif kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return _in_range(value, kind, path)
    elif kind in ("float", "double"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value.replace("Infinity", "inf"))
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
    elif kind == "timestamp":
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _from_epoch(value, path)
        if isinstance(value, str):
            return parse_timestamp(value, path)
    elif kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str):
            return _from_base64(value, path)
    raise _type_error(path, shape, value)


_INT_LIMITS = {"integer": 2 ** 31, "long": 2 ** 63}


def _in_range(value: int, kind: str, path: str) -> int:
    limit = _INT_LIMITS[kind]
    if not -limit <= value < limit:
        raise SerializationException(
            f"Value {value} at '{path}' can not be converted to an {kind.capitalize()}.")
    return value




def _from_epoch(value: float, path: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise SerializationException(f"Value at '{path}' is not a valid timestamp.") from None


def _from_base64(value: str, path: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SerializationException(f"Value at '{path}' is not valid base64.") from None


def parse_timestamp(text: str, path: str = "") -> datetime:
    """Parse an ISO 8601, RFC 822 or epoch-seconds timestamp."""
    text = text.strip()
    try:
        return _from_epoch(float(text), path)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise SerializationException(
                f"Value at '{path}' is not a valid timestamp: {text!r}.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- text in

def from_text(shape: Shape, text: str, path: str):
    """Convert a scalar sent as text (query strings, headers, XML) to its type."""
    kind = shape.type_name
    try:
        if kind == "string":
            return checked_text(text, path)
        if kind in ("integer", "long"):
            return _in_range(int(text), kind, path)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise SerializationException(
            f"Value {text!r} at '{path}' is not a valid {kind}.") from None
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise SerializationException(f"Value {text!r} at '{path}' is not a valid boolean.")
    if kind == "timestamp":
        return parse_timestamp(text, path)
    if kind == "blob":
        return _from_base64(text, path)
    raise SerializationException(f"Value at '{path}' must not be a scalar.")


# ---------------------------------------------------------------- documents out

@functools.cache
def _is_plain(shape: Shape) -> bool:
    """True when values of this shape need no conversion for JSON output."""
    return _plain(shape, set())


def _plain(shape: Shape, seen: set) -> bool:
    kind = shape.type_name
    if kind in ("timestamp", "blob"):
        return False
    if shape.name in seen:
        return True
    seen.add(shape.name)
    if kind == "structure":
        return all(_plain(m, seen) for m in shape.members.values())
    if kind == "list":
        return _plain(shape.member, seen)
    if kind == "map":
        return _plain(shape.value, seen)
    return True


def to_document(shape: Shape, value, binary: bool = False):
    """Convert a result value to what the JSON (or, with binary, CBOR) encoder takes.

    JSON carries timestamps as epoch seconds and blobs as base64; CBOR carries
    blobs as byte strings and timestamps as datetimes for the encoder to tag.
    """
    if not binary and _is_plain(shape):
        return value
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return {k: to_document(members[k], v, binary) for k, v in value.items()
                if v is not None and k in members}
    if kind == "list":
        return [to_document(shape.member, v, binary) for v in value]
    if kind == "map":
        return {k: to_document(shape.value, v, binary) for k, v in value.items()}
    if kind == "timestamp":
        return as_datetime(value) if binary else epoch_seconds(value)
    if kind == "blob":
        data = value.encode() if isinstance(value, str) else value
        return data if binary else base64.b64encode(data).decode()
    if kind in ("float", "double") and binary is False and isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value




def epoch_seconds(value) -> float | int:
    if isinstance(value, datetime):
        seconds = as_datetime(value).timestamp()
    else:
        seconds = float(value)
    return int(seconds) if seconds.is_integer() else round(seconds, 3)


def iso8601(value) -> str:
    dt = as_datetime(value).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
