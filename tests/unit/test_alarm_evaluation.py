"""Metric alarm evaluation: M out of N, comparison operators and TreatMissingData,
after the examples of CloudWatch's documentation."""

from __future__ import annotations

import pytest

from nozama.metrics.alarms import ALARM, INSUFFICIENT_DATA, OK, evaluate

X, O, _ = 10.0, 0.0, None   # breaching, not breaching, missing (threshold 5)


def alarm(n: int, m: int, treat: str | None = None, operator="GreaterThanThreshold") -> dict:
    doc = {"EvaluationPeriods": n, "DatapointsToAlarm": m, "ComparisonOperator": operator,
           "Threshold": 5.0, "Statistic": "Sum", "Period": 60}
    if treat:
        doc["TreatMissingData"] = treat
    return doc


def state(doc: dict, values: list) -> str | None:
    result = evaluate(doc, [(60 * i, v) for i, v in enumerate(values)])
    return None if result is None else result.state


# CloudWatch's table for 3 out of 5 ("Retain" is None: the state does not change).
@pytest.mark.parametrize("values, missing, ignore, breaching, not_breaching", [
    ([O, O, X, O, X], OK, OK, OK, OK),
    ([O, _, X, _, X], OK, OK, ALARM, OK),
    ([_, _, _, _, _], INSUFFICIENT_DATA, None, ALARM, OK),
    ([O, X, X, _, X], ALARM, ALARM, ALARM, ALARM),
    ([_, _, X, _, _], None, None, ALARM, OK),
])
def test_three_out_of_five(values, missing, ignore, breaching, not_breaching):
    assert state(alarm(5, 3), values) == missing   # "missing" is the default
    assert state(alarm(5, 3, "missing"), values) == missing
    assert state(alarm(5, 3, "ignore"), values) == ignore
    assert state(alarm(5, 3, "breaching"), values) == breaching
    assert state(alarm(5, 3, "notBreaching"), values) == not_breaching


@pytest.mark.parametrize("operator, value, expected", [
    ("GreaterThanThreshold", 5.0, OK), ("GreaterThanThreshold", 5.1, ALARM),
    ("GreaterThanOrEqualToThreshold", 5.0, ALARM), ("GreaterThanOrEqualToThreshold", 4.9, OK),
    ("LessThanThreshold", 5.0, OK), ("LessThanThreshold", 4.9, ALARM),
    ("LessThanOrEqualToThreshold", 5.0, ALARM), ("LessThanOrEqualToThreshold", 5.1, OK),
])
def test_comparison_operators(operator, value, expected):
    assert state(alarm(1, 1, operator=operator), [value]) == expected


def test_reasons_say_what_crossed():
    result = evaluate(alarm(3, 2), [(0, O), (60, X), (120, 12.0)])
    assert result.state == ALARM
    assert result.reason.startswith(
        "Threshold Crossed: 2 out of the last 3 datapoints [12.0 (01/01/70 00:02:00), "
        "10.0 (01/01/70 00:01:00), 0.0 (01/01/70 00:00:00)] were greater than the "
        "threshold (5.0) (minimum 2 datapoints for OK -> ALARM transition).")
    assert result.reason_data["recentDatapoints"] == [0.0, 10.0, 12.0]
    assert result.reason_data["threshold"] == 5.0
    assert evaluate(alarm(2, 1), [(0, _), (60, _)]).reason == \
        "Insufficient Data: 2 datapoints were unknown."
