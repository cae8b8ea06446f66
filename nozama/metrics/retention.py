"""Keeping metric data as CloudWatch does: seconds for three hours, then minutes
for fifteen days. Runs in the control plane once a minute."""

from __future__ import annotations

import asyncio
import logging

from nozama.kernel.clock import Clock
from nozama.store import Store
from nozama.store import metrics as metric_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

HIGH_RESOLUTION_FOR = 3 * 3_600
KEPT_FOR = 15 * 86_400
EVERY = 60.0


def roll_up(store: Store, now: int) -> None:
    while True:
        with store.write() as conn:
            done = metric_store.roll_up(conn, now - HIGH_RESOLUTION_FOR)
        if done < 20_000:
            break
    with store.write() as conn:
        metric_store.expire(conn, now - KEPT_FOR)


async def run(store: Store, clock: Clock) -> None:
    while True:
        try:
            roll_up(store, int(clock.now().timestamp()))
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:
            log.exception("metric roll-up failed")
        await asyncio.sleep(EVERY)
