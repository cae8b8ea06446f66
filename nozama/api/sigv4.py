"""Verifying AWS Signature Version 4: that the holder of a secret key signed this request.

The gateway calls `verify` before anything of a request runs. It recomputes the signature
as the signer did (botocore's SigV4Auth and SigV4QueryAuth are the reference, since
Nozama's clients are botocore and the AWS CLI; AWS's published test suite agrees) and
compares it in constant time. Either form is read: the Authorization header, or the
X-Amz-* parameters of a presigned URL.

A refusal is a SignatureError whose `reason` says what AWS would answer (an unknown key,
a signature that does not match, ...) without naming the error code: the code depends on
the service's protocol family, which api/auth.py knows. Messages are AWS's own.

Secrets come from `lookup(access_key_id, session_token)`: the key store plugs in there
and whatever principal it attaches to the Credentials comes back on Verified unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, NamedTuple, Sequence
from urllib.parse import quote, unquote_to_bytes

from nozama.kernel.http import HttpRequest

try:   # CPython's own SHA-256 (hashlib's fallback when OpenSSL lacks one)
    from _sha256 import sha256 as _small_sha256           # 3.11
except ImportError:    # pragma: no cover - by Python version
    try:
        from _sha2 import sha256 as _small_sha256         # 3.12 and later
    except ImportError:
        _small_sha256 = hashlib.sha256

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# How far X-Amz-Date may be from the server's clock, either way.
MAX_SKEW = timedelta(minutes=15)
# A presigned URL lives at most a week: the signing key is derived from the scope's date.
MAX_EXPIRES = 604800
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_ISO_BASIC = re.compile(r"\d{8}T\d{6}Z")
# The same with a time of day that can be one: datetime.fromisoformat reads those (in C,
# a third of the cost of building the datetime by hand) exactly as datetime() would.
_ISO_TIME_OF_DAY = re.compile(r"\d{8}T(?:[01]\d|2[0-3])[0-5]\d[0-5]\dZ")
# IAM's access key ids are word characters, 16 to 128 of them. Anything else is refused
# before the key store sees it (and before it could reach a log line).
_KEY_ID = re.compile(r"[A-Za-z0-9_]{1,128}")
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
# Lower-case header names (RFC 9110 tokens) separated by ';'.
_SIGNED_HEADERS = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+(?:;[a-z0-9!#$%&'*+.^_`|~-]+)*")
_HEADER_FIELDS = frozenset({"Credential", "Signature", "SignedHeaders"})
# A path whose canonical form is itself: unreserved characters only, no empty, '.' or '..'
# segment (most of them: "/", "/2015-03-31/functions/").
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Up to this size, SHA-256 by CPython's own implementation rather than OpenSSL's. A server
# runs a request's verification with cold caches (its socket calls in between evict
# them): there, setting up OpenSSL's digest (EVP contexts, allocated, copied and freed
# per hash) costs 2-3 µs more than hashing a request's few hundred bytes; in a warm
# loop they cost the same. Past it, OpenSSL's SHA instructions win.
_SMALL = 2048
# Echoed input (an Authorization header in a message) is cut to this length.
_ECHO = 256

MISMATCH_MESSAGE = ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult "
                    "the service documentation for details.")
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"


class Reason:
    """What went wrong, as the families of AWS errors tell it apart (api/auth.py)."""
    MISSING = "missing"            # no signature at all
    INCOMPLETE = "incomplete"      # a malformed or partial one
    UNKNOWN_KEY = "unknown-key"    # a key id the key store does not know
    MISMATCH = "mismatch"          # a signature (or scope) that does not check out
    EXPIRED = "expired"            # X-Amz-Date too far from now, or a presigned URL past expiry
    EXPIRED_TOKEN = "expired-token"  # temporary credentials past their expiration


class SignatureError(Exception):
    def __init__(self, reason: str, message: str, access_key: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.access_key = access_key  # as sent, once it passed _KEY_ID (safe to log)


@dataclass(frozen=True)
class Credentials:
    """What the key store knows of an access key."""
    secret_access_key: str
    principal: object = None         # the key store's own: passed through to Verified
    expires_at: datetime | None = None   # temporary credentials (STS) end then


class Verified(NamedTuple):
    """Who signed, and the scope they signed for (the gateway's credential scope too).

    A named tuple, not a frozen dataclass: as immutable, and made in a third of the time
    (one is made per request)."""
    access_key: str
    region: str
    service: str                     # the scope's service, a signing name ("ecs", "lambda")
    principal: object
    session_token: str | None = None


Lookup = Callable[[str, "str | None"], "Credentials | None"]


@dataclass(slots=True)
class _Signature:
    """The parts of a signature, from the header or the presigned query."""
    access_key: str
    date: str                        # the scope's yyyymmdd
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime
    amz_date: str                    # the timestamp as signed (ISO 8601 basic)
    session_token: str | None
    expires: int | None = None       # presigned only


def verify(request: HttpRequest, lookup: Lookup, now: datetime, *,
           allow_unsigned_payload: bool = False) -> Verified:
    """The signer of `request`, or a SignatureError saying why it is refused.

    `allow_unsigned_payload`: whether the operation lets the signer leave the body out
    (x-amz-content-sha256: UNSIGNED-PAYLOAD); none of the services Nozama serves does."""
    parts = _parse(request)
    _check_scope(parts)
    _check_time(parts, now)
    credentials = lookup(parts.access_key, parts.session_token)
    if credentials is None:
        raise SignatureError(Reason.UNKNOWN_KEY, INVALID_TOKEN_MESSAGE, parts.access_key)
    expires_at = getattr(credentials, "expires_at", None)  # any object with the fields will do
    if expires_at is not None and now >= expires_at:
        raise SignatureError(Reason.EXPIRED_TOKEN, EXPIRED_TOKEN_MESSAGE, parts.access_key)
    payload = _payload_hash(request, allow_unsigned_payload, parts.access_key)
    expected = signature(credentials.secret_access_key, parts,
                         canonical_request(request, parts.signed_headers, payload,
                                           presigned=parts.expires is not None))
    if not hmac.compare_digest(expected.encode(), parts.signature.encode("utf-8", "replace")):
        raise SignatureError(Reason.MISMATCH, MISMATCH_MESSAGE, parts.access_key)
    return Verified(parts.access_key, parts.region, parts.service, credentials.principal,
                    parts.session_token)


# ---------------------------------------------------------------------------
# Reading the signature

def _parse(request: HttpRequest) -> _Signature:
    header = request.headers.get("authorization")
    presigned = _auth_query(request)
    if header is not None and presigned:
        raise SignatureError(Reason.INCOMPLETE, (
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or "
            "the Authorization header should be specified"))
    if header is not None:
        return _from_header(request, header)
    if presigned:
        return _from_query(request, presigned)
    raise SignatureError(Reason.MISSING, "Missing Authentication Token")


def _echo(text: str) -> str:
    """Input quoted back in a message: printable, and short."""
    text = "".join(c if c.isprintable() else "?" for c in text[:_ECHO])
    return text + ("..." if len(text) >= _ECHO else "")


def _from_header(request: HttpRequest, header: str) -> _Signature:
    fields = _header_fields(header)
    headers = request.headers
    amz_date = headers.get("x-amz-date")
    date = headers.get("date") if amz_date is None else None
    if (amz_date is None and date is None) or not _HEADER_FIELDS <= fields.keys():
        missing = [f"Authorization header requires '{name}' parameter. "
                   for name in ("Credential", "Signature", "SignedHeaders")
                   if name not in fields]
        if amz_date is None and date is None:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' "
                           "or a 'Date' header. ")
        raise SignatureError(Reason.INCOMPLETE, "".join(missing) + f"Authorization={_echo(header)}")
    timestamp, signed_date = _timestamp(amz_date, date)
    access_key, day, region, service = _credential(fields["Credential"])
    return _Signature(access_key, day, region, service, _signed_headers(fields["SignedHeaders"]),
                      fields["Signature"], timestamp, signed_date,
                      headers.get("x-amz-security-token"))


def _header_fields(header: str) -> dict[str, str]:
    """The key=value pairs of an Authorization header in any order and spacing (none when
    its algorithm is not SigV4's); a pair without '=', or a key twice, is refused."""
    algorithm, _, rest = header.strip().partition(" ")
    fields: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for item in rest.split(","):
            key, equals, value = item.strip().partition("=")
            if not equals:
                raise SignatureError(Reason.INCOMPLETE, (
                    f"'{_echo(item.strip())}' not a valid key=value pair (missing equal-sign) "
                    f"in Authorization header: '{_echo(header)}'."))
            if key in fields:
                raise SignatureError(Reason.INCOMPLETE, (
                    f"Authorization header has the parameter '{_echo(key)}' twice: "
                    f"'{_echo(header)}'."))
            fields[key] = value
    return fields


_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
               "X-Amz-SignedHeaders", "X-Amz-Signature")


def _auth_query(request: HttpRequest) -> dict[str, str]:
    """The presigned URL's X-Amz-* parameters (empty when it has none): each once."""
    if "X-Amz-" not in request.query_string:
        return {}
    found = {}
    for name in (*_QUERY_AUTH, "X-Amz-Security-Token"):
        values = request.query_lists.get(name)
        if values is None:
            continue
        if len(values) > 1:
            raise SignatureError(Reason.INCOMPLETE,
                                 f"The query string has the parameter '{name}' more than once.")
        found[name] = values[0]
    return found if ("X-Amz-Algorithm" in found or "X-Amz-Signature" in found) else {}


def _from_query(request: HttpRequest, query: dict[str, str]) -> _Signature:
    if any(name not in query for name in _QUERY_AUTH):
        raise SignatureError(Reason.INCOMPLETE, (
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
            "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders' and 'X-Amz-Expires'. "
            "Re-examine the query-string parameters."))
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureError(Reason.INCOMPLETE, (
            f"X-Amz-Algorithm only supports \"{ALGORITHM}\", not "
            f"'{_echo(query['X-Amz-Algorithm'])}'."))
    expires = query["X-Amz-Expires"]
    if not expires.isascii() or not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES:
        raise SignatureError(Reason.INCOMPLETE, (
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES} (a week), "
            f"not '{_echo(expires)}'."))
    timestamp, signed_date = _timestamp(query["X-Amz-Date"], None)
    access_key, day, region, service = _credential(query["X-Amz-Credential"])
    return _Signature(access_key, day, region, service,
                      _signed_headers(query["X-Amz-SignedHeaders"]), query["X-Amz-Signature"],
                      timestamp, signed_date, query.get("X-Amz-Security-Token"), int(expires))


