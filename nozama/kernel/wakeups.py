"""Wake-ups: "look again" signals between the parts of one server process.

The store is always the truth; a wake-up only says that something changed, so
that whoever waits for it looks now instead of at its next tick or poll. The
server owns one Wakeups (the gateway's) and hands it to whatever signals or
waits, through the request context; nothing is module-global, so two servers
in one process never wake each other.

A signal names a topic and a subject: ("instance", ARN) for an agent's long
poll, ("services",) for the service controller's loop, ("function", region,
account, name) for the function runtime. `wait` is for a coroutine that waits
for one subject; `listen` is for an object that acts on every subject of a
topic at once (the function runtime retiring stale warm workers). Handlers and
controllers all run on the event loop thread, so plain asyncio.Events suffice.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Callable, Hashable


class Wakeups:
    def __init__(self):
        self._events: dict[tuple, asyncio.Event] = {}
        self._listeners: dict[str, list[Callable[..., None]]] = defaultdict(list)

    def wake(self, topic: str, *subject: Hashable) -> None:
        """Something about `subject` changed: wake its waiter, tell the topic's listeners."""
        event = self._events.get((topic, *subject))
        if event is not None:
            event.set()
        for listener in self._listeners.get(topic, ()):
            listener(*subject)

    async def wait(self, topic: str, *subject: Hashable, timeout: float) -> None:
        """Until `subject` is woken or `timeout` passes. A wake-up between two waits is
        kept for the next one, so a change made while the waiter was busy is not missed."""
        event = self._events.setdefault((topic, *subject), asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            event.clear()

    def listen(self, topic: str, listener: Callable[..., None]) -> None:
        """Call `listener(*subject)` on every wake-up of `topic`."""
        self._listeners[topic].append(listener)
