"""Ranking: the placement strategies order a request's candidate instances, best first.

A placementStrategy is a list of {type, field}, applied in order: the first
strategy decides, later ones only break its ties, and what is still tied after
the last one is broken at random (seeded by the ClusterState).

    spread  instanceId | host     fewest tasks of the request's group on the instance
    spread  attribute:<name>      fewest tasks of the group on instances with the same
                                  value (e.g. attribute:ecs.availability-zone); instances
                                  without the attribute come after all that have it
    binpack cpu | memory          least remaining of that resource, among those it fits
    random                        any order; it ends the list (nothing is left tied)

Only the group's own tasks count, as ECS spreads a service by its own tasks and
a standalone task by its task group. Without a strategy, services spread by
zone and then by instance (the ECS service scheduler's default), and
standalone tasks are placed at random.

`ranked` yields candidates lazily and selection stops at the first feasible
one, so ranking costs what the chosen instance's position costs, not a sort of
the cluster: the common strategies read the view's indexes (zones by group
count, instances by group count within a zone, instances sorted by remaining
memory), and only unusual combinations sort a tie group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nozama.kernel import errors
from nozama.model.resources import Requirements
from nozama.scheduler.state import CandidateView, ClusterState, InstanceState

__all__ = [
    "INSTANCE_ID",
    "MAX_STRATEGIES",
    "RUN_TASK_DEFAULT",
    "SERVICE_DEFAULT",
    "ZONE",
    "Strategy",
    "parse_strategies",
    "ranked",
]

MAX_STRATEGIES = 5  # ECS's limit per task or service
INSTANCE_ID = "instanceId"
ZONE = "attribute:ecs.availability-zone"
_ATTRIBUTE = "attribute:"
_TRIES = 8  # random picks in a tie group before falling back to a full shuffle


@dataclass(frozen=True, slots=True)
class Strategy:
    type: str                # spread | binpack | random
    field: str | None = None  # spread: instanceId or attribute:<name>; binpack: cpu | memory

    @property
    def attribute(self) -> str | None:
        """The attribute name a spread is on, None for instanceId (and other types)."""
        if self.type == "spread" and self.field != INSTANCE_ID:
            return self.field[len(_ATTRIBUTE):]
        return None

    def to_doc(self) -> dict:
        return {"type": self.type, "field": self.field} if self.field else {"type": self.type}


SERVICE_DEFAULT = (Strategy("spread", ZONE), Strategy("spread", INSTANCE_ID))
RUN_TASK_DEFAULT = (Strategy("random"),)


def parse_strategies(strategies: list[dict] | None, *, service: bool) -> tuple[Strategy, ...]:
    """PlacementStrategy dicts as Strategies; none given means ECS's default."""
    if not strategies:
        return SERVICE_DEFAULT if service else RUN_TASK_DEFAULT
    if len(strategies) > MAX_STRATEGIES:
        raise errors.ecs.InvalidParameterException(
            f"At most {MAX_STRATEGIES} placement strategies can be given.")
    parsed = []
    for item in strategies:
        strategy = _parse_one(item.get("type"), item.get("field"))
        parsed.append(strategy)
        if strategy.type == "random":
            break  # random leaves no ties for later strategies to break
    return tuple(parsed)


def _parse_one(kind: str | None, field: str | None) -> Strategy:
    if kind == "random":
        return Strategy("random")
    if kind == "binpack":
        if (field or "").lower() not in ("cpu", "memory"):
            raise errors.ecs.InvalidParameterException(
                f"The binpack placement strategy takes the field cpu or memory, not {field!r}.")
        return Strategy("binpack", field.lower())
    if kind == "spread":
        if (field or "").lower() in ("instanceid", "host"):
            return Strategy("spread", INSTANCE_ID)
        if field and field.startswith(_ATTRIBUTE) and len(field) > len(_ATTRIBUTE):
            return Strategy("spread", field)
        raise errors.ecs.InvalidParameterException(
            "The spread placement strategy takes the field instanceId, host or "
            f"attribute:<name>, not {field!r}.")
    raise errors.ecs.InvalidParameterException(
        f"Unknown placement strategy type {kind!r}; expected spread, binpack or random.")


# --- ranking -------------------------------------------------------------------

