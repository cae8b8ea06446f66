"""wait_for: poll a predicate until it holds, or fail with its last value."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value!r}")
        time.sleep(interval)
