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

Several servers on one PostgreSQL store hear each other through a bridge
(kernel/wake_bridge.py, with store/notify.py's LISTEN/NOTIFY transport): `wake`
wakes this server and publishes; what arrives from another server is delivered
with `wake_local`, which never publishes again. Without a bridge (SQLite, one
server) a wake-up is exactly local, as it always was. A listener called with no
subject hears "anything of the topic may have changed" (the bridge's listener
reconnected, and may have missed wake-ups meanwhile).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Callable, Hashable


class Wakeups:
    def __init__(self, bridge=None):
        self._events: dict[tuple, asyncio.Event] = {}
        self._listeners: dict[str, list[Callable[..., None]]] = defaultdict(list)
        # Anything with publish(topic, subject): the other servers of the store hear it.
        self.bridge = bridge

    def wake(self, topic: str, *subject: Hashable) -> None:
        """Something about `subject` changed: wake its waiter, tell the topic's listeners,
        here and (through the bridge) on the other servers of the store."""
        self.wake_local(topic, *subject)
        if self.bridge is not None:
            self.bridge.publish(topic, subject)

    def wake_local(self, topic: str, *subject: Hashable) -> None:
        """A wake-up on this server only: what the bridge delivers from another one."""
        event = self._events.get((topic, *subject))
        if event is not None:
            event.set()
        for listener in self._listeners.get(topic, ()):
            listener(*subject)

    def wake_everything(self) -> None:
        """Every waiter looks again and every listener hears "anything may have changed"
        (called with no subject): wake-ups may have been missed."""
        for event in list(self._events.values()):
            event.set()
        for listeners in list(self._listeners.values()):
            for listener in listeners:
                listener()

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