class _Ranking:
    """What one ranking pass reads: the state, the request's view, its group and needs,
    and what earlier passes of the same request learnt (see `ranked`)."""

    __slots__ = ("exhausted", "group", "need", "rejected", "rng", "state", "view")

    def __init__(self, state: ClusterState, view: CandidateView, group: str, need: Requirements,
                 rejected: set | frozenset, exhausted: dict | None):
        self.state, self.view, self.group, self.need = state, view, group, need
        self.rng = state.rng
        self.rejected = rejected
        self.exhausted = exhausted


def ranked(state: ClusterState, view: CandidateView, strategies: tuple[Strategy, ...],
           group: str, need: Requirements, rejected: set | frozenset = frozenset(),
           exhausted: dict | None = None) -> Iterator[InstanceState]:
    """The view's instances, best first, lazily; an instance may repeat.

    A caller placing several tasks of one request passes the same `rejected` (the
    instances its filters turned down, which it adds to) and `exhausted` (a dict
    kept here) to every pass: instances in `rejected` are not yielded again, and a
    tie group found to hold nothing but rejected instances is skipped until it
    gains members (a rejected instance never leaves one: nothing is placed on it).
    As the cluster fills, the best-ranked tie groups fill with instances that have
    no room left, and this keeps each pass from wading through them again.
    """
    return _rank_view(_Ranking(state, view, group, need, rejected, exhausted), strategies)


def _rank_view(r: _Ranking, strategies: tuple[Strategy, ...]) -> Iterator[InstanceState]:
    if not strategies or strategies[0].type == "random":
        return _random_bags(r, [r.view.all])
    first, rest = strategies[0], strategies[1:]
    if first.type == "binpack":
        return _binpack(r, r.view.sorted_by(first.field, None), [None], first.field, rest)
    if first.attribute is None:
        return _spread_instances(r, r.view.levels(r.group, None), [None], rest)
    return _spread_attribute(r, first.attribute, rest)


def _spread_attribute(r: _Ranking, attribute: str, rest: tuple[Strategy, ...]
                      ) -> Iterator[InstanceState]:
    """Values with the fewest tasks of the group first; values tied on count form one tier."""
    buckets = r.view.buckets(attribute)
    counts = r.state.group_counts(attribute, r.group)
    values = sorted((v for v, bag in buckets.items() if v is not None and bag),
                    key=lambda v: counts.get(v, 0))
    start = 0
    while start < len(values):
        count = counts.get(values[start], 0)
        end = start + 1
        while end < len(values) and counts.get(values[end], 0) == count:
            end += 1
        yield from _within_values(r, attribute, values[start:end], rest)
        start = end
    if buckets.get(None):
        yield from _rank_list(r, list(buckets[None]), rest)


def _within_values(r: _Ranking, attribute: str, values: list, rest: tuple[Strategy, ...]
                   ) -> Iterator[InstanceState]:
    """Instances whose `attribute` is one of `values` (a tie), ranked by the rest."""
    if not rest or rest[0].type == "random":
        buckets = r.view.buckets(attribute)
        return _random_bags(r, [buckets[v] for v in values])
    following = rest[0]
    if following.type == "binpack":
        return _binpack(r, r.view.sorted_by(following.field, attribute), values,
                        following.field, rest[1:])
    if following.attribute is None:
        return _spread_instances(r, r.view.levels(r.group, attribute), values, rest[1:])
    buckets = r.view.buckets(attribute)
    return _rank_list(r, [i for v in values for i in buckets[v]], rest)


def _spread_instances(r: _Ranking, levels: dict, values: list, rest: tuple[Strategy, ...]
                      ) -> Iterator[InstanceState]:
    """Instances with the fewest tasks of the group first, across the given partitions."""
    by_count = [levels[v] for v in values if v in levels]
    for count in sorted({c for counts in by_count for c in counts}):
        bags = [counts[count] for counts in by_count if count in counts]
        if not rest or rest[0].type == "random":
            yield from _random_bags(r, bags)
        else:
            yield from _rank_list(r, [i for bag in bags for i in bag], rest)


def _binpack(r: _Ranking, sorted_by: dict, values: list, resource: str,
             rest: tuple[Strategy, ...]) -> Iterator[InstanceState]:
    """Least remaining `resource` first, among instances with room for the task in it
    (and, block by block, in the other resource); equal amounts are a tie."""
    need = r.need
    amount, other = (need.cpu, need.memory) if resource == "cpu" else (need.memory, need.cpu)
    streams = [sorted_by[v].runs(amount, other) for v in values if v in sorted_by]
    for tie in (_merge_runs(streams) if len(streams) > 1 else
                (slices for _, slices in streams[0]) if streams else ()):
        if not rest or rest[0].type == "random":
            yield from _random_slices(r, tie, _instance_of_entry)
        else:
            yield from _rank_list(r, [e[2] for entries, lo, hi in tie for e in entries[lo:hi]],
                                  rest)


