"""The control plane's watch on the load balancers' data plane.

`nozama server` serves the ELBv2 API, not the load balancers' traffic: that is
`nozama lb`, a process of its own that records in the store when it last served each
load balancer (model/lb_presence.py). Someone who runs the server alone creates a
load balancer that never answers; this loop says so in the server's log, once each
time it starts being true, and once more when a data plane checks in again.
"""

from __future__ import annotations

import asyncio
import logging

from nozama.kernel.clock import Clock
from nozama.kernel.intervals import scaled
from nozama.model import lb_presence
from nozama.store import Store
from nozama.store import load_balancers as lb_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

CHECK_SECONDS = scaled(5.0)


class DataPlaneWatch:
    """One check at a time (`check`), so that the decision is testable without a loop."""

    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock
        self.started = clock.now()
        self.warned = False

    def check(self) -> str | None:
        """Log the warning (or the all-clear) when the state changes; return what was
        logged, if anything."""
        with self.store.read() as conn:
            found = lb_store.presence(conn)
        since = max(self.started, found.first_created_at or self.started)
        silent = lb_presence.unserved_for(found.balancers, found.last_served_at, since,
                                          self.clock.now())
        if silent is not None and not self.warned:
            self.warned = True
            message = (f"{found.balancers} load balancer(s) exist but no load balancer data "
                       f"plane has served them for {silent:.0f} s: their listeners do not "
                       "answer and their DNS names do not resolve. Run `nozama lb` on the same "
                       "store (`nozama up` runs one).")
            log.warning(message)
            return message
        if silent is None and self.warned:
            self.warned = False
            message = "a load balancer data plane serves the load balancers again"
            log.info(message)
            return message
        return None

    async def run(self, interval: float = CHECK_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:  # keep watching through a transient database error
                log.exception("checking the load balancers' data plane failed")
