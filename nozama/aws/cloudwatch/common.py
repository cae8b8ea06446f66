"""What the CloudWatch operations share: errors, periods, statistics, data of a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.metrics import series
from nozama.model import statistics
from nozama.model.statistics import Aggregate


HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)


def check_period(period: int, name: str = "Period") -> None:
    if period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0):
        return
    raise errors.cloudwatch.InvalidParameterValueException(
        f"The parameter {name} must be 1, 5, 10, 20, 30, 60, or any multiple of 60.")


def check_statistic(stat: str, name: str) -> None:
    if not statistics.is_statistic(stat):
        raise errors.cloudwatch.InvalidParameterValueException(
            f"The value {stat} for parameter {name} is invalid.")


def check_dimensions(dimensions: list[dict], name: str) -> None:
    seen = set()
    for dimension in dimensions:
        if dimension["Name"] in seen:
            raise errors.cloudwatch.InvalidParameterValueException(
                f"The collection {name} must not have duplicate dimension names: "
                f"{dimension['Name']}.")
        seen.add(dimension["Name"])


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def periods(conn: Connection, ctx: RequestContext, metric: dict, start: int, end: int,
            period: int, unit: str | None, row=None) -> dict[int, Aggregate]:
    return series.periods(conn, ctx.region, ctx.account_id, metric, start, end, period, unit,
                          row)
