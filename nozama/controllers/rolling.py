"""The arithmetic of ECS rolling deployments, as pure functions.

ECS bounds a rolling deployment by two numbers from deploymentConfiguration:
at most maximumPercent of desiredCount tasks may be live (rounded down), and
at least minimumHealthyPercent of desiredCount must stay healthy (rounded up).
Each step starts what the upper bound allows for the new (PRIMARY) deployment
and stops old tasks as far as the lower bound allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    start: int          # new tasks to start for the primary deployment
    stop_old: int       # tasks of older deployments to stop
    stop_primary: int   # surplus primary tasks to stop (scale-in)


def bounds(desired: int, minimum_healthy_percent: int, maximum_percent: int) -> tuple[int, int]:
    """(tasks that must stay healthy, tasks that may be live at most)."""
    lowest = math.ceil(desired * minimum_healthy_percent / 100)
    highest = math.floor(desired * maximum_percent / 100)
    # With maximumPercent 100 and minimumHealthyPercent 100 nothing could move;
    # ECS then lets one task at a time be replaced, as do we.
    if desired and lowest >= highest:
        lowest = max(0, highest - 1)
    return lowest, highest


def rolling_step(desired: int, minimum_healthy_percent: int, maximum_percent: int,
                 primary_live: int, primary_healthy: int, old_live: int,
                 old_healthy: int) -> Step:
    lowest, highest = bounds(desired, minimum_healthy_percent, maximum_percent)
    if primary_live > desired:
        return Step(0, old_live, primary_live - desired)
    room = highest - (primary_live + old_live)
    start = max(0, min(desired - primary_live, room))
    healthy = primary_healthy + old_healthy
    # Old tasks that are not healthy can always go; healthy ones down to the floor.
    unhealthy_old = old_live - old_healthy
    stop_old = min(old_live, unhealthy_old + max(0, healthy - lowest))
    if primary_healthy >= desired:
        stop_old = old_live  # the new deployment is complete: the rest goes
    return Step(start, stop_old, 0)


def circuit_breaker_threshold(desired: int) -> int:
    """Failed tasks after which ECS's deployment circuit breaker trips."""
    return min(200, max(3, math.ceil(desired * 0.5)))
