"""Whether a load balancer is served: its State, and when to warn that nobody serves any.

As ALB's, a load balancer's State.Code is `provisioning` until a data plane serves it,
then `active`. In Nozama the data plane is `nozama lb`, a process of its own: it
records in the store, every HEARTBEAT_SECONDS, that it serves each load balancer
whose listeners it has bound (the load_balancers table's served_at). A load balancer
served within SERVED_WITHIN is active; one never served, or whose data plane went
silent, is provisioning, with a Reason that names the command that serves it. The
control plane warns when load balancers exist and no data plane has checked in for
WARN_AFTER (`nozama server` alone serves the API, not the traffic).
"""

from __future__ import annotations

from datetime import datetime

from nozama.kernel.intervals import scaled

HEARTBEAT_SECONDS = scaled(5.0)
SERVED_WITHIN = scaled(15.0)   # three heartbeats: one late write is not an outage
WARN_AFTER = scaled(30.0)

NOT_SERVED = ("No load balancer data plane serves this load balancer yet: run `nozama lb` "
              "on the same store (`nozama up` runs one)")


def state(served_at: datetime | None, now: datetime, problem: str | None = None) -> dict:
    """The LoadBalancerState of a load balancer last served at `served_at`, with what
    keeps its data plane from serving all of it, if anything."""
    if served_at is not None and (now - served_at).total_seconds() <= SERVED_WITHIN:
        return {"Code": "active_impaired", "Reason": problem} if problem else \
            {"Code": "active"}
    return {"Code": "provisioning", "Reason": NOT_SERVED}


def unserved_for(balancers: int, last_served: datetime | None, since: datetime,
                 now: datetime) -> float | None:
    """Seconds for which `balancers` load balancers have had no data plane, when that is
    over WARN_AFTER; None otherwise. `since`: from when a data plane could have served
    them (the control plane's start, or the first load balancer's creation, if later)."""
    if not balancers:
        return None
    quiet_since = max(since, last_served) if last_served is not None else since
    quiet = (now - quiet_since).total_seconds()
    return quiet if quiet > WARN_AFTER else None