def _merge_runs(streams: list[Iterator]) -> Iterator[list]:
    """Runs of several ResourceIndexes merged: the slices of the least amount first."""
    heads = [next(stream, None) for stream in streams]
    while True:
        least = min((head[0] for head in heads if head is not None), default=None)
        if least is None:
            return
        tie = []
        for i, head in enumerate(heads):
            if head is not None and head[0] == least:
                tie += head[1]
                heads[i] = next(streams[i], None)
        yield tie


def _rank_list(r: _Ranking, items: list[InstanceState], strategies: tuple[Strategy, ...]
               ) -> Iterator[InstanceState]:
    """The general case: sort a tie group by every remaining strategy, then at random."""
    rejected = r.rejected
    if rejected:
        items = [i for i in items if i not in rejected]
    if not strategies or strategies[0].type == "random":
        r.rng.shuffle(items)
        return iter(items)
    keys = [_key(r, s) for s in strategies if s.type != "random"]
    keys.append(lambda _: r.rng.random())
    return iter(sorted(items, key=lambda inst: tuple(k(inst) for k in keys)))


def _key(r: _Ranking, strategy: Strategy) -> Callable[[InstanceState], object]:
    group = r.group
    if strategy.type == "binpack":
        resource = strategy.field
        return lambda inst: inst.remaining(resource)
    attribute = strategy.attribute
    if attribute is None:
        return lambda inst: inst.task_groups.get(group, 0)
    counts = r.state.group_counts(attribute, group)
    return lambda inst: ((0, counts.get(inst.attributes[attribute], 0))
                         if inst.attributes.get(attribute) is not None else (1, 0))


def _same(item: InstanceState) -> InstanceState:
    return item


def _instance_of_entry(entry: tuple) -> InstanceState:
    return entry[2]


def _random_bags(r: _Ranking, bags: list) -> Iterator[InstanceState]:
    """The members of some Bags in random order, skipping bags known to be exhausted."""
    exhausted = r.exhausted
    if exhausted is None:
        return _random_slices(r, [(bag.items, 0, len(bag)) for bag in bags], _same)
    live = [bag for bag in bags if exhausted.get(bag) != len(bag)]
    if not live:
        return iter(())
    return _exhaustible(r, live)


def _exhaustible(r: _Ranking, bags: list) -> Iterator[InstanceState]:
    yield from _random_slices(r, [(bag.items, 0, len(bag)) for bag in bags], _same)
    # Reached only when the caller rejected every member: remember it.
    for bag in bags:
        r.exhausted[bag] = len(bag)


def _random_slices(r: _Ranking, slices: list[tuple[list, int, int]], pick: Callable
                   ) -> Iterator[InstanceState]:
    """The items of some list slices in random order, lazily.

    A few uniform picks first (with replacement: a repeat is just rejected again),
    so a tie group of hundreds costs a handful of draws when most of it is
    feasible; then the rest in a lazily shuffled order, so none is missed when
    most of it is not. Either way the first feasible item yielded is uniform
    among the feasible ones. Items known to be rejected are never yielded.
    """
    total = sum(hi - lo for _, lo, hi in slices)
    if total == 0:
        return
    random, rejected = r.rng.random, r.rejected
    if total == 1:
        entries, lo, _ = next(s for s in slices if s[2] > s[1])
        item = pick(entries[lo])
        if item not in rejected:
            yield item
        return
    for _ in range(min(_TRIES, total)):
        at = int(random() * total)
        for entries, lo, hi in slices:
            if at < hi - lo:
                item = pick(entries[lo + at])
                if item not in rejected:
                    yield item
                break
            at -= hi - lo
    if pick is _same:
        items = [i for entries, lo, hi in slices for i in entries[lo:hi] if i not in rejected]
    else:
        items = [i for entries, lo, hi in slices for e in entries[lo:hi]
                 if (i := pick(e)) not in rejected]
    # A lazy Fisher-Yates shuffle: only as many draws as items the caller looks at.
    left = len(items)
    while left:
        at = int(random() * left)
        yield items[at]
        left -= 1
        items[at] = items[left]
