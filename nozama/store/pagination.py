"""nextToken handling: keyset pagination, stable under concurrent writes.

A token records the sort key of the last item returned; the next page starts
strictly after it. Items inserted or deleted meanwhile never shift a page, so
nothing is listed twice or skipped, unlike offset-based pages. A token names
the listing it belongs to, and one from another listing or a forged one is the
client's error, never a query on garbage.
"""

from __future__ import annotations

import base64
import binascii
import json

from nozama.kernel.errors import ServiceError


def encode_token(listing: str, key) -> str:
    document = json.dumps({"l": listing, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode()


def decode_token(token: str | None, listing: str, *key_types: type,
                 error: type[ServiceError]):
    """The key a token of `listing` stands for: one value, or a list when several types.

    A token that is not one raises `error`, the service's own answer to a bad token."""
    if not token:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        document = None
    key = document.get("k") if isinstance(document, dict) and document.get("l") == listing \
        else None
    if not _has_types(key, key_types):
        raise error("The nextToken is not valid.")
    return key


def _has_types(key, key_types: tuple[type, ...]) -> bool:
    def matches(value, kind) -> bool:
        return isinstance(value, kind) and not isinstance(value, bool)
    if len(key_types) == 1:
        return matches(key, key_types[0])
    return isinstance(key, list) and len(key) == len(key_types) and \
        all(matches(v, t) for v, t in zip(key, key_types))


def page(items: list, limit: int, listing: str, key) -> tuple[list, str | None]:
    """Cut one page from `items` (fetched with limit + 1) and make the next token."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_token(listing, key(items[-1]))
