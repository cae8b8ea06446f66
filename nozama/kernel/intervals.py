"""How often the control plane's own loops run, scaled for tests.

NOZAMA_INTERVAL_SCALE (default 1.0) multiplies the cadences that set how soon Nozama
notices a change: the service controller's tick, how long a task must run to count as
stable, the agents' heartbeat watch, the load balancer's health-check cadence. The test
suite sets it below 1 so that scenarios wait less; at 1.0 nothing changes. Like
NOZAMA_AGENT_METRICS_SECONDS, it is read once, when the process starts.
"""

from __future__ import annotations

import os

SCALE = float(os.environ.get("NOZAMA_INTERVAL_SCALE") or 1.0)


def scaled(seconds: float) -> float:
    """`seconds` times NOZAMA_INTERVAL_SCALE."""
    return seconds * SCALE
