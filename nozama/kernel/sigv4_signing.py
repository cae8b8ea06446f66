"""Signing a request with AWS Signature Version 4, for Nozama's own light clients.

The agent signs its channel calls with this rather than botocore: importing botocore
costs an agent about 23 MiB, a third of its memory at rest. Only what those calls
need: a path without query, the headers given, a body hashed whole. api/sigv4.py
verifies what this signs (tests/unit/test_sigv4_signing.py checks they agree).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signed_headers(method: str, path: str, headers: dict[str, str], body: bytes, key,
                   region: str, service: str, now: datetime | None = None) -> dict[str, str]:
    """`headers` (which must hold Host, as sent) plus X-Amz-Date, the session token if
    `key` has one, and the Authorization header. `key`: anything with access_key,
    secret_key and token attributes (an agent's key, botocore's credentials)."""
    amz_date = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    headers = {**headers, "X-Amz-Date": amz_date}
    if getattr(key, "token", None):
        headers["X-Amz-Security-Token"] = key.token
    canonical = sorted((name.lower(), " ".join(str(value).split()))
                       for name, value in headers.items())
    names = ";".join(name for name, _ in canonical)
    request = "\n".join([method, quote(path, safe="/~"), "",
                         "".join(f"{name}:{value}\n" for name, value in canonical), names,
                         hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope,
                         hashlib.sha256(request.encode()).hexdigest()])
    signing_key = b"AWS4" + key.secret_key.encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"{ALGORITHM} Credential={key.access_key}/{scope}, "
                                f"SignedHeaders={names}, Signature={signature}")
    return headers
