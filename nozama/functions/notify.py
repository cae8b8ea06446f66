"""Tells whoever listens that a function changed, or that an event was queued.

The API calls function_changed after each committed change; the function runtime
listens (on_function_changed) to drop stale routes and retire warm workers that
run code or configuration gone stale. Invoke with InvocationType Event calls
event_queued, so that the queue runs it now rather than at its next scan. Both are
wake-ups (kernel/wakeups.py) of the server's, not module-global state, so each
server hears only its own changes.
"""

from __future__ import annotations

from typing import Callable

from nozama.kernel.context import RequestContext
from nozama.kernel.wakeups import Wakeups

FUNCTION = "function"       # subject: region, account, function name
EVENTS = "function-events"  # no subject: the Event invocation queue


def function_changed(ctx: RequestContext, name: str) -> None:
    ctx.wakeups.wake(FUNCTION, ctx.region, ctx.account_id, name)


def on_function_changed(wakeups: Wakeups, listener: Callable[[str, str, str], None]) -> None:
    """Call listener(region, account, function name) on every change."""
    wakeups.listen(FUNCTION, listener)


def event_queued(wakeups: Wakeups) -> None:
    wakeups.wake(EVENTS)


async def events_wait(wakeups: Wakeups, timeout: float) -> None:
    """Until an event is queued (or a queued one may start), or `timeout` passes."""
    await wakeups.wait(EVENTS, timeout=timeout)
