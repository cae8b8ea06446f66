"""The bridge that carries wake-ups (kernel/wakeups.py) between the servers of one store.

A wake-up becomes a message `[server id, topic, *subject]` (JSON, a few hundred bytes at
most) handed to a transport's `send`; store/notify.py's sends it with PostgreSQL's
NOTIFY and reads its peers' with LISTEN, in threads of its own. What arrives is
delivered on the event loop with `wake_local`, so a wake-up from another server is never
published again, and a server's own message (NOTIFY reaches every listener, the sender's
too) is dropped by its id.

Publishing waits for the end of the current loop callback (`call_soon`): a handler or
controller wakes inside or just after its `with store.write()` block, all synchronous,
so by then its transaction has committed and a peer woken by the message reads the
change, not the state before it. Wake-ups are hints, not the truth: a message lost (a
listener that was disconnected) is made up for by `reconnected`, which wakes
everything, and by the caches' own expiry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

log = logging.getLogger(__name__)

MAX_PAYLOAD = 7900   # PostgreSQL refuses a NOTIFY payload of 8000 bytes or more


class Bridge:
    def __init__(self, server_id: str, send: Callable[[str], None] = lambda payload: None):
        self.server_id = server_id
        self.send = send        # the transport's: set once it exists
        self.wakeups = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[str] = []

    def attach(self, wakeups, loop: asyncio.AbstractEventLoop) -> None:
        """Bridge `wakeups`, whose waiters and listeners live on `loop`."""
        self.wakeups, self.loop = wakeups, loop
        wakeups.bridge = self

    # --------------------------------------------------------- this server's

    def publish(self, topic: str, subject: tuple) -> None:
        payload = json.dumps([self.server_id, topic, *subject], separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("a wake-up of %s is too long to reach the other servers", topic)
            return
        self._pending.append(payload)
        if self.loop is not None and self.loop.is_running():
            if len(self._pending) == 1:
                self.loop.call_soon(self.flush)   # after the commit (see above)
        else:
            self.flush()

    def flush(self) -> None:
        """Send what was published: at the end of the loop callback, or at once when the
        server stops (after its last commit)."""
        pending, self._pending = self._pending, []
        for payload in pending:
            self.send(payload)

    # ------------------------------------------------------------- others'

    def received(self, payload: str) -> None:
        """A message from the transport, on the loop: another server's wake-up."""
        try:
            server_id, topic, *subject = json.loads(payload)
        except (ValueError, TypeError):
            log.warning("ignored a wake-up message that is not one: %.200r", payload)
            return
        if server_id == self.server_id or self.wakeups is None:
            return
        self.wakeups.wake_local(topic, *subject)

    def reconnected(self) -> None:
        """The transport's listener was disconnected: wake-ups may have been lost, so every
        waiter looks again and every cache a listener keeps is dropped."""
        if self.wakeups is not None:
            self.wakeups.wake_everything()

    # The transport's threads call these; the work runs on the loop.

    def received_threadsafe(self, payload: str) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.received, payload)

    def reconnected_threadsafe(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.reconnected)
