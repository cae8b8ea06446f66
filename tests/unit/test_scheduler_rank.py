"""Unit tests for placement strategies: parsing, each ranker alone, and combinations
checked against a brute-force lexicographic ranking."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from nozama.kernel import errors
from nozama.model.resources import Requirements
from nozama.scheduler.feasibility import compile_filters
from nozama.scheduler.rank import (
    INSTANCE_ID,
    RUN_TASK_DEFAULT,
    SERVICE_DEFAULT,
    ZONE,
    Strategy,
    parse_strategies,
    ranked,
)
from nozama.scheduler.select import select
from nozama.scheduler.state import ClusterState, InstanceState

from support.scheduler import instance

GROUP = "service:web"


def choose(state: ClusterState, strategies: list[dict] | None,
           need: Requirements | None = None, group: str = GROUP, service: bool = True
           ) -> InstanceState | None:
    need = need or Requirements(1, 1)
    f = compile_filters(need, group, [])
    view = state.view(f.signature, f.admits)
    return select(ranked(state, view, parse_strategies(strategies, service=service), group,
                         need), f.feasible)


def spread(field: str) -> dict:
    return {"type": "spread", "field": field}


def binpack(field: str) -> dict:
    return {"type": "binpack", "field": field}


# --- parsing ------------------------------------------------------------------------

def test_defaults_follow_ecs():
    assert parse_strategies(None, service=True) == SERVICE_DEFAULT
    assert SERVICE_DEFAULT == (Strategy("spread", ZONE), Strategy("spread", INSTANCE_ID))
    assert parse_strategies([], service=False) == RUN_TASK_DEFAULT == (Strategy("random"),)


def test_parsing_normalizes_fields():
    assert parse_strategies([spread("host"), binpack("MEMORY"), {"type": "random"},
                             binpack("cpu")], service=True) == \
        (Strategy("spread", INSTANCE_ID), Strategy("binpack", "memory"), Strategy("random"))
    assert Strategy("spread", "attribute:rack").attribute == "rack"
    assert Strategy("spread", INSTANCE_ID).attribute is None


@pytest.mark.parametrize("strategies", [
    [{"type": "pack", "field": "cpu"}],
    [binpack("disk")],
    [spread("zone")],
    [spread("attribute:")],
    [{"type": "spread"}],
    [{"type": "random"}] * 6,
])
def test_bad_strategies_are_invalid_parameters(strategies):
    with pytest.raises(errors.ecs.InvalidParameterException):
        parse_strategies(strategies, service=True)


# --- each ranker ----------------------------------------------------------------------

def test_spread_instance_picks_the_instance_with_fewest_tasks_of_the_group():
    state = ClusterState([instance(0, groups={GROUP: 2}), instance(1, groups={GROUP: 1}),
                          instance(2, groups={GROUP: 1, "service:other": 5})], seed=1)
    assert choose(state, [spread("instanceId")]).arn in ("arn:ci/1", "arn:ci/2")
    state.add_instance(instance(3, groups={"service:other": 9}))
    assert choose(state, [spread("host")]).arn == "arn:ci/3"  # other groups don't count


def test_spread_zone_picks_the_zone_with_fewest_tasks_of_the_group():
    state = ClusterState([instance(0, groups={GROUP: 1}), instance(1, groups={GROUP: 1}),
                          instance(2), instance(5, groups={GROUP: 1})], seed=1)
    # a: 1 task, b: 1, c: 1 + 0 -> tie; add one to c and c loses
    state.apply("arn:ci/2", GROUP, Requirements(1, 1))
    for seed in range(10):
        state.rng.seed(seed)
        assert choose(state, [spread(ZONE)]).attributes["ecs.availability-zone"] != "us-east-1c"


def test_spread_attribute_puts_instances_without_it_last():
    state = ClusterState([instance(0, attributes={"rack": "r1"}, groups={GROUP: 3}), instance(1)], seed=1)
    assert choose(state, [spread("attribute:rack")]).arn == "arn:ci/0"


def test_spread_zone_skips_a_zone_that_has_no_room():
    state = ClusterState([instance(0, groups={GROUP: 5}), instance(1, groups={GROUP: 5}),
                          instance(2, cpu=0)], seed=1)
    assert choose(state, [spread(ZONE)], Requirements(10, 10)).arn in ("arn:ci/0", "arn:ci/1")


def test_binpack_takes_the_least_remaining_that_still_fits():
    state = ClusterState([instance(0, memory=1000), instance(1, memory=300),
                          instance(2, memory=200), instance(3, memory=5000)], seed=1)
    assert choose(state, [binpack("memory")], Requirements(1, 250)).arn == "arn:ci/1"
    assert choose(state, [binpack("memory")], Requirements(1, 150)).arn == "arn:ci/2"
    assert choose(state, [binpack("cpu")], Requirements(2000, 1)) is None


def test_binpack_skips_instances_short_of_the_other_resource():
    # Most memory-tight instances have no CPU left: the block index steps over them.
    insts = [instance(n, cpu=0, memory=100 + n) for n in range(200)]
    insts.append(instance(500, cpu=64, memory=5000))
    insts.append(instance(501, cpu=64, memory=4000))
    state = ClusterState(insts, seed=1)
    assert choose(state, [binpack("memory")], Requirements(32, 50)).arn == "arn:ci/501"


def test_later_strategies_break_ties():
    state = ClusterState([instance(0, memory=900, groups={GROUP: 1}), instance(1, memory=800),
                          instance(3, memory=700, groups={GROUP: 1})], seed=1)
    # zone a holds instances 0 and 3 (2 tasks), b holds 1 (0 tasks): b wins outright.
    assert choose(state, [spread(ZONE), binpack("memory")]).arn == "arn:ci/1"
    state.apply("arn:ci/1", GROUP, Requirements(1, 1))
    state.apply("arn:ci/1", GROUP, Requirements(1, 1))
    # now tied 2-2: binpack picks the least memory across both zones
    assert choose(state, [spread(ZONE), binpack("memory")]).arn == "arn:ci/3"
    assert choose(state, [binpack("memory"), spread("instanceId")]).arn == "arn:ci/3"


def test_random_reaches_every_instance_and_ties_are_random():
    state = ClusterState([instance(n) for n in range(6)], seed=1)
    picked = Counter(choose(state, [{"type": "random"}], service=False).arn for _ in range(600))
    assert len(picked) == 6 and min(picked.values()) > 60
    tied = Counter(choose(state, [spread("instanceId")]).arn for _ in range(600))
    assert len(tied) == 6


def test_ranking_is_reproducible_with_a_seed():
    def picks(seed):
        state = ClusterState([instance(n) for n in range(20)], seed=seed)
        return [choose(state, None, service=False).arn for _ in range(10)]
    assert picks(4) == picks(4)


# --- combinations against a brute force -------------------------------------------------

COMBINATIONS = [
    [spread(ZONE), spread("instanceId")],
    [spread(ZONE), binpack("memory")],
    [spread(ZONE)],
    [spread("instanceId")],
    [spread("instanceId"), binpack("cpu")],
    [spread("instanceId"), spread(ZONE)],
    [binpack("memory")],
    [binpack("memory"), spread("instanceId")],
    [binpack("cpu"), spread(ZONE), binpack("memory")],
    [spread("attribute:rack"), spread("instanceId")],
    [spread("attribute:rack"), spread(ZONE), binpack("memory")],
    [spread(ZONE), {"type": "random"}],
    [binpack("memory"), {"type": "random"}, spread(ZONE)],
]


def brute_force_key(state: ClusterState, strategies, inst: InstanceState) -> tuple:
    key = []
    for s in strategies:
        if s.type == "random":
            break
        if s.type == "binpack":
            key.append(inst.remaining(s.field))
        elif s.attribute is None:
            key.append(inst.task_groups.get(GROUP, 0))
        else:
            value = inst.attributes.get(s.attribute)
            counts = Counter()
            for other in state.instances.values():
                counts[other.attributes.get(s.attribute)] += other.task_groups.get(GROUP, 0)
            key.append((1, 0) if value is None else (0, counts[value]))
    return tuple(key)


@pytest.mark.parametrize("strategies", COMBINATIONS, ids=lambda c: "+".join(
    f"{s['type']}:{s.get('field', '')}" for s in c))
def test_choice_is_the_lexicographic_best_among_feasible_instances(strategies):
    rng = random.Random(COMBINATIONS.index(strategies))
    parsed = parse_strategies(strategies, service=True)
    for trial in range(40):
        insts = []
        for n in range(rng.randrange(1, 25)):
            attributes = {"rack": rng.choice(["r1", "r2"])} if rng.random() < 0.7 else {}
            insts.append(instance(n, cpu=rng.choice([0, 64, 128, 256]),
                                  memory=rng.choice([64, 128, 256, 512]),
                                  groups={GROUP: rng.randrange(3)} if rng.random() < 0.5 else {},
                                  attributes=attributes))
        state = ClusterState(insts, seed=trial)
        # Exercise incremental indexes too: place a few tasks before checking.
        for _ in range(rng.randrange(4)):
            chosen = choose(state, strategies, Requirements(16, 16))
            if chosen:
                state.apply(chosen.arn, GROUP, Requirements(16, 16))
        need = Requirements(rng.choice([32, 64, 128]), rng.choice([64, 128, 256]))
        chosen = choose(state, strategies, need)
        feasible = [i for i in state.instances.values()
                    if i.remaining_cpu >= need.cpu and i.remaining_memory >= need.memory]
        if not feasible:
            assert chosen is None
            continue
        best = min(brute_force_key(state, parsed, i) for i in feasible)
        assert chosen is not None and chosen in feasible
        assert brute_force_key(state, parsed, chosen) == best


def test_every_instance_is_reachable_when_all_but_one_are_full():
    """The lazy stream never loses a candidate: with one instance left, it is found
    whatever the strategies."""
    for strategies, position in itertools.product(COMBINATIONS, (0, 17, 39)):
        insts = [instance(n, cpu=0 if n != position else 512) for n in range(40)]
        state = ClusterState(insts, seed=position)
        assert choose(state, strategies, Requirements(100, 100)).arn == f"arn:ci/{position}"
