"""Tells whoever listens that a function, one of its versions or aliases changed.

The API calls function_changed after each committed change; the function runtime
listens (on_function_changed) to drop stale routes and retire warm workers that
run code or configuration gone stale. It is a wake-up (kernel/wakeups.py) of the
server's, not a module-global list, so each server hears only its own changes.
"""

from __future__ import annotations

from typing import Callable

from nozama.kernel.context import RequestContext
from nozama.kernel.wakeups import Wakeups

FUNCTION = "function"   # subject: region, account, function name


def function_changed(ctx: RequestContext, name: str) -> None:
    ctx.wakeups.wake(FUNCTION, ctx.region, ctx.account_id, name)


def on_function_changed(wakeups: Wakeups, listener: Callable[[str, str, str], None]) -> None:
    """Call listener(region, account, function name) on every change."""
    wakeups.listen(FUNCTION, listener)
