"""Reading a metric as periods: the one place GetMetricStatistics, GetMetricData and
the alarm evaluator get their numbers from."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.model import statistics
from nozama.model.statistics import Aggregate
from nozama.store import metrics as metric_store


def aligned_start(start: int, period: int) -> int:
    """Where the periods of a query begin: its start, rounded down to the period for
    high-resolution periods and to the minute for the others, as CloudWatch does."""
    return start - start % (period if period < 60 else 60)


def find(conn: Connection, region: str, account: str, metric: dict):
    """The metric's row; `metric` has Namespace, MetricName and Dimensions, as in
    CloudWatch's Metric shape."""
    return metric_store.find(conn, region, account, metric["Namespace"], metric["MetricName"],
                             metric.get("Dimensions") or [])


def periods(conn: Connection, region: str, account: str, metric: dict, start: int, end: int,
            period: int, unit: str | None = None, row=None) -> dict[int, Aggregate]:
    """The metric's data merged per period within [start, end), by period start (`row`:
    the metric's row, when the caller has it already)."""
    row = row or find(conn, region, account, metric)
    if row is None or (unit is not None and row.unit is not None and row.unit != unit):
        return {}
    origin = aligned_start(start, period)
    return statistics.by_period(metric_store.points(conn, row.id, origin, end), period, origin)


def window(conn: Connection, region: str, account: str, metric: dict, start: int,
           end: int) -> Aggregate | None:
    """Everything the metric recorded in [start, end), merged; None when nothing."""
    row = find(conn, region, account, metric)
    if row is None:
        return None
    merged = statistics.by_period(metric_store.points(conn, row.id, start, end),
                                  max(1, end - start), start)
    return merged.get(start)
