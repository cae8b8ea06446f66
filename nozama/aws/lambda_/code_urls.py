"""GetFunction's Code.Location: a URL that downloads a deployment package, for ten minutes.

Lambda answers with a presigned S3 URL that expires after 10 minutes. Nozama has no
S3, so the URL points at the server itself (GET /_nozama/v1/function-code/<digest>)
with an expiry time and an HMAC-SHA256 signature over both. The key lives in the
store (server_keys), so any server of the same store verifies what another signed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlencode

from nozama.kernel.clock import Clock
from nozama.store import server_keys

PREFIX = "/_nozama/v1/function-code/"
LIFETIME = 600  # seconds, as Lambda's presigned URLs
KEY_NAME = "function-code-url"


class Refused(Exception):
    """The URL is expired, forged or malformed."""


def _key(store) -> bytes:
    with store.read() as conn:  # a write (and SQLite's lock) only the first time
        found = server_keys.get(conn, KEY_NAME)
    if found is not None:
        return found
    with store.write() as conn:
        return server_keys.key(conn, KEY_NAME, lambda: secrets.token_bytes(32))


def _signature(key: bytes, digest: str, expires: int) -> str:
    return hmac.new(key, f"{digest}:{expires}".encode(), hashlib.sha256).hexdigest()


def location(store, clock: Clock, endpoint: str, digest: str) -> str:
    """The download URL of the package `digest` (its hex SHA-256), valid for LIFETIME."""
    expires = int(clock.time()) + LIFETIME
    query = urlencode({"Expires": expires, "Signature": _signature(_key(store), digest, expires)})
    return f"{endpoint}{PREFIX}{digest}?{query}"


def verified(store, clock: Clock, path: str, query: dict[str, str]) -> str:
    """The digest a download URL names, once its signature and expiry are checked."""
    digest = path[len(PREFIX):]
    try:
        expires = int(query.get("Expires", ""))
    except ValueError:
        raise Refused("Invalid expiry") from None
    given = query.get("Signature", "")
    # Bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 403).
    if not hmac.compare_digest(_signature(_key(store), digest, expires).encode(),
                               given.encode("utf-8", "surrogateescape")):
        raise Refused("The request signature does not match")
    if clock.time() > expires:
        raise Refused("Request has expired")
    return digest
