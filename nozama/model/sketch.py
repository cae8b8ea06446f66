"""A mergeable sketch of a distribution, for percentiles over any period.

Percentiles cannot be computed from per-second sums, and keeping every sample
costs too much, so each second keeps a histogram with logarithmic buckets
(as DDSketch does): a value v > 0 falls in bucket ceil(log(v) / log(GAMMA)).
Every value in a bucket is within RELATIVE_ERROR of the bucket's midpoint, so
a percentile read from merged buckets is off by at most that much, whatever
the period. Negative values mirror positive ones; zero has its own bucket.

A sketch is a dict {bucket key: count} with string keys, so that it stores
as JSON as is: "p12" is bucket 12 of positive values, "n-3" bucket -3 of
negative ones, "z" zero.
"""

from __future__ import annotations

import math
from collections import Counter

RELATIVE_ERROR = 0.005
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
PER_LOG = 1 / math.log(GAMMA)
ZERO = "z"

Sketch = dict[str, float]


def key(value: float) -> str:
    if value > 0:
        return f"p{math.ceil(math.log(value) * PER_LOG)}"
    if value < 0:
        return f"n{math.ceil(math.log(-value) * PER_LOG)}"
    return ZERO


def add(sketch: Sketch, value: float, count: float = 1.0) -> None:
    k = key(value)
    sketch[k] = sketch.get(k, 0.0) + count


def merge(into: Sketch, other: Sketch) -> None:
    for k, count in other.items():
        into[k] = into.get(k, 0.0) + count


def of(values: list[float]) -> Sketch:
    if min(values) > 0:
        # The usual case (durations): bucket indexes computed by C-level maps, a
        # second's thousands of response times in about a millisecond.
        return of_indexes(Counter(map(math.ceil, map(PER_LOG.__mul__, map(math.log, values)))))
    return {k: float(n) for k, n in Counter(map(key, values)).items()}


def of_indexes(counts: dict[int, int]) -> Sketch:
    """The sketch of positive values counted by bucket index, ceil(log(v) * PER_LOG)."""
    return {f"p{index}": float(n) for index, n in counts.items()}


def midpoint(k: str) -> float:
    if k == ZERO:
        return 0.0
    value = 2 * GAMMA ** int(k[1:]) / (GAMMA + 1)
    return -value if k[0] == "n" else value


def percentile(sketch: Sketch, q: float, low: float, high: float) -> float | None:
    """The value at or below which a share `q` (0-100) of the samples lie.

    `low` and `high` are the true minimum and maximum: the ends of the
    distribution are exact, and no estimate leaves that range.
    """
    total = sum(sketch.values())
    if total <= 0:
        return None
    if q <= 0:
        return low
    if q >= 100:
        return high
    rank = q / 100 * total
    seen = 0.0
    for value, count in sorted((midpoint(k), c) for k, c in sketch.items()):
        seen += count
        if seen >= rank - 1e-9:
            return min(max(value, low), high)
    return high
