"""Unit tests for the scheduler pipeline end to end: place(state, request)."""

from __future__ import annotations

import math
import random
from collections import Counter
from functools import partial

import pytest

from nozama.kernel import errors
from nozama.model.resources import Requirements
from nozama.scheduler.placement import PlacementRequest, Placer, place, place_on
from nozama.scheduler.state import ClusterState, InstanceState

from support import scheduler
from support.scheduler import ZONES

ZONE_SPREAD = {"type": "spread", "field": "attribute:ecs.availability-zone"}


# Roomier instances than the builder's default: 4 vCPU, 8 GiB.
instance = partial(scheduler.instance, cpu=4096, memory=8192)


def cluster(n: int, seed: int = 1, **fields) -> ClusterState:
    return ClusterState([instance(i, **fields) for i in range(n)], seed=seed)


def request(count: int, group: str = "service:web", need: Requirements | None = None,
            **fields) -> PlacementRequest:
    return PlacementRequest(count=count, requirements=need or Requirements(128, 256),
                            group=group, **fields)


def zones_of(state: ClusterState, arns: list[str]) -> Counter:
    return Counter(state.instances[a].attributes["ecs.availability-zone"] for a in arns)


# --- ECS defaults ---------------------------------------------------------------------

@pytest.mark.parametrize("count", [1, 2, 3, 7, 10, 31, 100])
def test_service_default_balances_zones_then_instances(count):
    state = cluster(12)
    result = place(state, request(count))
    assert len(result.instance_arns) == count and result.failures == []
    per_zone = [zones_of(state, result.instance_arns).get(z, 0) for z in ZONES]
    assert max(per_zone) - min(per_zone) <= 1
    per_instance = Counter(result.instance_arns)
    assert max(per_instance.values()) - min(per_instance.get(i.arn, 0)
                                            for i in state.instances.values()) <= 1


def test_zone_balance_holds_with_unequal_zones():
    # 6 instances in a, 2 in b, 1 in c: counts per zone still differ by at most 1.
    insts = [instance(i, zone="us-east-1a") for i in range(6)] + \
        [instance(6 + i, zone="us-east-1b") for i in range(2)] + [instance(8, zone="us-east-1c")]
    state = ClusterState(insts, seed=2)
    for count in (5, 11, 29):
        place(state, request(count, group=f"service:s{count}"))
        per_zone = state.group_counts("ecs.availability-zone", f"service:s{count}")
        assert max(per_zone[z] for z in ZONES) - min(per_zone[z] for z in ZONES) <= 1


def test_zone_balance_counts_the_tasks_already_running():
    state = cluster(6)
    state.apply("arn:ci/0", "service:web", Requirements(1, 1))
    state.apply("arn:ci/3", "service:web", Requirements(1, 1))  # us-east-1a has 2
    result = place(state, request(4))
    assert zones_of(state, result.instance_arns) == {"us-east-1b": 2, "us-east-1c": 2}


def test_run_task_default_is_random():
    seen = set()
    for seed in range(20):
        state = cluster(10, seed=seed)
        seen.update(place(state, request(1, group="family:batch")).instance_arns)
    assert len(seen) >= 6  # not one fixed instance, as first-fit would give


def test_request_can_say_it_is_a_service_whatever_its_group():
    state = cluster(3)
    result = place(state, request(3, group="custom-group", service=True))
    assert sorted(result.instance_arns) == ["arn:ci/0", "arn:ci/1", "arn:ci/2"]


# --- constraints ------------------------------------------------------------------------

def test_distinct_instance_count_10_lands_on_10_instances():
    state = cluster(10)
    result = place(state, request(10, constraints=[{"type": "distinctInstance"}],
                                  strategies=[{"type": "binpack", "field": "memory"}]))
    assert len(set(result.instance_arns)) == 10 and result.failures == []


def test_distinct_instance_never_doubles_up_and_reports_why():
    state = cluster(4)
    result = place(state, request(6, constraints=[{"type": "distinctInstance"}]))
    assert len(result.instance_arns) == 4 == len(set(result.instance_arns))
    assert result.failures == [{"arn": f"arn:ci/{i}", "reason": "DistinctInstance"}
                               for i in range(4)]
    # other groups are not affected by it
    assert len(place(state, request(4, group="service:other",
                                    constraints=[{"type": "distinctInstance"}])).instance_arns) == 4


