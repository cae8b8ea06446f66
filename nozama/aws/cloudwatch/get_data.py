"""GetMetricStatistics and GetMetricData: statistics of a metric per period.

Both read the same merged periods (common.periods); GetMetricStatistics
returns them as Datapoints with every statistic asked for, GetMetricData as
one series of values per query, newest first unless asked otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.metrics import series
from nozama.aws.cloudwatch import handlers
from nozama.aws.cloudwatch.common import check_period, check_statistic, epoch, periods
from nozama.store.pagination import decode_token, encode_token

MAX_DATAPOINTS = 1440
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


def _range(params: dict) -> tuple[int, int]:
    start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
    if start >= end:
        raise errors.cloudwatch.InvalidParameterValueException(
            "The parameter StartTime must be less than the parameter EndTime.")
    return start, end


def _time(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


@handlers.operation("GetMetricStatistics")
def get_metric_statistics(ctx: RequestContext, params: dict) -> dict:
    stats = params.get("Statistics") or []
    extended = params.get("ExtendedStatistics") or []
    if bool(stats) == bool(extended):
        raise errors.cloudwatch.InvalidParameterCombinationException(
            "Must specify either Statistics or ExtendedStatistics, but not both.")
    for i, stat in enumerate(extended, 1):
        if not stat.startswith("p"):
            raise errors.cloudwatch.InvalidParameterValueException(
                f"The value {stat} for parameter ExtendedStatistics.member.{i} is invalid.")
        check_statistic(stat, f"ExtendedStatistics.member.{i}")
    period = params["Period"]
    check_period(period)
    start, end = _range(params)
    requested = -(-(end - start) // period)
    if requested > MAX_DATAPOINTS:
        raise errors.cloudwatch.InvalidParameterCombinationException(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing "
            "Period, or decreasing the time range.")
    metric = {k: params.get(k) for k in ("Namespace", "MetricName", "Dimensions")}
    with ctx.store.read() as conn:
        row = series.find(conn, ctx.region, ctx.account_id, metric)
        found = periods(conn, ctx, metric, start, end, period, params.get("Unit"), row)
    unit = params.get("Unit") or (row.unit if row is not None else None) or "None"
    datapoints = []
    for ts, agg in sorted(found.items()):
        point = {"Timestamp": _time(ts), "Unit": unit}
        for stat in stats:
            point[stat] = agg.value(stat)
        if extended:
            values = {stat: agg.value(stat) for stat in extended}
            point["ExtendedStatistics"] = {k: v for k, v in values.items() if v is not None}
        datapoints.append(point)
    return {"Label": params["MetricName"], "Datapoints": datapoints}


@handlers.operation("GetMetricData")
def get_metric_data(ctx: RequestContext, params: dict) -> dict:
    queries = params["MetricDataQueries"]
    _check_queries(queries)
    start, end = _range(params)
    descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    limit = params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
    skip = decode_token(params.get("NextToken"), "GetMetricData", int,
                        error=errors.cloudwatch.InvalidNextToken) or 0
    results, emitted, position, truncated = [], 0, 0, False
    with ctx.store.read() as conn:
        for query in queries:
            if query.get("ReturnData") is False:
                continue
            stat = query["MetricStat"]
            found = periods(conn, ctx, stat["Metric"], start, end, stat["Period"],
                            stat.get("Unit"))
            values = [(ts, agg.value(stat["Stat"])) for ts, agg in found.items()]
            values = sorted(((ts, v) for ts, v in values if v is not None), reverse=descending)
            kept = []
            for ts, value in values:
                position += 1
                if position <= skip:
                    continue
                if emitted >= limit:
                    truncated = True
                    break
                kept.append((ts, value))
                emitted += 1
            results.append({
                "Id": query["Id"], "Label": query.get("Label") or stat["Metric"]["MetricName"],
                "Timestamps": [_time(ts) for ts, _ in kept], "Values": [v for _, v in kept],
                "StatusCode": "PartialData" if truncated else "Complete", "Messages": []})
    response = {"MetricDataResults": results, "Messages": []}
    if truncated:
        response["NextToken"] = encode_token("GetMetricData", skip + emitted)
    return response


def _check_queries(queries: list[dict]) -> None:
    if len(queries) > MAX_QUERIES:
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    ids = set()
    for i, query in enumerate(queries, 1):
        where = f"MetricDataQueries.member.{i}"
        if not _QUERY_ID.match(query["Id"]):
            raise errors.cloudwatch.InvalidParameterValueException(
                f"The value {query['Id']} for parameter {where}.Id is invalid.")
        if query["Id"] in ids:
            raise errors.cloudwatch.InvalidParameterValueException(
                f"The value {query['Id']} for parameter MetricDataQueries is a duplicate Id.")
        ids.add(query["Id"])
        if "Expression" in query:
            raise errors.cloudwatch.InvalidParameterValueException(
                f"The parameter {where}.Expression is not supported: Nozama does not "
                "evaluate metric math.")
        stat = query.get("MetricStat")
        if stat is None:
            raise errors.cloudwatch.InvalidParameterCombinationException(
                f"Exactly one of the parameters {where}.MetricStat and {where}.Expression "
                "must be specified.")
        check_period(stat["Period"], f"{where}.MetricStat.Period")
        check_statistic(stat["Stat"], f"{where}.MetricStat.Stat")
