"""GET /metrics: every metric in the Prometheus text format (version 0.0.4).

A CloudWatch metric becomes a Prometheus family named after its namespace
and name in snake case (AWS/ApplicationELB RequestCount is
aws_application_elb_request_count_total), with its region, account and
dimensions as labels. Counts are counters (their running total), the
ALB's host and connection counts are gauges (their last value), and every
other metric is a summary: its running sum and count, and the quantiles of
the last minute.
"""

from __future__ import annotations

import re

from nozama.model.statistics import Aggregate
from nozama.kernel.clock import Clock
from nozama.store import Store
from nozama.store import metrics as metric_store

# Metrics that say how many of something there are now, not how many happened.
GAUGES = frozenset({"HealthyHostCount", "UnHealthyHostCount", "ActiveConnectionCount"})

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (0.5, 0.9, 0.99)
WINDOW = 60
# A gauge nobody has set for this long describes nothing any more.
STALE_GAUGE = 60


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^a-zA-Z0-9_]", "_", text).lower()
    return f"_{text}" if text[:1].isdigit() else text


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def exposition(store: Store, clock: Clock) -> bytes:
    now = int(clock.time())
    with store.read() as conn:
        series = metric_store.every(conn)
        recent: dict[int, Aggregate] = {}
        for point in metric_store.recent_points(conn, now - WINDOW):
            part = Aggregate(point.sample_count, point.sum, point.minimum, point.maximum,
                             point.sketch)
            if point.series_id in recent:
                recent[point.series_id].merge(part)
            else:
                recent[point.series_id] = part.copy()
    families: dict[str, tuple[str, list[str]]] = {}
    for row in series:
        name = f"{_snake(row.namespace.replace('/', '_'))}_{_snake(row.metric_name)}"
        labels = [f'region="{_label(row.region)}"', f'account="{_label(row.account)}"'] + [
            f'{_snake(d["Name"])}="{_label(d["Value"])}"' for d in row.dimensions]
        if name not in families:
            kind = "gauge" if row.metric_name in GAUGES else \
                "counter" if row.unit == "Count" else "summary"
            families[name] = (kind, [])
        kind, lines = families[name]
        _samples(lines, kind, name, labels, row, recent.get(row.id), now)
    out = []
    for name, (kind, lines) in families.items():
        if lines:
            family = f"{name}_total" if kind == "counter" else name
            out.append(f"# TYPE {family} {kind}")
            out.extend(lines)
    return ("\n".join(out) + "\n").encode() if out else b""


def _samples(lines: list[str], kind: str, name: str, labels: list[str], row,
             recent: Aggregate | None, now: int) -> None:
    joined = ",".join(labels)
    if kind == "counter":
        lines.append(f"{name}_total{{{joined}}} {_number(row.total_sum)}")
    elif kind == "gauge":
        if row.last_at is not None and row.last_at >= now - STALE_GAUGE:
            lines.append(f"{name}{{{joined}}} {_number(row.last_value)}")
    else:
        if recent is not None and recent.sketch is not None:
            for q in QUANTILES:
                value = recent.value(f"p{q * 100:g}")
                lines.append(f'{name}{{{joined},quantile="{q}"}} {_number(value)}')
        lines.append(f"{name}_sum{{{joined}}} {_number(row.total_sum)}")
        lines.append(f"{name}_count{{{joined}}} {_number(row.total_count)}")