def _timestamp(amz_date: str | None, date: str | None) -> tuple[datetime, str]:
    """When the request was signed, and that time as the string to sign holds it."""
    if amz_date is not None:
        if _ISO_TIME_OF_DAY.fullmatch(amz_date):
            try:
                return datetime.fromisoformat(amz_date), amz_date
            except ValueError:      # no such day: refused below
                pass
        if not _ISO_BASIC.fullmatch(amz_date):
            raise SignatureError(Reason.INCOMPLETE, (
                f"Date must be in ISO-8601 'basic format'. Got '{_echo(amz_date)}'. See "
                "http://en.wikipedia.org/wiki/ISO_8601"))
        try:
            # By hand, as it was read before fromisoformat: it refuses what that refused.
            moment = datetime(int(amz_date[:4]), int(amz_date[4:6]), int(amz_date[6:8]),
                              int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15]),
                              tzinfo=timezone.utc)
        except ValueError:
            raise SignatureError(Reason.INCOMPLETE,
                                 f"X-Amz-Date '{_echo(amz_date)}' is not a date.") from None
        return moment, amz_date
    try:
        # botocore signs the Date header's moment in the ISO basic form.
        moment = parsedate_to_datetime(date)
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None \
            else moment.astimezone(timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise SignatureError(Reason.INCOMPLETE,
                             f"Date header '{_echo(date or '')}' is not an HTTP date.") from None
    return moment, moment.strftime(_TIMESTAMP)


# A client sends the same scope all day and the same SignedHeaders for each operation:
# what they were read as is kept (bounded; a refused one is not kept, it raises).
@functools.lru_cache(maxsize=1024)
def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5:
        raise SignatureError(Reason.INCOMPLETE, (
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{_echo(value)}'"))
    access_key, day, region, service, terminator = parts
    if not _KEY_ID.fullmatch(access_key):
        # Not a key id any key store holds: no lookup, and nothing of it logged.
        raise SignatureError(Reason.UNKNOWN_KEY, INVALID_TOKEN_MESSAGE)
    if terminator != TERMINATOR:
        raise SignatureError(Reason.MISMATCH, (
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not "
            f"'{_echo(terminator)}'. "), access_key)
    if not _REGION.fullmatch(region):
        raise SignatureError(Reason.MISMATCH, (
            f"Credential should be scoped to a valid region, not '{_echo(region)}'. "),
            access_key)
    if not service or not service.isascii() or not service.replace("-", "").isalnum():
        raise SignatureError(Reason.MISMATCH, (
            f"Credential should be scoped to a valid service, not '{_echo(service)}'. "),
            access_key)
    return access_key, day, region, service


@functools.lru_cache(maxsize=1024)
def _signed_headers(value: str) -> tuple[str, ...]:
    """SignedHeaders as every signer writes it: lower case, sorted, each once, with host."""
    names = tuple(value.split(";"))
    if not _SIGNED_HEADERS.fullmatch(value) or list(names) != sorted(set(names)):
        raise SignatureError(Reason.INCOMPLETE, (
            "SignedHeaders must list lower-case header names, sorted, each once and "
            f"separated by ';', not '{_echo(value)}'."))
    if "host" not in names:
        raise SignatureError(Reason.INCOMPLETE,
                             "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                             "Authorization.")
    return names


def _check_scope(parts: _Signature) -> None:
    if parts.date != parts.amz_date[:8]:
        raise SignatureError(Reason.MISMATCH, (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{_echo(parts.date)}' != '{parts.amz_date[:8]}', from "
            f"'{parts.amz_date}'."), parts.access_key)


def _stamp(moment: datetime) -> str:  # only for a message: strftime is not cheap
    return moment.strftime(_TIMESTAMP)


def _check_time(parts: _Signature, now: datetime) -> None:
    stamp = _stamp
    skew = parts.timestamp - now    # one subtraction: datetime arithmetic is not free
    if skew > MAX_SKEW:
        raise SignatureError(Reason.EXPIRED, (
            f"Signature not yet current: {parts.amz_date} is still later than "
            f"{stamp(now + MAX_SKEW)} ({stamp(now)} + 15 min.)"), parts.access_key)
    if parts.expires is not None:
        # A presigned URL: good from its date for X-Amz-Expires seconds.
        lifetime = timedelta(seconds=parts.expires)
        if now > parts.timestamp + lifetime:
            raise SignatureError(Reason.EXPIRED, (
                f"Signature expired: {parts.amz_date} is now earlier than "
                f"{stamp(now - lifetime)} ({stamp(now)} - {parts.expires} sec.)"),
                parts.access_key)
    elif skew < -MAX_SKEW:
        raise SignatureError(Reason.EXPIRED, (
            f"Signature expired: {parts.amz_date} is now earlier than "
            f"{stamp(now - MAX_SKEW)} ({stamp(now)} - 15 min.)"), parts.access_key)


# ---------------------------------------------------------------------------
# Computing it again

def _payload_hash(request: HttpRequest, allow_unsigned: bool, access_key: str) -> str:
    """The body's hash as the signer put it in the canonical request."""
    claimed = request.headers.get("x-amz-content-sha256")
    actual = _sha256_hex(request.body) if request.body else _EMPTY_SHA256
    if claimed is None:
        return actual
    if claimed == UNSIGNED_PAYLOAD and allow_unsigned:
        return claimed
    if claimed != actual:
        # The signature would cover the claim, not the body sent: refused.
        raise SignatureError(Reason.MISMATCH, (
            "The provided 'x-amz-content-sha256' header does not match what was computed."
            if _HEX_SHA256.fullmatch(claimed) else
            f"x-amz-content-sha256 must be the body's SHA-256 for this operation, not "
            f"'{_echo(claimed)}'."), access_key)
    return claimed


def canonical_uri(raw_path: str) -> str:
    """The path as sent, dot segments and repeated slashes removed, then URI-encoded once
    more: every service but S3 encodes it twice (botocore's SigV4Auth)."""
    if raw_path == "/" or raw_path and _PLAIN_PATH.fullmatch(raw_path):
        return raw_path     # "/" first: every JSON and query request, and no regex to run
    path = _remove_dot_segments(raw_path or "/") or "/"
    # raw_path holds the request line's bytes as latin-1: encode those bytes, not UTF-8.
    return quote(path.encode("latin-1", "replace"), safe="/~")


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and kept else ""
    return first + "/".join(kept) + last


def _encode(component: str) -> str:
    # Decoded then encoded again, so that a name sent raw (UTF-8) or percent-encoded
    # signs the same, with AWS's unreserved characters left as they are.
    return quote(unquote_to_bytes(component.encode("latin-1", "replace")), safe="-_.~")


def canonical_query(query_string: str, presigned: bool = False) -> str:
    if not query_string:
        return ""
    pairs = []
    for item in query_string.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        key = _encode(key)
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, _encode(value)))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_headers(request: HttpRequest, names: Sequence[str]) -> str:
    headers = request.headers
    try:
        # Repeated headers arrive folded with commas (kernel/http_server.py), as signed.
        return "".join([f"{name}:{' '.join(headers[name].split())}\n" for name in names])
    except KeyError as missing:
        raise SignatureError(Reason.INCOMPLETE, (
            f"The header '{_echo(missing.args[0])}' is signed (SignedHeaders) but the request "
            "does not have it.")) from None


def canonical_request(request: HttpRequest, signed_headers: Sequence[str], payload_hash: str,
                      presigned: bool = False) -> str:
    return "\n".join((request.method.upper(), canonical_uri(request.raw_path),
                      canonical_query(request.query_string, presigned),
                      canonical_headers(request, signed_headers), ";".join(signed_headers),
                      payload_hash))


def _sha256_hex(data: bytes) -> str:
    return (_small_sha256 if len(data) <= _SMALL else hashlib.sha256)(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


@functools.lru_cache(maxsize=4096)
def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The key of one day, region and service. Cached: it is the same for a day of
    requests, and deriving it is four HMACs. (The secret was just given by the key
    store, so a key it revoked is refused before this is reached.)"""
    key = _hmac(f"AWS4{secret}".encode("utf-8"), day)
    return _hmac(_hmac(_hmac(key, region), service), TERMINATOR)


@functools.lru_cache(maxsize=4096)
def _signer(secret: str, day: str, region: str, service: str):
    """The signing key's HMAC-SHA256 with the key already hashed in (RFC 2104's inner and
    outer pads): a copy per request signs for a third of what hmac.digest costs, which
    sets up OpenSSL's HMAC from the key every time. (CPython's SHA-256: see _SMALL.)"""
    key = signing_key(secret, day, region, service)   # 32 bytes: shorter than the block
    inner = _small_sha256(bytes(b ^ 0x36 for b in key.ljust(64, b"\0")))
    outer = _small_sha256(bytes(b ^ 0x5C for b in key.ljust(64, b"\0")))
    return inner, outer


def signature(secret: str, parts: _Signature, canonical: str) -> str:
    string_to_sign = (f"{ALGORITHM}\n{parts.amz_date}\n{parts.date}/{parts.region}/"
                      f"{parts.service}/{TERMINATOR}\n"
                      f"{_sha256_hex(canonical.encode('utf-8'))}")
    inner, outer = _signer(secret, parts.date, parts.region, parts.service)
    inner, outer = inner.copy(), outer.copy()
    inner.update(string_to_sign.encode("utf-8"))
    outer.update(inner.digest())
    return outer.hexdigest()
