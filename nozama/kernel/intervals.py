"""How often the control plane's own loops run, scaled for tests.

NOZAMA_INTERVAL_SCALE (default 1.0) multiplies the cadences that set how soon Nozama
notices a change: the service controller's tick, how long a task must run to count as
stable, the agents' heartbeat watch, the load balancer's health-check cadence. The test
suite sets it below 1 so that scenarios wait less; at 1.0 nothing changes. Like
NOZAMA_AGENT_METRICS_SECONDS, it is read once, when the process starts.
"""

from __future__ import annotations

import os



def _scale() -> float:
    text = os.environ.get("NOZAMA_INTERVAL_SCALE") or "1.0"
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not 0 < scale <= 100:
        raise SystemExit(f"NOZAMA_INTERVAL_SCALE must be a number above 0 (at most 100), "
                         f"not {text!r}")
    return scale


SCALE = _scale()


def scaled(seconds: float) -> float:
    """`seconds` times NOZAMA_INTERVAL_SCALE."""
    return seconds * SCALE
