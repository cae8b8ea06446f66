"""HTTP client helpers: calling out from the control plane without blocking it.

The control plane calls a few URLs it is given (ECS lifecycle hooks); its
controllers run on the event loop and poll every pass, so a call runs on a
small thread pool and its answer waits under a key until the next pass asks.
The pool belongs to the server (through the request context), is made on first
use, and nothing about it is created when a module is imported.
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


def post_json(url: str, body: dict, timeout: float) -> Any:
    """POST `body` as JSON and read the JSON answer (an empty answer reads as {}).
    Raises OSError when the call fails and ValueError when the answer is not JSON."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


class BackgroundCalls:
    """Blocking calls run off the event loop, one at a time per key."""

    NOT_DONE = object()

    def __init__(self, workers: int = 4):
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._calls: dict[str, Future] = {}

    def running(self, key: str) -> bool:
        return key in self._calls

    def result(self, key: str, call: Callable[..., Any], *args) -> Any:
        """The answer of `call(*args)` under `key` once it has one (the key is then free
        for a new call), or NOT_DONE while it runs; the first ask starts it."""
        pending = self._calls.get(key)
        if pending is None:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="http-call")
            self._calls[key] = self._pool.submit(call, *args)
            return self.NOT_DONE
        if not pending.done():
            return self.NOT_DONE
        del self._calls[key]
        return pending.result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
