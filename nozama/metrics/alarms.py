"""Evaluating a metric alarm: M out of N periods beyond a threshold.

Pure logic over the values of the alarm's last N periods (None where a period
has no data), so that it is tested without a clock or a database. What a
missing period counts as follows TreatMissingData, as CloudWatch documents:
breaching and notBreaching count it so; ignore and missing decide on the
periods that have data, keeping the current state when those are fewer than
M, and missing (the default) goes to INSUFFICIENT_DATA when no period has data.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime, timezone

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


@dataclass(frozen=True)
class Evaluation:
    state: str
    reason: str
    reason_data: dict


def statistic(alarm: dict) -> str:
    return alarm.get("ExtendedStatistic") or alarm["Statistic"]


def evaluate(alarm: dict, periods: list[tuple[int, float | None]]) -> Evaluation | None:
    """The state the alarm's last N periods (oldest first, by start) call for, or None
    when they call for keeping the current state."""
    n = alarm["EvaluationPeriods"]
    m = alarm.get("DatapointsToAlarm") or n
    compare, words = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = alarm["Threshold"]
    treat = alarm.get("TreatMissingData") or "missing"
    present = [(ts, v) for ts, v in periods if v is not None]
    breaching = [(ts, v) for ts, v in present if compare(v, threshold)]
    missing = len(periods) - len(present)
    counted_breaching = len(breaching) + (missing if treat == "breaching" else 0)
    counted = len(periods) if treat in ("breaching", "notBreaching") else len(present)
    data = _reason_data(alarm, periods)
    recent = ", ".join(f"{v} ({_when(ts)})" for ts, v in reversed(present[-n:]))
    if counted_breaching >= m:
        s = "s" if m > 1 else ""
        return Evaluation(ALARM, (
            f"Threshold Crossed: {counted_breaching} out of the last {n} datapoints "
            f"[{recent}] {'were' if counted_breaching > 1 else 'was'} {words} the threshold "
            f"({threshold}) (minimum {m} datapoint{s} for OK -> ALARM transition)."), data)
    if not present and treat == "missing":
        return Evaluation(INSUFFICIENT_DATA, (
            f"Insufficient Data: {n} datapoint{'s were' if n > 1 else ' was'} unknown."), data)
    if counted >= m:
        return Evaluation(OK, (
            f"Threshold Crossed: {counted - counted_breaching} out of the last {n} datapoints "
            f"[{recent}] {'were' if counted - counted_breaching > 1 else 'was'} not {words} "
            f"the threshold ({threshold}) (minimum 1 datapoint for ALARM -> OK "
            "transition)."), data)
    return None


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _reason_data(alarm: dict, periods: list[tuple[int, float | None]]) -> dict:
    data = {"version": "1.0", "statistic": statistic(alarm), "period": alarm["Period"],
            "recentDatapoints": [v for _, v in periods if v is not None],
            "threshold": alarm["Threshold"],
            "evaluatedDatapoints": [{"timestamp": _iso(ts), "value": v} if v is not None
                                    else {"timestamp": _iso(ts)}
                                    for ts, v in reversed(periods)]}
    if periods:
        data["startDate"] = _iso(periods[0][0])
    return data
