"""The bounds of ECS rolling deployments (controllers/rolling.py), and the arithmetic of
Availability Zone rebalancing (controllers/zone_rebalancing.py)."""

from collections import Counter

import pytest

from nozama.controllers.rolling import bounds, circuit_breaker_threshold, rolling_step
from nozama.controllers.zone_rebalancing import imbalance, spread


@pytest.mark.parametrize("desired,low,high,expected", [
    (4, 50, 100, (2, 4)),
    (4, 100, 200, (4, 8)),
    (3, 50, 100, (2, 3)),      # minimum healthy rounds up
    (3, 0, 150, (0, 4)),       # maximum rounds down
    (2, 100, 100, (1, 2)),     # 100/100 would never move: one task at a time
    (0, 100, 200, (0, 0)),
])
def test_bounds_round_as_ecs_does(desired, low, high, expected):
    assert bounds(desired, low, high) == expected


def test_100_200_starts_all_new_tasks_then_stops_old_ones():
    first = rolling_step(4, 100, 200, 0, 0, 4, 4)
    assert (first.start, first.stop_old) == (4, 0)
    done = rolling_step(4, 100, 200, 4, 4, 4, 4)
    assert (done.start, done.stop_old) == (0, 4)


def test_0_100_stops_old_tasks_first():
    step = rolling_step(4, 0, 100, 0, 0, 4, 4)
    assert (step.start, step.stop_old) == (0, 4)
    after = rolling_step(4, 0, 100, 0, 0, 0, 0)
    assert after.start == 4


def test_50_100_replaces_in_halves():
    step = rolling_step(4, 50, 100, 0, 0, 4, 4)
    assert (step.start, step.stop_old) == (0, 2)
    step = rolling_step(4, 50, 100, 0, 0, 2, 2)
    assert (step.start, step.stop_old) == (2, 0)
    step = rolling_step(4, 50, 100, 2, 2, 2, 2)
    assert (step.start, step.stop_old) == (0, 2)


def test_unhealthy_old_tasks_can_always_go():
    step = rolling_step(2, 100, 200, 0, 0, 2, 0)
    assert step.stop_old == 2


def test_scale_in_stops_the_surplus():
    step = rolling_step(2, 100, 200, 5, 5, 0, 0)
    assert (step.start, step.stop_primary) == (0, 3)


@pytest.mark.parametrize("desired,threshold", [(1, 3), (6, 3), (10, 5), (1000, 200)])
def test_circuit_breaker_threshold(desired, threshold):
    assert circuit_breaker_threshold(desired) == threshold


@pytest.mark.parametrize("counts,zones,expected", [
    ({"a": 3, "b": 3}, {"a", "b", "c"}, ("c", "b")),   # c joined with no task
    ({"a": 2, "b": 2, "c": 1}, {"a", "b", "c"}, None),  # one apart: even enough
    ({"a": 3, "b": 1}, {"a", "b"}, ("b", "a")),
    ({"a": 2, "b": 2, "c": 4}, {"a", "b"}, None),       # c can't take tasks: left alone
    ({"a": 6}, {"a"}, None),
])
def test_zone_imbalance(counts, zones, expected):
    assert imbalance(Counter(counts), zones) == expected


def test_zone_spread_in_ecs_words():
    assert spread(Counter({"a": 3, "b": 3}), {"a", "b", "c"}) == \
        "3 tasks in a, 3 tasks in b and 0 tasks in c"
