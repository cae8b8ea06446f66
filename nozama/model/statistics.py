"""The statistics CloudWatch computes over a period: SampleCount, Sum, Average,
Minimum, Maximum and percentiles (p50, p99.9, ...).

An Aggregate summarizes samples: count, sum, min, max and, when the samples
themselves were known, a sketch for percentiles. Aggregates merge, so a
period's statistics come from merging its seconds (or rolled-up minutes).
"""

from __future__ import annotations

import re

from nozama.model import sketch

BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,10})?|100(\.0{1,10})?)$")


def is_percentile(stat: str) -> bool:
    return bool(_PERCENTILE.match(stat))


def is_statistic(stat: str) -> bool:
    return stat in BASIC or is_percentile(stat)


class Aggregate:
    __slots__ = ("count", "sum", "min", "max", "sketch")

    def __init__(self, count: float, total: float, low: float, high: float,
                 distribution: sketch.Sketch | None):
        self.count, self.sum, self.min, self.max = count, total, low, high
        self.sketch = distribution

    @classmethod
    def of_values(cls, values: list[float], counts: list[float] | None = None) -> "Aggregate":
        if counts is None:
            return cls(float(len(values)), sum(values), min(values), max(values),
                       sketch.of(values))
        distribution: sketch.Sketch = {}
        for value, count in zip(values, counts):
            sketch.add(distribution, value, count)
        return cls(sum(counts), sum(v * c for v, c in zip(values, counts)), min(values),
                   max(values), distribution)

    def merge(self, other: "Aggregate") -> None:
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if self.sketch is not None and other.sketch is not None:
            sketch.merge(self.sketch, other.sketch)
        else:
            self.sketch = None  # a part without a distribution: no percentiles

    def copy(self) -> "Aggregate":
        return Aggregate(self.count, self.sum, self.min, self.max,
                         dict(self.sketch) if self.sketch is not None else None)

    def value(self, stat: str) -> float | None:
        if stat == "SampleCount":
            return self.count
        if stat == "Sum":
            return self.sum
        if stat == "Average":
            return self.sum / self.count if self.count else None
        if stat == "Minimum":
            return self.min
        if stat == "Maximum":
            return self.max
        if self.sketch is None:
            return None
        return sketch.percentile(self.sketch, float(stat[1:]), self.min, self.max)


def by_period(points, period: int, origin: int = 0) -> dict[int, Aggregate]:
    """Merge data points (rows with ts, sample_count, sum, minimum, maximum, sketch) into
    periods of `period` seconds counted from `origin`, by each period's start."""
    periods: dict[int, Aggregate] = {}
    for point in points:
        start = point.ts - (point.ts - origin) % period
        part = Aggregate(point.sample_count, point.sum, point.minimum, point.maximum,
                         point.sketch)
        found = periods.get(start)
        if found is None:
            periods[start] = part.copy()
        else:
            found.merge(part)
    return periods


def counted(n: float) -> Aggregate:
    """A counter's second: n samples of 1 (Sum n), as AWS publishes request counts."""
    return Aggregate(n, n, 1.0, 1.0, {sketch.key(1.0): n})


def gauge(value: float) -> Aggregate:
    """One sample of a level (healthy hosts, connections, executions in flight)."""
    return Aggregate.of_values([value])


def share(hits: float, n: float) -> Aggregate:
    """n samples of 0 or 1, `hits` of them 1: Sum counts the hits, Average is their rate."""
    distribution = {k: v for k, v in ((sketch.key(0.0), n - hits), (sketch.key(1.0), hits)) if v}
    return Aggregate(n, hits, 0.0 if hits < n else 1.0, 1.0 if hits else 0.0, distribution)
