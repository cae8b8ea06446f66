"""nextToken handling: keyset pagination, stable under concurrent writes.

A token records the sort key of the last item returned; the next page starts
strictly after it. Items inserted or deleted meanwhile never shift a page, so
nothing is listed twice or skipped, unlike offset-based pages.
"""

from __future__ import annotations

import base64
import binascii
import json

from nozama.api.errors import ServiceError


def encode_token(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_token(token: str | None, code: str = "InvalidParameterException"):
    """The key a token stands for (None for no token); a forged token is the client's error."""
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise ServiceError(code, "The nextToken is not valid.") from None


def page(items: list, limit: int, key) -> tuple[list, str | None]:
    """Cut one page from `items` (fetched with limit + 1) and make the next token."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_token(key(items[-1]))
