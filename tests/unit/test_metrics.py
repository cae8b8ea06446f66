"""Percentile sketches, period statistics, and the roll-up of seconds into minutes."""

from __future__ import annotations

import random

import pytest

from nozama.model import sketch
from nozama.model.statistics import Aggregate, by_period, is_statistic
from nozama.store import Store
from nozama.store import metrics as metric_store
from nozama.store.db import sqlite_url


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_within_the_sketch_error(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(-4, 1.5) for _ in range(5000)] + [0.0, -2.5, -0.001]
    agg = Aggregate.of_values(values)
    for q in (1, 10, 50, 90, 99, 99.9):
        assert agg.value(f"p{q}") == pytest.approx(exact(values, q),
                                                   rel=sketch.RELATIVE_ERROR * 1.01)
    assert agg.value("p0") == min(values) and agg.value("p100") == max(values)


def test_merged_sketches_equal_one_sketch_of_everything():
    rng = random.Random(7)
    parts = [[rng.uniform(0.001, 2) for _ in range(300)] for _ in range(4)]
    merged = Aggregate.of_values(parts[0])
    for part in parts[1:]:
        merged.merge(Aggregate.of_values(part))
    whole = Aggregate.of_values([v for part in parts for v in part])
    assert merged.sketch == whole.sketch and merged.count == whole.count
    assert merged.value("Average") == pytest.approx(whole.value("Average"))
    # A part without a distribution (a statistic set) leaves no percentiles.
    merged.merge(Aggregate(2, 2, 1, 1, None))
    assert merged.value("p50") is None and merged.value("SampleCount") == 1202


def test_statistic_names():
    for good in ("Sum", "SampleCount", "p0", "p50", "p99.9", "p100", "p99.99"):
        assert is_statistic(good)
    for bad in ("sum", "p101", "p-1", "P99", "tm99", "p", "Median", "p100.1"):
        assert not is_statistic(bad)


class Row:
    def __init__(self, ts, agg):
        self.ts, self.sample_count, self.sum = ts, agg.count, agg.sum
        self.minimum, self.maximum, self.sketch = agg.min, agg.max, agg.sketch


def test_periods_count_from_their_origin():
    rows = [Row(ts, Aggregate.of_values([ts])) for ts in range(100, 130)]
    periods = by_period(rows, 10, origin=95)
    assert sorted(periods) == [95, 105, 115, 125]
    assert periods[95].count == 5 and periods[125].count == 5
    assert periods[105].value("Sum") == sum(range(105, 115))


def test_roll_up_keeps_the_statistics(tmp_path):
    store = Store.open(sqlite_url(tmp_path))
    rng = random.Random(3)
    seconds = {ts: [rng.uniform(0, 1) for _ in range(20)] for ts in range(6000, 6240)}
    with store.write() as conn:
        metric_store.append(conn, "r-1", "000000000000", [
            ("App", "Latency", [{"Name": "A", "Value": "1"}], "Seconds", ts,
             Aggregate.of_values(values)) for ts, values in seconds.items()])
        row = metric_store.find(conn, "r-1", "000000000000", "App", "Latency",
                                [{"Name": "A", "Value": "1"}])
        before = by_period(metric_store.points(conn, row.id, 6000, 6240), 120, 6000)
    with store.write() as conn:
        # Seconds before 6200 become minutes; later ones stay seconds.
        assert metric_store.roll_up(conn, 6180, limit=100) == 100
        metric_store.roll_up(conn, 6180)
    with store.read() as conn:
        after = by_period(metric_store.points(conn, row.id, 6000, 6240), 120, 6000)
        # Minutes 6000, 6060 (in two parts: the first batch ended in it) and 6120, and
        # the seconds from 6180 on.
        assert len(metric_store.points(conn, row.id, 6000, 6240)) == 4 + 60
        assert row.total_count == 240 * 20 and row.last_at == 6239
    assert sorted(before) == sorted(after) == [6000, 6120]
    for start in before:
        for stat in ("SampleCount", "Minimum", "Maximum", "p50", "p99"):
            assert after[start].value(stat) == before[start].value(stat)
        assert after[start].value("Sum") == pytest.approx(before[start].value("Sum"))
    with store.write() as conn:
        metric_store.expire(conn, 6120)
    with store.read() as conn:
        assert sorted(by_period(metric_store.points(conn, row.id, 0, 10**6), 60)) == [
            6120, 6180]
    store.close()
