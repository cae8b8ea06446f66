"""Tells whoever listens that a function, one of its versions or aliases changed.

The API calls function_changed after each committed change; the worker pool
listens to retire warm workers that run code or configuration gone stale.
"""

from __future__ import annotations

from typing import Callable

from nozama.kernel.context import RequestContext

# Each is called with (region, account, function name).
listeners: list[Callable[[str, str, str], None]] = []


def function_changed(ctx: RequestContext, name: str) -> None:
    for listener in listeners:
        listener(ctx.region, ctx.account_id, name)
