"""The cluster as the scheduler sees it: container instances, what they have left,
and which task groups run where.

The caller loads a `ClusterState` from the store, the pipeline decides on it,
and every decision is applied to it at once (`apply`), so the next task of the
same request sees the resources, ports and group counts the previous one took.
Nothing here touches the database.

Placement must not rescan the cluster per task, so the state keeps indexes up
to date as tasks are applied and released:

- per spread attribute (e.g. `ecs.availability-zone`), the live tasks of each
  group per attribute value (`group_counts`);
- per *view* (the instances that pass a request's static filters: status,
  agent, launch type, required attributes, attribute-only memberOf), the
  instances bucketed by attribute value, by how many tasks of a group they
  run (`levels`) and sorted by remaining CPU or memory (`sorted_by`, a
  `ResourceIndex`).

Views and their indexes are built the first time a request needs them and are
dropped when an instance's static facts change (registration, status, agent
connection, attributes), which is rare next to placements.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter

from nozama.model.cluster_query import InstanceFacts
from nozama.model.resources import Requirements

__all__ = ["ACTIVE", "DRAINING", "INACTIVE", "Bag", "CandidateView", "ClusterState",
           "InstanceState", "ResourceIndex"]

ACTIVE, DRAINING, INACTIVE = "ACTIVE", "DRAINING", "INACTIVE"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Views kept at once; each service with its own attribute-only memberOf has one.
_MAX_VIEWS = 64
# Group-count indexes per view (one per group and spread partition in use); the
# least recently used goes first, so groups long gone don't cost memory or upkeep.
_MAX_LEVELS = 512
_STRIDE = 8  # blocks a binpack scan skips at once when none of them can fit the task


@dataclass(slots=True, eq=False)
class InstanceState:
    """One container instance; hashed by identity so indexes can hold it."""

    arn: str
    remaining_cpu: int = 0
    remaining_memory: int = 0
    status: str = ACTIVE
    agent_connected: bool = True
    attributes: dict[str, str | None] = field(default_factory=dict)
    ec2_instance_id: str | None = None
    registered_at: datetime = _EPOCH
    agent_version: str | None = None
    launch_type: str = "EC2"  # EXTERNAL for ECS Anywhere (mi-...) instances
    used_ports: set[int] = field(default_factory=set)
    used_ports_udp: set[int] = field(default_factory=set)
    running_tasks_count: int = 0
    # group ("service:web", "family:x", ...) -> live tasks of it on this instance
    task_groups: Counter = field(default_factory=Counter)
    order: int = -1  # registration order in the ClusterState; set by add_instance
    _facts: InstanceFacts | None = None

    @classmethod
    def from_description(cls, doc: dict, task_groups: dict[str, int] | None = None
                         ) -> InstanceState:
        """From a DescribeContainerInstances entry (remainingResources already net of
        the live tasks, whose groups come separately)."""
        values = {r["name"]: r for r in doc.get("remainingResources", [])}
        attributes = {a["name"]: a.get("value") for a in doc.get("attributes", [])}
        registered = doc.get("registeredAt") or _EPOCH
        if isinstance(registered, (int, float)):
            registered = datetime.fromtimestamp(registered, UTC)
        ec2_id = doc.get("ec2InstanceId")
        return cls(
            arn=doc["containerInstanceArn"],
            remaining_cpu=values.get("CPU", {}).get("integerValue", 0),
            remaining_memory=values.get("MEMORY", {}).get("integerValue", 0),
            status=doc.get("status", ACTIVE),
            agent_connected=doc.get("agentConnected", True),
            attributes=attributes, ec2_instance_id=ec2_id, registered_at=registered,
            agent_version=doc.get("versionInfo", {}).get("agentVersion"),
            launch_type="EXTERNAL" if (ec2_id or "").startswith("mi-") else "EC2",
            used_ports={int(p) for p in values.get("PORTS", {}).get("stringSetValue", [])},
            used_ports_udp={int(p) for p in
                            values.get("PORTS_UDP", {}).get("stringSetValue", [])},
            running_tasks_count=doc.get("runningTasksCount", 0),
            task_groups=Counter(task_groups or {}))

    def remaining_resources(self) -> list[dict]:
        """remainingResources as ECS reports them (what `shortfall` reads)."""
        return [
            {"name": "CPU", "type": "INTEGER", "integerValue": self.remaining_cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": self.remaining_memory},
            {"name": "PORTS", "type": "STRINGSET",
             "stringSetValue": [str(p) for p in sorted(self.used_ports)]},
            {"name": "PORTS_UDP", "type": "STRINGSET",
             "stringSetValue": [str(p) for p in sorted(self.used_ports_udp)]},
        ]

    def forget_facts(self) -> None:
        """The instance changed: its cluster-query facts are read anew when next asked."""
        self._facts = None

    def facts(self) -> InstanceFacts:
        """What a cluster query sees; cached until the instance changes."""
        if self._facts is None:
            self._facts = InstanceFacts(
                attributes=self.attributes, ec2_instance_id=self.ec2_instance_id,
                registered_at=self.registered_at,
                running_tasks_count=self.running_tasks_count,
                agent_connected=self.agent_connected, agent_version=self.agent_version,
                task_groups=frozenset(g for g, n in self.task_groups.items() if n > 0))
        return self._facts

    def remaining(self, resource: str) -> int:
        return self.remaining_cpu if resource == "cpu" else self.remaining_memory

    def __repr__(self) -> str:
        return f"InstanceState({self.arn!r})"


class Bag:
    """A set with O(1) add, remove and uniform random pick: ties are broken at random."""

    __slots__ = ("_at", "items")

    def __init__(self, items: Iterable = ()):
        self.items: list = []
        self._at: dict = {}
        for item in items:
            self.add(item)

    def add(self, item) -> None:
        self._at[item] = len(self.items)
        self.items.append(item)

    def remove(self, item) -> None:
        at = self._at.pop(item)
        last = self.items.pop()
        if last is not item:
            self.items[at] = last
            self._at[last] = at

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item) -> bool:
        return item in self._at

    def __iter__(self):
        return iter(self.items)


Levels = dict[Hashable, dict[int, Bag]]  # partition value -> group tasks on it -> instances


class CandidateView:
    """The instances that pass one set of static filters, with ranking indexes over them."""

    def __init__(self, state: ClusterState, members: list[InstanceState]):
        self.state = state
        self.members = members  # registration order
        self.member_set = set(members)
        self.all = Bag(members)
        self._buckets: dict[str, dict[Hashable, Bag]] = {}
        # (group, partition attribute or None) -> Levels
        self._levels: OrderedDict[tuple[str, str | None], Levels] = OrderedDict()
        self._levels_of_group: dict[str, list[tuple[str | None, Levels]]] = {}
        # (resource, partition attribute or None) -> partition value -> ResourceIndex
        self._sorted: dict[tuple[str, str | None], dict[Hashable, ResourceIndex]] = {}

    @property
    def has_resource_indexes(self) -> bool:
        """Whether a ranking has sorted members by a resource (binpack): those indexes
        must follow an instance whose remaining CPU or memory changes."""
        return bool(self._sorted)

    def buckets(self, attribute: str) -> dict[Hashable, Bag]:
        """attribute value -> members with it; members without it are under None."""
        found = self._buckets.get(attribute)
        if found is None:
            found = {}
            for inst in self.members:
                found.setdefault(inst.attributes.get(attribute), Bag()).add(inst)
            self._buckets[attribute] = found
        return found

    def levels(self, group: str, partition: str | None) -> Levels:
        """partition value -> tasks of `group` on an instance -> members with that many."""
        key = (group, partition)
        found = self._levels.get(key)
        if found is not None:
            self._levels.move_to_end(key)
            return found
        found = {}
        for inst in self.members:
            value = _value(inst, partition)
            found.setdefault(value, {}).setdefault(inst.task_groups.get(group, 0),
                                                   Bag()).add(inst)
        self._levels[key] = found
        self._levels_of_group.setdefault(group, []).append((partition, found))
        if len(self._levels) > _MAX_LEVELS:
            (old_group, _), old = self._levels.popitem(last=False)
            kept = [(p, lv) for p, lv in self._levels_of_group[old_group] if lv is not old]
            if kept:
                self._levels_of_group[old_group] = kept
            else:
                del self._levels_of_group[old_group]
        return found

    def sorted_by(self, resource: str, partition: str | None) -> dict[Hashable, ResourceIndex]:
        key = (resource, partition)
        found = self._sorted.get(key)
        if found is None:
            members: dict[Hashable, list[InstanceState]] = {}
            for inst in self.members:
                members.setdefault(_value(inst, partition), []).append(inst)
            found = {value: ResourceIndex(resource, insts) for value, insts in members.items()}
            self._sorted[key] = found
        return found

    # Called by ClusterState around every change to a member's resources or groups.
    def unsort(self, inst: InstanceState) -> None:
        for (_, partition), by_value in self._sorted.items():
            by_value[_value(inst, partition)].remove(inst)

    def resort(self, inst: InstanceState) -> None:
        for (_, partition), by_value in self._sorted.items():
            by_value[_value(inst, partition)].add(inst)

    def regroup(self, inst: InstanceState, group: str, before: int, after: int) -> None:
        for partition, levels in self._levels_of_group.get(group, ()):
            by_count = levels[_value(inst, partition)]
            bag = by_count[before]
            bag.remove(inst)
            if not bag:
                del by_count[before]
            bag = by_count.get(after)
            if bag is None:
                bag = by_count[after] = Bag()
            bag.add(inst)


class ResourceIndex:
    """Instances sorted by remaining CPU or memory, for binpack.

    Entries are (remaining, order, instance), kept in blocks of about `BLOCK`
    (a sorted list of lists, as in sortedcontainers). Each block also knows the
    most of the *other* resource any of its instances has left, so binpack on
    memory skips whole blocks of instances whose CPU is used up, instead of
    stepping over each of them on every placement as the cluster fills.
    """

    BLOCK = 32
    __slots__ = ("amount", "blocks", "lasts", "other", "others", "resource")

    def __init__(self, resource: str, members: Iterable[InstanceState]):
        self.resource = resource
        self.amount = attrgetter("remaining_cpu" if resource == "cpu" else "remaining_memory")
        self.other = attrgetter("remaining_memory" if resource == "cpu" else "remaining_cpu")
        # orders are unique, so sorting never compares instances
        entries = sorted(((self.amount(i), i.order, i) for i in members),
                         key=lambda e: (e[0], e[1]))
        self.blocks = [entries[k:k + self.BLOCK] for k in range(0, len(entries), self.BLOCK)]
        self.lasts = [block[-1][:2] for block in self.blocks]
        self.others = [self._most_other(block) for block in self.blocks]

    def _most_other(self, block: list) -> int:
        other = self.other
        return max([other(e[2]) for e in block])

    def remove(self, inst: InstanceState) -> None:
        """Take out `inst`, before its remaining resources change."""
        key = (self.amount(inst), inst.order)
        b = bisect.bisect_left(self.lasts, key)
        block = self.blocks[b]
        del block[bisect.bisect_left(block, key)]
        if block:
            self.lasts[b] = block[-1][:2]
            if self.other(inst) >= self.others[b]:
                self.others[b] = self._most_other(block)
        else:
            del self.blocks[b], self.lasts[b], self.others[b]

    def add(self, inst: InstanceState) -> None:
        entry = (self.amount(inst), inst.order, inst)
        if not self.blocks:
            self.blocks.append([entry])
            self.lasts.append(entry[:2])
            self.others.append(self.other(inst))
            return
        b = min(bisect.bisect_left(self.lasts, entry[:2]), len(self.blocks) - 1)
        block = self.blocks[b]
        bisect.insort(block, entry)
        self.lasts[b] = block[-1][:2]
        self.others[b] = max(self.others[b], self.other(inst))
        if len(block) > 2 * self.BLOCK:
            half = block[self.BLOCK:]
            del block[self.BLOCK:]
            self.blocks.insert(b + 1, half)
            self.lasts[b:b + 1] = [block[-1][:2], half[-1][:2]]
            self.others[b:b + 1] = [self._most_other(block), self._most_other(half)]

    def runs(self, need: int, need_other: int) -> Iterator[tuple[int, list[tuple[list, int, int]]]]:
        """(remaining, slices of entries with it), least remaining >= need first, leaving
        out blocks (and leading entries) with less than `need_other` of the other resource."""
        blocks, others, other = self.blocks, self.others, self.other
        n = len(blocks)
        b = bisect.bisect_left(self.lasts, (need,))
        j = bisect.bisect_left(blocks[b], (need,)) if b < n else 0
        while b < n:
            if others[b] < need_other:
                # A full cluster has long stretches of such blocks: stride over them.
                while b + _STRIDE <= n and max(others[b:b + _STRIDE]) < need_other:
                    b += _STRIDE
                while b < n and others[b] < need_other:
                    b += 1
                j = 0
                continue
            block = blocks[b]
            size = len(block)
            while j < size and other(block[j][2]) < need_other:
                j += 1
            if j == size:
                b, j = b + 1, 0
                continue
            value = block[j][0]
            slices = []
            while True:  # the run of `value` may go on into the next blocks
                end = bisect.bisect_left(block, (value + 1,), j)
                if end > j and others[b] >= need_other:
                    slices.append((block, j, end))
                if end < len(block) or b + 1 == n:
                    break
                b, j = b + 1, 0
                block = blocks[b]
            yield value, slices
            j = end
            if j == len(blocks[b]):
                b, j = b + 1, 0


def _value(inst: InstanceState, partition: str | None) -> Hashable:
    if partition is None:
        return None
    return inst.attributes.get(partition)


class ClusterState:
    """Container instances by ARN, with the indexes placement reads."""

    def __init__(self, instances: Iterable[InstanceState] = (), *, seed: int | None = None):
        self.instances: dict[str, InstanceState] = {}
        # Ties between equally ranked instances, and the random strategy, draw from
        # here: a seed makes a whole run reproducible.
        self.rng = random.Random(seed)
        self._next_order = 0
        # attribute -> group -> attribute value -> live tasks
        self._group_counts: dict[str, dict[str, Counter]] = {}
        self._views: OrderedDict[Hashable, CandidateView] = OrderedDict()
        for inst in instances:
            self.add_instance(inst)

    # --- instances ---------------------------------------------------------

    def add_instance(self, inst: InstanceState) -> InstanceState:
        if inst.arn in self.instances:
            raise ValueError(f"{inst.arn} is already in the cluster state")
        inst.order = self._next_order
        self._next_order += 1
        self.instances[inst.arn] = inst
        for attribute, by_group in self._group_counts.items():
            value = inst.attributes.get(attribute)
            for group, n in inst.task_groups.items():
                by_group.setdefault(group, Counter())[value] += n
        self._static_facts_changed()
        return inst

    def remove_instance(self, arn: str) -> InstanceState:
        inst = self.instances.pop(arn)
        for attribute, by_group in self._group_counts.items():
            value = inst.attributes.get(attribute)
            for group, n in inst.task_groups.items():
                by_group[group][value] -= n
        self._static_facts_changed()
        return inst

    def update_instance(self, arn: str, *, status: str | None = None,
                        agent_connected: bool | None = None,
                        attributes: dict[str, str | None] | None = None) -> None:
        """Change what static filters read (DRAINING, agent reconnects, PutAttributes)."""
        inst = self.instances[arn]
        if attributes is not None:
            # Group counts by attribute value move with the instance's tasks.
            self._group_counts.clear()
            inst.attributes = dict(attributes)
        if status is not None:
            inst.status = status
        if agent_connected is not None:
            inst.agent_connected = agent_connected
        inst.forget_facts()
        self._static_facts_changed()

    def _static_facts_changed(self) -> None:
        self._views.clear()

    # --- tasks -------------------------------------------------------------

    def apply(self, arn: str, group: str, need: Requirements) -> InstanceState:
        """A task of `group` was placed on `arn`: reserve what it needs, count it."""
        return self._change(self.instances[arn], group, need, +1)

    def release(self, arn: str, group: str, need: Requirements) -> InstanceState:
        """A task of `group` on `arn` stopped: give back what it reserved."""
        return self._change(self.instances[arn], group, need, -1)

    def _change(self, inst: InstanceState, group: str, need: Requirements, sign: int
                ) -> InstanceState:
        before = inst.task_groups.get(group, 0)
        if sign < 0 and before <= 0:
            raise ValueError(f"no task of {group} on {inst.arn} to release")
        views = [v for v in self._views.values() if inst in v.member_set]
        resized = need.cpu or need.memory
        if resized:
            for view in views:
                if view.has_resource_indexes:
                    view.unsort(inst)
        inst.remaining_cpu -= sign * need.cpu
        inst.remaining_memory -= sign * need.memory
        if need.ports or need.ports_udp:
            if sign > 0:
                inst.used_ports.update(need.ports)
                inst.used_ports_udp.update(need.ports_udp)
            else:
                inst.used_ports.difference_update(need.ports)
                inst.used_ports_udp.difference_update(need.ports_udp)
        inst.running_tasks_count += sign
        after = before + sign
        if after:
            inst.task_groups[group] = after
        else:
            del inst.task_groups[group]
        inst.forget_facts()
        for attribute, by_group in self._group_counts.items():
            counts = by_group.get(group)
            if counts is None:
                counts = by_group[group] = Counter()
            counts[inst.attributes.get(attribute)] += sign
        for view in views:
            if resized and view.has_resource_indexes:
                view.resort(inst)
            view.regroup(inst, group, before, after)
        return inst

    # --- indexes -----------------------------------------------------------

    def group_counts(self, attribute: str, group: str) -> Counter:
        """Live tasks of `group` per value of `attribute` (None: instances without it),
        over every instance, draining ones included: they still run those tasks."""
        by_group = self._group_counts.get(attribute)
        if by_group is None:
            by_group = {}
            for inst in self.instances.values():
                value = inst.attributes.get(attribute)
                for g, n in inst.task_groups.items():
                    by_group.setdefault(g, Counter())[value] += n
            self._group_counts[attribute] = by_group
        counts = by_group.get(group)
        if counts is None:
            counts = by_group[group] = Counter()
        return counts

    def view(self, signature: Hashable, admits: Callable[[InstanceState], bool]
             ) -> CandidateView:
        """The instances `admits` accepts; `signature` must identify `admits`."""
        found = self._views.get(signature)
        if found is None:
            found = CandidateView(self, [i for i in self.instances.values() if admits(i)])
            self._views[signature] = found
            if len(self._views) > _MAX_VIEWS:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(signature)
        return found
