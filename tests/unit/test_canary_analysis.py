"""Automatic canary analysis: the verdicts of comparing a new revision with the old one."""

from __future__ import annotations

import random

import pytest

from nozama.metrics import canary
from nozama.model import sketch
from nozama.metrics.canary import FAIL, PASS, CONTINUE, Sample


def latency(rng: random.Random, n: int, scale: float) -> dict:
    values = [rng.lognormvariate(-4, 0.4) * scale for _ in range(n)]
    return dict(latency=sketch.of(values), latency_min=min(values), latency_max=max(values))


def test_too_few_requests_decide_nothing():
    assert canary.verdict(Sample(50, 50), Sample(5000, 0)).outcome == CONTINUE


def test_a_much_higher_error_rate_fails():
    found = canary.verdict(Sample(300, 90), Sample(2700, 0))
    assert found.outcome == FAIL
    assert found.signal == canary.SERVER_ERRORS
    assert found.reason.startswith("5XX share 30.00% against 0.00% on the previous revision "
                                   "(significant: z = ")


def test_a_significant_but_negligible_difference_does_not_fail():
    # 0.5% more errors over a great many requests: significant, but within the margin.
    found = canary.verdict(Sample(200_000, 2000), Sample(200_000, 1000))
    assert found.outcome != FAIL


def test_noise_does_not_fail_and_equal_revisions_pass():
    rng = random.Random(4)
    failures = 0
    for _ in range(200):
        green = sum(rng.random() < 0.02 for _ in range(300))
        blue = sum(rng.random() < 0.02 for _ in range(2700))
        failures += canary.verdict(Sample(300, green), Sample(2700, blue)).outcome == FAIL
    assert failures <= 1  # the strict per-look level keeps false alarms rare
    both = latency(rng, 3000, 1.0)
    assert canary.verdict(Sample(3000, 0, **both), Sample(9000, 0, **both)).outcome == PASS


def test_a_slower_revision_fails_and_a_little_slower_one_does_not():
    rng = random.Random(9)
    blue = Sample(3000, 0, **latency(rng, 3000, 1.0))
    slow = canary.verdict(Sample(1000, 0, **latency(rng, 1000, 2.0)), blue)
    assert slow.outcome == FAIL and slow.signal == canary.LATENCY
    assert slow.reason.startswith("latency: median response time ")
    assert canary.verdict(Sample(1000, 0, **latency(rng, 1000, 1.05)), blue).outcome != FAIL


def test_mann_whitney_matches_its_definition():
    first = sketch.of([1.0, 2.0, 3.0, 4.0])
    second = sketch.of([1.0, 2.0, 3.0, 4.0])
    assert canary.mann_whitney_z(first, second) == 0
    larger = sketch.of([10.0, 20.0, 30.0, 40.0] * 10)
    assert canary.mann_whitney_z(larger, sketch.of([1.0, 2.0, 3.0] * 10)) > 5
    # Every value below every other: U = 0, z = -(n1 n2 / 2) / sd, with ties corrected.
    assert canary.mann_whitney_z(sketch.of([1.0] * 10), larger) == pytest.approx(-4.9497, abs=1e-3)


# ---------------------------------------------------------------- 4XX share

def test_a_revision_answering_4xx_to_everything_fails_on_its_4xx_share():
    # No 5XX at all and no slower: only the share of 4XX tells (the 404 revision).
    found = canary.verdict(Sample(300, 0, client_errors=300), Sample(2700, 0))
    assert found.outcome == FAIL and found.signal == canary.CLIENT_ERRORS
    assert found.reason.startswith(
        "4XX share 100.00% against 0.00% on the previous revision (significant: z = ")
    assert found.reason.endswith("over 300 and 2700 requests)")


def test_4xx_as_common_on_both_revisions_does_not_fail_and_passes():
    # Clients that probe missing paths answer 404 on both: no regression.
    rng = random.Random(7)
    both = latency(rng, 3000, 1.0)
    found = canary.verdict(Sample(3000, 0, client_errors=300, **both),
                           Sample(9000, 0, client_errors=900, **both))
    assert found.outcome == PASS
    assert "4XX share 10.00% against 10.00%" in found.reason


def test_a_significant_but_immaterial_rise_of_4xx_does_not_fail():
    # One point more 4XX over many requests: significant, but under the 4XX margin.
    found = canary.verdict(Sample(200_000, 0, client_errors=22_000),
                           Sample(200_000, 0, client_errors=20_000))
    assert found.outcome != FAIL


def test_a_material_but_not_yet_significant_rise_of_4xx_waits():
    found = canary.verdict(Sample(200, 0, client_errors=8), Sample(200, 0, client_errors=2))
    assert found.outcome == CONTINUE


def test_4xx_noise_does_not_fail():
    rng = random.Random(11)
    failures = 0
    for _ in range(200):
        green = sum(rng.random() < 0.15 for _ in range(300))
        blue = sum(rng.random() < 0.15 for _ in range(2700))
        failures += canary.verdict(Sample(300, 0, client_errors=green),
                                   Sample(2700, 0, client_errors=blue)).outcome == FAIL
    assert failures <= 1


def test_no_early_pass_while_the_4xx_share_is_uncertain():
    # 5XX and latency are fine, but green's 4XX share is too uncertain to call it not worse.
    found = canary.verdict(Sample(600, 0, client_errors=12), Sample(5400, 0, client_errors=54))
    assert found.outcome == CONTINUE


def _millisecond_latency(ms_values: list[float]) -> dict:
    """Response times as the load balancer measures them: whole milliseconds, each counted
    as the middle of its millisecond."""
    values = [(int(v) + 0.5) / 1000 for v in ms_values]
    return dict(latency=sketch.of(values), latency_min=min(values), latency_max=max(values))


def test_a_sub_millisecond_difference_of_p90_does_not_hold_a_pass_back():
    # Blue answers under a millisecond; green's tail reaches the next millisecond: the p90s
    # are 0.5 and 1.5 ms, three times apart, and 1 ms is no difference worth waiting for.
    blue = Sample(3000, 0, **_millisecond_latency([0.2] * 2800 + [1.2] * 200))
    green = Sample(1000, 0, **_millisecond_latency([0.2] * 850 + [1.2] * 150))
    assert canary.verdict(green, blue).outcome == PASS
    # Five milliseconds more at p90, with the medians equal: still no early pass.
    slower = Sample(1000, 0, **_millisecond_latency([0.2] * 850 + [9.0] * 150))
    assert canary.verdict(slower, blue).outcome == CONTINUE
