"""Unit tests for the scheduler's cluster state and its incremental indexes."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from nozama.model.resources import Requirements
from nozama.scheduler.state import Bag, ClusterState, InstanceState, ResourceIndex

from support.scheduler import instance

def test_apply_reserves_and_counts_release_gives_back():
    state = ClusterState([instance(0)])
    need = Requirements(cpu=256, memory=512, ports=[80], ports_udp=[53])
    inst = state.apply("arn:ci/0", "service:web", need)
    assert (inst.remaining_cpu, inst.remaining_memory) == (768, 1536)
    assert inst.used_ports == {80} and inst.used_ports_udp == {53}
    assert inst.running_tasks_count == 1 and inst.task_groups == {"service:web": 1}
    assert inst.facts().task_groups == frozenset({"service:web"})
    assert inst.facts().running_tasks_count == 1

    state.release("arn:ci/0", "service:web", need)
    assert (inst.remaining_cpu, inst.remaining_memory) == (1024, 2048)
    assert not inst.used_ports and not inst.used_ports_udp
    assert inst.running_tasks_count == 0 and not inst.task_groups
    assert inst.facts().task_groups == frozenset()


def test_release_of_a_task_that_is_not_there_is_an_error():
    state = ClusterState([instance(0)])
    with pytest.raises(ValueError):
        state.release("arn:ci/0", "service:web", Requirements(1, 1))


def test_group_counts_per_attribute_value_follow_placements():
    state = ClusterState([instance(n) for n in range(6)])
    counts = state.group_counts("ecs.availability-zone", "service:web")
    assert counts == Counter()
    state.apply("arn:ci/0", "service:web", Requirements(1, 1))
    state.apply("arn:ci/3", "service:web", Requirements(1, 1))
    state.apply("arn:ci/1", "service:web", Requirements(1, 1))
    state.apply("arn:ci/1", "service:db", Requirements(1, 1))
    assert counts == {"us-east-1a": 2, "us-east-1b": 1}
    state.release("arn:ci/3", "service:web", Requirements(1, 1))
    assert +counts == {"us-east-1a": 1, "us-east-1b": 1}
    assert +state.group_counts("ecs.availability-zone", "service:db") == {"us-east-1b": 1}


def test_group_counts_include_tasks_known_before_the_index_and_instances_added_later():
    early = instance(0, task_groups=Counter({"service:web": 2}))
    state = ClusterState([early])
    assert state.group_counts("ecs.availability-zone", "service:web") == {"us-east-1a": 2}
    state.add_instance(instance(1, task_groups=Counter({"service:web": 1})))
    assert state.group_counts("ecs.availability-zone", "service:web") == \
        {"us-east-1a": 2, "us-east-1b": 1}
    state.remove_instance("arn:ci/0")
    assert +state.group_counts("ecs.availability-zone", "service:web") == {"us-east-1b": 1}


def test_draining_takes_an_instance_out_of_new_views():
    state = ClusterState([instance(0), instance(1)])
    admits = lambda i: i.status == "ACTIVE"  # noqa: E731
    assert len(state.view("active", admits).members) == 2
    state.update_instance("arn:ci/1", status="DRAINING")
    assert [i.arn for i in state.view("active", admits).members] == ["arn:ci/0"]


def test_new_attributes_move_an_instance_between_zone_counts():
    state = ClusterState([instance(0)])
    state.apply("arn:ci/0", "service:web", Requirements(1, 1))
    assert state.group_counts("ecs.availability-zone", "service:web") == {"us-east-1a": 1}
    state.update_instance("arn:ci/0", attributes={"ecs.availability-zone": "us-east-1c"})
    assert state.group_counts("ecs.availability-zone", "service:web") == {"us-east-1c": 1}


def test_indexes_stay_consistent_through_many_placements_and_releases():
    """Every incremental index equals one rebuilt from scratch after random changes."""
    rng = random.Random(3)
    state = ClusterState([instance(n, cpu=4096, memory=8192) for n in range(40)], seed=3)
    view = state.view("all", lambda i: True)
    groups = ["service:a", "service:b", "family:c"]
    for group in groups:  # build every kind of index before the changes
        view.levels(group, None)
        view.levels(group, "ecs.availability-zone")
        state.group_counts("ecs.availability-zone", group)
    view.sorted_by("memory", None)
    view.sorted_by("cpu", "ecs.availability-zone")
    live: list[tuple[str, str, Requirements]] = []
    for _ in range(600):
        if live and rng.random() < 0.35:
            state.release(*live.pop(rng.randrange(len(live))))
        else:
            task = (f"arn:ci/{rng.randrange(40)}", rng.choice(groups),
                    Requirements(rng.choice([16, 32, 48]), rng.choice([32, 64, 96])))
            state.apply(*task)
            live.append(task)

    fresh = ClusterState(seed=3)
    for inst in state.instances.values():
        copy = InstanceState(inst.arn, inst.remaining_cpu, inst.remaining_memory,
                             attributes=inst.attributes, task_groups=Counter(inst.task_groups))
        fresh.add_instance(copy)
    rebuilt = fresh.view("all", lambda i: True)
    for group in groups:
        for partition in (None, "ecs.availability-zone"):
            assert _levels(view.levels(group, partition)) == \
                _levels(rebuilt.levels(group, partition))
        assert +state.group_counts("ecs.availability-zone", group) == \
            +fresh.group_counts("ecs.availability-zone", group)
    for resource, partition in (("memory", None), ("cpu", "ecs.availability-zone")):
        for value, index in view.sorted_by(resource, partition).items():
            _check_resource_index(index, resource)
            assert _entries(index) == _entries(rebuilt.sorted_by(resource, partition)[value])


def _levels(levels: dict) -> dict:
    return {value: {count: sorted(i.arn for i in bag) for count, bag in by_count.items()}
            for value, by_count in levels.items()}


def _entries(index: ResourceIndex) -> list[tuple[int, str]]:
    return [(e[0], e[2].arn) for block in index.blocks for e in block]


def _check_resource_index(index: ResourceIndex, resource: str) -> None:
    entries = [e for block in index.blocks for e in block]
    assert [e[:2] for e in entries] == sorted(e[:2] for e in entries)
    assert all(e[0] == e[2].remaining(resource) for e in entries)
    for block, last, most in zip(index.blocks, index.lasts, index.others):
        assert block and last == block[-1][:2]
        assert most == max(index.other(e[2]) for e in block)


def test_resource_index_runs_match_a_brute_force_scan():
    rng = random.Random(5)
    insts = [InstanceState(f"arn:ci/{n}", rng.randrange(0, 300), rng.randrange(0, 40))
             for n in range(500)]
    for n, inst in enumerate(insts):
        inst.order = n
    index = ResourceIndex("cpu", insts)
    assert len(index.blocks) > 5  # several blocks, so block skipping is exercised
    for need, need_other in [(0, 0), (100, 10), (250, 35), (299, 0), (301, 0), (0, 39)]:
        got = [(value, sorted(e[2].arn for block, lo, hi in slices for e in block[lo:hi]))
               for value, slices in index.runs(need, need_other)]
        values = [v for v, _ in got]
        assert values == sorted(set(values))
        fitting = [i for i in insts if i.remaining_cpu >= need and i.remaining_memory >= need_other]
        # Every instance that fits is in its value's run; runs may also hold
        # instances short of the other resource (feasibility rejects those).
        for inst in fitting:
            assert any(v == inst.remaining_cpu and inst.arn in arns for v, arns in got)
        assert all(v >= need for v in values)


def test_resource_index_splits_blocks_and_drops_empty_ones():
    insts = [InstanceState(f"arn:ci/{n}", 10, 10) for n in range(3)]
    for n, inst in enumerate(insts):
        inst.order = n
    index = ResourceIndex("memory", insts[:1])
    for n in range(200):
        extra = InstanceState(f"arn:x/{n}", n, n)
        extra.order = 100 + n
        index.add(extra)
    assert len(index.blocks) > 1
    _check_resource_index(index, "memory")
    index.remove(insts[0])
    _check_resource_index(index, "memory")


def test_bag_adds_removes_and_contains():
    bag = Bag(["a", "b", "c"])
    bag.remove("a")
    assert sorted(bag) == ["b", "c"] and "a" not in bag and len(bag) == 2
    bag.remove("c")
    bag.add("d")
    assert sorted(bag) == ["b", "d"]


def test_instance_from_a_describe_container_instances_entry():
    doc = {
        "containerInstanceArn": "arn:ci/7", "ec2InstanceId": "mi-0123456789abcdef0",
        "status": "ACTIVE", "agentConnected": False, "runningTasksCount": 2,
        "registeredAt": 1700000000.0, "versionInfo": {"agentVersion": "1.80.0"},
        "remainingResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 512},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "80"]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1b"},
                       {"name": "gpu"}],
    }
    inst = InstanceState.from_description(doc, {"service:web": 2})
    assert (inst.remaining_cpu, inst.remaining_memory) == (512, 1024)
    assert inst.used_ports == {22, 80} and inst.launch_type == "EXTERNAL"
    assert inst.attributes == {"ecs.availability-zone": "us-east-1b", "gpu": None}
    assert inst.registered_at == datetime.fromtimestamp(1700000000, UTC)
    assert inst.agent_version == "1.80.0" and not inst.agent_connected
    assert inst.task_groups == {"service:web": 2} and inst.running_tasks_count == 2
    assert {r["name"]: r for r in inst.remaining_resources()}["PORTS"]["stringSetValue"] == \
        ["22", "80"]


def test_group_indexes_of_old_groups_are_dropped(monkeypatch):
    from nozama.scheduler import state as state_module
    monkeypatch.setattr(state_module, "_MAX_LEVELS", 3)
    state = ClusterState([instance(n) for n in range(3)])
    view = state.view("all", lambda i: True)
    first = view.levels("service:0", None)
    for n in range(1, 5):
        view.levels(f"service:{n}", None)
    assert view.levels("service:0", None) is not first  # rebuilt, not kept
    state.apply("arn:ci/0", "service:1", Requirements(1, 1))  # dropped index: no upkeep
    assert view.levels("service:4", None)[None][0]
