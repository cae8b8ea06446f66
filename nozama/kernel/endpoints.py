"""Several URLs of one control plane, and the one a client uses now.

Every `nozama server` on one store serves the same API, so a client given several
of them stays on one (`current`) and moves to the next when it fails: a connection
error, a timeout or a 503. The agent (agent/channel.py) and the `nozama` CLI
(cli/endpoints.py) share this; what counts as a failure is theirs to say.
"""

from __future__ import annotations

import threading
from typing import Iterable
from urllib.parse import urlsplit


def parse(values: str | Iterable[str]) -> list[str]:
    """URLs from a comma list or a list of them (a repeated --endpoint, each maybe a comma
    list), in order, without blanks or repeats; ValueError names one that is no URL."""
    items = [values] if isinstance(values, str) else list(values)
    found: list[str] = []
    for item in items:
        for part in item.split(","):
            url = part.strip().rstrip("/")
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{part.strip()!r} is not an http:// or https:// URL")
            if url not in found:
                found.append(url)
    if not found:
        raise ValueError("no endpoint given")
    return found


class Endpoints:
    """The endpoints in order and the current one; shared by a client's threads."""

    def __init__(self, urls: str | Iterable[str]):
        self.urls = parse(urls)
        self._index = 0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, value: "str | Iterable[str] | Endpoints") -> "Endpoints":
        return value if isinstance(value, Endpoints) else cls(value)

    @property
    def current(self) -> str:
        return self.urls[self._index]

    def __len__(self) -> int:
        return len(self.urls)

    def failed(self, url: str) -> str:
        """`url` failed: move on to the next endpoint, unless another caller already
        moved on from it (calls in flight on a dead server all fail at once and must
        not skip the live one). The endpoint to use now."""
        with self._lock:
            if self.urls[self._index] == url:
                self._index = (self._index + 1) % len(self.urls)
            return self.urls[self._index]

    def round(self) -> list[str]:
        """Each endpoint once, the current one first: one round of tries."""
        start = self._index
        return self.urls[start:] + self.urls[:start]
