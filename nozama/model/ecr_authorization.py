"""The password of ECR's GetAuthorizationToken, and how the registry's token service
checks it.

The password is self-contained and signed (HMAC-SHA256 under a key every server shares), so
that any server can mint it and the registry's gate can check it without a table:
`b64url(claims) + "." + b64url(mac)`, with the claims the key id, the principal's ARN, the
region and the expiry. The gate also checks that the key is still active and that its
policies allow each action, at every token exchange, so a revoked key stops working within
the life of one registry token, not of the 12-hour password.

The password never contains ':', since clients split the token at the first ':'
(`AWS:<password>`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

USER = "AWS"
# The server_keys entry the HMAC key is kept under.
KEY_NAME = "ecr-authorization"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    principal_arn: str
    region: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def mint_password(key: bytes, authorization: Authorization) -> str:
    claims = {"k": authorization.access_key_id, "p": authorization.principal_arn,
              "r": authorization.region, "e": int(authorization.expires_at.timestamp())}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, body)}"


def authorization_token(password: str) -> str:
    """GetAuthorizationToken's `authorizationToken`: base64 of `AWS:<password>`."""
    return base64.b64encode(f"{USER}:{password}".encode()).decode()


def open_password(key: bytes, password: str, now: datetime) -> Authorization | None:
    """The authorization a password carries, or None when it is forged, malformed or
    expired."""
    body, _, mac = password.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(key, body)):
        return None
    try:
        claims = json.loads(_unb64(body))
        found = Authorization(str(claims["k"]), str(claims["p"]), str(claims["r"]),
                              datetime.fromtimestamp(int(claims["e"]), timezone.utc))
    except (ValueError, KeyError, TypeError):
        return None
    return found if found.expires_at > now else None


# The key id of passwords the control plane mints for itself (pulling a function's image,
# or any caller when the server runs with `--auth off`): the registry's gate takes them
# for the account root without looking up a key, since only a holder of the HMAC key, a
# server, can make one.
SERVICE_KEY_ID = "nozama-service"
