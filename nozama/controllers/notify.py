"""Wake-ups for agents waiting on their channel.

When a decision changes what an instance must run, the agent's long poll must
return at once. The server is one process and handlers run on its event loop
thread, so an asyncio.Event per instance suffices: the store stays the truth,
the event only says "look again".
"""

from __future__ import annotations

import asyncio


class Notifier:
    def __init__(self):
        self._events: dict[str, asyncio.Event] = {}

    def changed(self, instance_arn: str) -> None:
        event = self._events.get(instance_arn)
        if event is not None:
            event.set()

    async def wait(self, instance_arn: str, timeout: float) -> None:
        """Until the instance's assignments change or `timeout` passes."""
        event = self._events.setdefault(instance_arn, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            event.clear()


# The server's one notifier (handlers reach it from the request context's process).
notifier = Notifier()
