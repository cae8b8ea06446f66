"""PutMetricData: custom metrics, as values, values with counts, or statistic sets.

The AWS/ namespaces belong to the services that publish them (here, the load
balancer's data plane). Each datum is checked as CloudWatch checks it; one bad
datum fails the whole call and nothing is written.
"""

from __future__ import annotations

import math

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model.statistics import Aggregate
from nozama.aws.cloudwatch import handlers
from nozama.aws.cloudwatch.common import check_dimensions, epoch
from nozama.store import metrics as metric_store

MAX_DATA = 1000
MAX_VALUES = 150
MAX_MAGNITUDE = 2.0 ** 360
MAX_AGE = 14 * 86_400
MAX_FUTURE = 2 * 3_600


@handlers.operation("PutMetricData")
def put_metric_data(ctx: RequestContext, params: dict) -> dict:
    namespace = params["Namespace"]
    if namespace.startswith("AWS/"):
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The value {namespace} for parameter Namespace is invalid.")
    data = params.get("MetricData") or []
    if not data:
        raise errors.cloudwatch.MissingRequiredParameterException(
            "The parameter MetricData is required.")
    if len(data) > MAX_DATA:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The collection MetricData must not have a size greater than {MAX_DATA}.")
    now = epoch(ctx.clock.now())
    merged: dict[tuple, list] = {}
    for index, datum in enumerate(data, 1):
        where = f"MetricData.member.{index}"
        ts = _timestamp(datum, where, now)
        agg = _aggregate(datum, where)
        dimensions = datum.get("Dimensions") or []
        check_dimensions(dimensions, f"{where}.Dimensions")
        key = (datum["MetricName"], metric_store.dims_hash(dimensions), ts)
        if key in merged:
            merged[key][5].merge(agg)
        else:
            merged[key] = [namespace, datum["MetricName"], dimensions, datum.get("Unit"), ts,
                           agg]
    with ctx.store.write() as conn:
        metric_store.append(conn, ctx.region, ctx.account_id,
                            [tuple(item) for item in merged.values()])
    return {}


def _timestamp(datum: dict, where: str, now: int) -> int:
    if datum.get("Timestamp") is None:
        return now
    ts = epoch(datum["Timestamp"])
    if ts < now - MAX_AGE:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The parameter {where}.Timestamp must specify a time no "
            "more than two weeks in the past.")
    if ts > now + MAX_FUTURE:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The parameter {where}.Timestamp must specify a time no "
            "more than two hours in the future.")
    return ts


def _aggregate(datum: dict, where: str) -> Aggregate:
    given = [name for name in ("Value", "StatisticValues", "Values") if name in datum]
    if len(given) > 1:
        raise errors.cloudwatch.InvalidParameterCombinationException(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both.")
    if not given:
        raise errors.cloudwatch.MissingRequiredParameterException(
            f"The parameter {where}.Value is required.")
    if datum.get("StorageResolution", 60) not in (1, 60):
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The value {datum['StorageResolution']} for parameter {where}.StorageResolution "
            "is invalid.")
    if "Value" in datum:
        _check_value(datum["Value"], f"{where}.Value")
        return Aggregate.of_values([datum["Value"]])
    if "StatisticValues" in datum:
        return _statistic_set(datum["StatisticValues"], f"{where}.StatisticValues")
    values, counts = datum["Values"], datum.get("Counts")
    if not values:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The collection {where}.Values must not be empty.")
    if len(values) > MAX_VALUES:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}.")
    if counts is not None and len(counts) != len(values):
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The parameters {where}.Values and {where}.Counts must be of the same size.")
    for i, value in enumerate(values, 1):
        _check_value(value, f"{where}.Values.member.{i}")
    for i, count in enumerate(counts or [], 1):
        if not math.isfinite(count) or count <= 0:
            raise errors.cloudwatch.InvalidParameterValueException(
                f"The value {count} for parameter {where}.Counts.member.{i} is invalid.")
    return Aggregate.of_values(values, counts)


def _statistic_set(stats: dict, where: str) -> Aggregate:
    for name in ("SampleCount", "Sum", "Minimum", "Maximum"):
        _check_value(stats[name], f"{where}.{name}")
    if stats["SampleCount"] <= 0:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The value {stats['SampleCount']} for parameter {where}.SampleCount is invalid.")
    if stats["Minimum"] > stats["Maximum"]:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The parameter {where}.Minimum must not be greater than {where}.Maximum.")
    return Aggregate(stats["SampleCount"], stats["Sum"], stats["Minimum"], stats["Maximum"],
                     None)


def _check_value(value: float, name: str) -> None:
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE or \
            (value != 0 and abs(value) < 1 / MAX_MAGNITUDE):
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The value {value} for parameter {name} is invalid.")