def test_member_of_with_binpack_uses_only_matching_instances():
    insts = [instance(i, attributes={"ecs.instance-type": "t3.large" if i % 2 else "m5.large"})
             for i in range(8)]
    state = ClusterState(insts, seed=1)
    result = place(state, request(
        20, need=Requirements(512, 512),
        constraints=[{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}],
        strategies=[{"type": "binpack", "field": "cpu"}]))
    assert len(result.instance_arns) == 20
    used = Counter(result.instance_arns)
    assert all(state.instances[a].attributes["ecs.instance-type"] == "t3.large" for a in used)
    assert len(used) == 3  # 8 tasks of 512 CPU fill a 4096-CPU instance: ceil(20 / 8)


def test_member_of_task_group_follows_another_service():
    state = cluster(6)
    for arn in ("arn:ci/1", "arn:ci/4"):
        state.apply(arn, "service:db", Requirements(1, 1))
    result = place(state, request(
        6, constraints=[{"type": "memberOf", "expression": "task:group == service:db"}],
        strategies=[ZONE_SPREAD, {"type": "spread", "field": "instanceId"}]))
    assert Counter(result.instance_arns) == {"arn:ci/1": 3, "arn:ci/4": 3}


def test_member_of_running_tasks_count_sees_this_requests_own_tasks():
    state = cluster(2)
    result = place(state, request(
        5, constraints=[{"type": "memberOf", "expression": "runningTasksCount < 2"}],
        strategies=[{"type": "binpack", "field": "memory"}]))
    assert Counter(result.instance_arns) == {"arn:ci/0": 2, "arn:ci/1": 2}
    assert {f["reason"] for f in result.failures} == {"MemberOf"}


def test_constraints_are_parsed_once_per_request_and_invalid_ones_rejected():
    with pytest.raises(errors.ecs.InvalidParameterException):
        place(cluster(1), request(1, constraints=[{"type": "memberOf",
                                                   "expression": "attribute:a ~~ b"}]))
    with pytest.raises(errors.ecs.InvalidParameterException):
        place(cluster(1), request(1, strategies=[{"type": "binpack", "field": "gpu"}]))
    with pytest.raises(errors.ecs.InvalidParameterException):
        Placer(cluster(1), request(1, group=""))


# --- strategies -------------------------------------------------------------------------

def test_binpack_packs_onto_the_fewest_instances():
    state = cluster(10, cpu=1024, memory=2048)
    need = Requirements(100, 300)  # 6 fit by memory per instance
    result = place(state, request(25, need=need,
                                  strategies=[{"type": "binpack", "field": "memory"}]))
    assert len(result.instance_arns) == 25
    assert len(set(result.instance_arns)) == math.ceil(25 / 6)


def test_zone_spread_then_binpack_packs_within_each_zone():
    state = cluster(9, cpu=1024, memory=2048)
    result = place(state, request(12, need=Requirements(100, 300),
                                  strategies=[ZONE_SPREAD, {"type": "binpack",
                                                            "field": "memory"}]))
    assert zones_of(state, result.instance_arns) == {z: 4 for z in ZONES}
    assert len(set(result.instance_arns)) == 3  # one instance per zone holds its 4


def test_spread_is_best_effort_when_the_emptiest_zone_is_full():
    # us-east-1c has the fewest tasks but no room: the tasks go to a and b, unplaced none.
    state = ClusterState([instance(0), instance(1), instance(2, cpu=0)], seed=1)
    result = place(state, request(4, need=Requirements(128, 1)))
    assert zones_of(state, result.instance_arns) == {"us-east-1a": 2, "us-east-1b": 2}
    assert result.failures == []


def test_explicit_empty_strategy_list_means_the_default():
    state = cluster(3)
    result = place(state, request(3, strategies=[]))
    assert sorted(result.instance_arns) == ["arn:ci/0", "arn:ci/1", "arn:ci/2"]


# --- failures and state -------------------------------------------------------------------

