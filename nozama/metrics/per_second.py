"""Per-second metrics counted in memory and written once a second to the metrics store.

The load balancer's data plane (lb/meters.py) and the function runtime
(functions/meters.py) count on their hot path without touching the database;
just after each second ends, `every_second` has them turn the second's counts
into DataPoints, which `write` appends to the metrics store in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from nozama.kernel.clock import Clock
from nozama.model.statistics import Aggregate
from nozama.store import Store
from nozama.store import metrics as metric_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)


class DataPoints:
    """One second's data points of one namespace, by (region, account)."""

    def __init__(self, namespace: str, ts: int):
        self.namespace, self.ts = namespace, ts
        self.by_account: dict[tuple[str, str], list[tuple]] = defaultdict(list)

    def add(self, region: str, account: str, name: str, dimensions: list[dict],
            agg: Aggregate, unit: str = "Count") -> None:
        self.by_account[(region, account)].append(
            (self.namespace, name, dimensions, unit, self.ts, agg))

    def __bool__(self) -> bool:
        return bool(self.by_account)


def write(store: Store, points: DataPoints) -> None:
    if not points:
        return
    with store.write() as conn:
        for (region, account), data in points.by_account.items():
            metric_store.append(conn, region, account, data)


async def every_second(clock: Clock, publish: Callable[[int], None], what: str) -> None:
    """Call publish(second) just after each second ends, with the second that ended."""
    while True:
        await asyncio.sleep(1.02 - clock.time() % 1)
        try:
            publish(int(clock.time()) - 1)
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:  # metrics must never stop the traffic or the invocations
            log.exception("publishing %s metrics failed", what)
