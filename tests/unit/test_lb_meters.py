"""A target's meter counts each response time into its histogram as the response comes;
a second's summary is the same as one made from all the second's times at once."""

from __future__ import annotations

import random

from nozama.lb.meters import TargetMeter
from nozama.model.statistics import Aggregate


def test_response_times_summarize_as_they_come():
    rng = random.Random(7)
    times = [rng.lognormvariate(-7, 1.2) for _ in range(5000)] + [0.0]
    meter = TargetMeter()
    for seconds in times:
        meter.requests += 1
        meter.codes[2] += 1
        meter.response_time(seconds)
    requests, codes, summary = meter.take()
    whole = Aggregate.of_values([max(t, 1e-9) for t in times])
    assert (requests, codes[2]) == (5001, 5001)
    assert (summary.count, summary.min, summary.max) == (whole.count, whole.min, whole.max)
    assert abs(summary.sum - whole.sum) < 1e-9
    assert summary.sketch == whole.sketch
    for stat in ("p50", "p90", "p99"):
        assert summary.value(stat) == whole.value(stat)
    # Taking starts the next second afresh.
    assert meter.take() == (0, [0] * 6, None)