def test_failures_give_each_instance_its_first_reason_like_ecs():
    state = ClusterState([
        instance(0, status="DRAINING"),
        instance(1, agent_connected=False),
        instance(2, memory=100),
        instance(3, cpu=10),
        instance(4, used_ports={80}),
        instance(5, launch_type="EXTERNAL"),
    ], seed=1)
    result = place(state, request(1, need=Requirements(128, 256, ports=[80])))
    assert result.instance_arns == []
    assert result.failures == [
        {"arn": "arn:ci/0", "reason": "DRAINING"},
        {"arn": "arn:ci/1", "reason": "AGENT"},
        {"arn": "arn:ci/2", "reason": "RESOURCE:MEMORY"},
        {"arn": "arn:ci/3", "reason": "RESOURCE:CPU"},
        {"arn": "arn:ci/4", "reason": "RESOURCE:PORTS"},
        {"arn": "arn:ci/5", "reason": "ATTRIBUTE"},
    ]


def test_partial_placement_returns_what_was_placed_and_why_the_rest_was_not():
    state = cluster(2, cpu=300)
    result = place(state, request(5, need=Requirements(128, 1)))
    assert len(result.instance_arns) == 4
    assert result.failures == [{"arn": "arn:ci/0", "reason": "RESOURCE:CPU"},
                               {"arn": "arn:ci/1", "reason": "RESOURCE:CPU"}]


def test_static_host_ports_allow_one_task_per_instance():
    state = cluster(3)
    result = place(state, request(4, need=Requirements(1, 1, ports=[8080])))
    assert len(set(result.instance_arns)) == 3
    assert {f["reason"] for f in result.failures} == {"RESOURCE:PORTS"}


def test_task_definition_requirements_and_external_instances():
    definition = {"compatibilities": ["EXTERNAL", "EC2"],
                  "requiresAttributes": [{"name": "ecs.capability.execution-role-awslogs"}]}
    state = ClusterState([
        instance(0, attributes={"ecs.capability.execution-role-awslogs": None}),
        instance(1),
        instance(2, launch_type="EXTERNAL",
                 attributes={"ecs.capability.execution-role-awslogs": None}),
    ], seed=1)
    result = place(state, request(2, group="family:x", task_definition=definition))
    assert result.instance_arns == ["arn:ci/0", "arn:ci/0"]
    result = place(state, request(1, group="family:x", task_definition=definition,
                                  launch_type="EXTERNAL"))
    assert result.instance_arns == ["arn:ci/2"]


def test_released_tasks_make_room_again():
    state = cluster(1, cpu=256)
    need = Requirements(128, 1)
    assert len(place(state, request(3, need=need)).instance_arns) == 2
    state.release("arn:ci/0", "service:web", need)
    assert place(state, request(1, need=need)).instance_arns == ["arn:ci/0"]


def test_state_changes_between_requests_are_seen():
    state = cluster(3)
    place(state, request(3))
    state.update_instance("arn:ci/0", status="DRAINING")
    result = place(state, request(6))
    assert "arn:ci/0" not in result.instance_arns and len(result.instance_arns) == 6


def test_empty_cluster_places_nothing_and_has_no_failures_to_report():
    result = place(ClusterState(), request(2))
    assert result.instance_arns == [] and result.failures == []


def test_many_requests_keep_every_placement_valid():
    """Capacity, ports and distinctInstance hold over a long mixed run."""
    state = cluster(30, seed=5, cpu=2048, memory=4096)
    kinds = [
        {"constraints": [{"type": "distinctInstance"}]},
        {"strategies": [{"type": "binpack", "field": "memory"}]},
        {"strategies": [ZONE_SPREAD, {"type": "binpack", "field": "cpu"}]},
        {},
    ]
    placed = Counter()
    for n in range(60):
        kind = kinds[n % len(kinds)]
        group = f"service:s{n % 12}"
        result = place(state, request(7, group=group, need=Requirements(64, 96), **kind))
        placed[group] += len(result.instance_arns)
    for inst in state.instances.values():
        assert inst.remaining_cpu >= 0 and inst.remaining_memory >= 0
        assert inst.running_tasks_count == sum(inst.task_groups.values())
    for g in (f"service:s{i}" for i in range(0, 12, 4)):  # the distinctInstance groups
        assert max(i.task_groups.get(g, 0) for i in state.instances.values()) <= 1
    assert sum(placed.values()) == sum(i.running_tasks_count for i in state.instances.values())


def _best_key(state: ClusterState, placer: Placer, inst: InstanceState) -> tuple:
    key = []
    for s in placer.strategies:
        if s.type == "random":
            break
        if s.type == "binpack":
            key.append(inst.remaining(s.field))
        elif s.attribute is None:
            key.append(inst.task_groups.get(placer.group, 0))
        else:
            counts = Counter()
            for other in state.instances.values():
                counts[other.attributes.get(s.attribute)] += other.task_groups.get(placer.group, 0)
            value = inst.attributes.get(s.attribute)
            key.append((1, 0) if value is None else (0, counts[value]))
    return tuple(key)


@pytest.mark.parametrize("strategies", [
    None,
    [{"type": "spread", "field": "instanceId"}],
    [{"type": "binpack", "field": "memory"}],
    [ZONE_SPREAD, {"type": "binpack", "field": "cpu"}],
])
def test_every_decision_is_the_best_feasible_one_while_the_cluster_fills(strategies):
    """What a request remembers (rejected instances, exhausted tie groups) never hides
    a feasible instance that ranks better than the one chosen."""
    rng = random.Random(9)
    insts = [instance(i, cpu=rng.choice([256, 512, 1024]), memory=rng.choice([512, 1024]))
             for i in range(24)]
    state = ClusterState(insts, seed=9)
    for n in range(12):
        group = f"service:s{n % 3}"
        need = Requirements(rng.choice([32, 64, 128]), rng.choice([64, 128]))
        constraints = [{"type": "distinctInstance"}] if n % 4 == 3 else []
        placer = Placer(state, request(60, group=group, need=need, strategies=strategies,
                                       constraints=constraints))
        for _ in range(60):
            feasible = [i for i in state.instances.values()
                        if placer.feasibility.first_failure(i) is None]
            best = min((_best_key(state, placer, i) for i in feasible), default=None)
            arn = placer.next()
            if arn is None:
                assert best is None
                break
            chosen = state.instances[arn]
            state.release(arn, group, need)  # rank it as it was before the placement
            assert _best_key(state, placer, chosen) == best
            state.apply(arn, group, need)


# --- StartTask: named instances --------------------------------------------------------

def test_place_on_checks_status_agent_and_resources_of_each_named_instance():
    state = ClusterState([instance(0), instance(1, status="DRAINING"),
                          instance(2, agent_connected=False), instance(3, cpu=64)], seed=1)
    result = place_on(state, ["arn:ci/0", "arn:ci/1", "arn:ci/2", "arn:ci/3", "arn:ci/9"],
                      Requirements(128, 256), "family:web")
    assert result.instance_arns == ["arn:ci/0"]
    assert result.failures == [{"arn": "arn:ci/1", "reason": "DRAINING"},
                               {"arn": "arn:ci/2", "reason": "AGENT"},
                               {"arn": "arn:ci/3", "reason": "RESOURCE:CPU"},
                               {"arn": "arn:ci/9", "reason": "MISSING"}]
    assert state.instances["arn:ci/0"].task_groups["family:web"] == 1


def test_place_on_the_same_instance_twice_sees_what_the_first_task_took():
    state = ClusterState([instance(0, cpu=200)], seed=1)
    result = place_on(state, ["arn:ci/0", "arn:ci/0"], Requirements(128, 256), "family:web")
    assert result.instance_arns == ["arn:ci/0"]
    assert result.failures == [{"arn": "arn:ci/0", "reason": "RESOURCE:CPU"}]


def test_a_service_places_nothing_on_instances_its_load_balancer_cannot_reach():
    state = cluster(6)
    unreachable = frozenset(arn for arn, inst in state.instances.items()
                            if inst.attributes["ecs.availability-zone"] == ZONES[1])
    result = place(state, request(6, strategies=[ZONE_SPREAD], avoid=unreachable))
    assert len(result.instance_arns) == 6 and not unreachable & set(result.instance_arns)
    assert set(zones_of(state, result.instance_arns)) == {ZONES[0], ZONES[2]}
    # Nothing else left: the failure names the instances' connectivity.
    only = cluster(2)
    result = place(only, request(1, avoid=frozenset(only.instances)))
    assert result.instance_arns == [] and {f["reason"] for f in result.failures} == {"AGENT"}
