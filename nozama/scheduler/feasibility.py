"""Feasibility: the filters that drop container instances which cannot take a task.

Each filter answers one question with ECS's failure reason, or None when the
instance passes:

    InstanceStatus        DRAINING / INACTIVE instances take no new tasks
    AgentConnected        AGENT
    LaunchTypeCompatible  ATTRIBUTE (an EC2 task on an EXTERNAL instance, ...)
    RequiredAttributes    ATTRIBUTE (the task definition's requiresAttributes)
    Resources             RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:PORTS, RESOURCE:PORTS_UDP
    DistinctInstance      DistinctInstance (a task of the group is already there)
    MemberOf              MemberOf (the cluster query expression does not match)

`compile_filters` turns a request into a `Feasibility`: the static filters
(what changes only when an instance registers, drains, reconnects or gets new
attributes) select the request's candidate view once, the rest become one fast
check run on each ranked candidate, and `first_failure` reports an instance's
first failing reason in the order above, the way ECS lists one reason per
instance in `failures`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from nozama.kernel import errors
from nozama.model.cluster_query import ClusterQuery, parse_expression
from nozama.model.resources import Requirements, shortfall
from nozama.scheduler.state import ACTIVE, INACTIVE, InstanceState

__all__ = [
    "MAX_CONSTRAINTS",
    "AgentConnected",
    "DistinctInstance",
    "Feasibility",
    "Filter",
    "InstanceStatus",
    "LaunchTypeCompatible",
    "MemberOf",
    "RequiredAttributes",
    "Resources",
    "compile_filters",
    "parse_constraints",
]

MAX_CONSTRAINTS = 10  # per task, the request's and the task definition's together
# Subjects whose value changes as tasks are placed: such queries can't pick the view.
_DYNAMIC_SUBJECTS = frozenset({"runningTasksCount", "task:group"})


class Filter:
    """One feasibility question. `static` filters read only facts placement can't change."""

    static = True
    key: Hashable = None  # identifies the filter and its parameters, for view signatures

    def check(self, inst: InstanceState) -> str | None:
        raise NotImplementedError


class InstanceStatus(Filter):
    key = "status"

    def check(self, inst: InstanceState) -> str | None:
        if inst.status == ACTIVE:
            return None
        return INACTIVE if inst.status == INACTIVE else "DRAINING"


class AgentConnected(Filter):
    key = "agent"

    def check(self, inst: InstanceState) -> str | None:
        return None if inst.agent_connected else "AGENT"


class NotAvoided(Filter):
    """Instances the caller knows to be unreachable (its load balancer's checks time out)
    although their agent still counts as connected."""

    def __init__(self, avoid: frozenset[str]):
        self.avoid = avoid
        self.key = ("avoid", avoid)

    def check(self, inst: InstanceState) -> str | None:
        return "AGENT" if inst.arn in self.avoid else None


class LaunchTypeCompatible(Filter):
    """The instance runs the request's launch type, and the task definition allows it."""

    def __init__(self, launch_type: str, compatibilities: list[str] | None = None):
        self.launch_type = launch_type
        self.allowed = launch_type in (compatibilities or (launch_type,))
        self.key = ("launch-type", launch_type, self.allowed)

    def check(self, inst: InstanceState) -> str | None:
        return None if self.allowed and inst.launch_type == self.launch_type else "ATTRIBUTE"


class RequiredAttributes(Filter):
    """Every attribute in the task definition's requiresAttributes is on the instance."""

    def __init__(self, required: list[dict]):
        self.required = tuple((a["name"], a.get("value")) for a in required)
        self.key = ("requires", self.required)

    def check(self, inst: InstanceState) -> str | None:
        attributes = inst.attributes
        for name, value in self.required:
            if name not in attributes or (value is not None and attributes[name] != value):
                return "ATTRIBUTE"
        return None


class Resources(Filter):
    static = False

    def __init__(self, need: Requirements):
        self.need = need
        self.key = ("resources", need.cpu, need.memory, tuple(need.ports),
                    tuple(need.ports_udp))

    def check(self, inst: InstanceState) -> str | None:
        return shortfall(inst.remaining_resources(), self.need)

    def fits(self, inst: InstanceState) -> bool:
        """The same answer as `check(inst) is None`, without building remainingResources."""
        need = self.need
        return (inst.remaining_cpu >= need.cpu and inst.remaining_memory >= need.memory
                and inst.used_ports.isdisjoint(need.ports)
                and inst.used_ports_udp.isdisjoint(need.ports_udp))


class DistinctInstance(Filter):
    """Each task of the group on a different instance."""

    static = False

    def __init__(self, group: str):
        self.group = group
        self.key = ("distinct", group)

    def check(self, inst: InstanceState) -> str | None:
        return "DistinctInstance" if inst.task_groups.get(self.group, 0) > 0 else None


class MemberOf(Filter):
    """The instance satisfies a cluster query expression (parsed once, by the caller)."""

    def __init__(self, query: ClusterQuery):
        self.query = query
        self.static = query.subjects.isdisjoint(_DYNAMIC_SUBJECTS)
        self.key = ("memberOf", query.text)

    def check(self, inst: InstanceState) -> str | None:
        return None if self.query.matches(inst.facts()) else "MemberOf"


def parse_constraints(constraints: list[dict], group: str) -> list[Filter]:
    """PlacementConstraint dicts ({type, expression}) as filters, or InvalidParameterException."""
    if len(constraints) > MAX_CONSTRAINTS:
        raise errors.ecs.InvalidParameterException(
            f"A task can have at most {MAX_CONSTRAINTS} placement constraints, counting "
            "those of its task definition.")
    filters: list[Filter] = []
    for constraint in constraints:
        kind, expression = constraint.get("type"), constraint.get("expression")
        if kind == "distinctInstance":
            if expression:
                raise errors.ecs.InvalidParameterException(
                    "A distinctInstance placement constraint cannot have an expression.")
            filters.append(DistinctInstance(group))
        elif kind == "memberOf":
            if not expression:
                raise errors.ecs.InvalidParameterException(
                    "A memberOf placement constraint needs an expression.")
            filters.append(MemberOf(parse_expression(expression)))
        else:
            raise errors.ecs.InvalidParameterException(
                f"Unknown placement constraint type {kind!r}; expected distinctInstance or "
                "memberOf.")
    return filters


@dataclass
class Feasibility:
    filters: list[Filter]  # every filter, in the order failures are reported
    signature: Hashable    # identifies the static filters: the key of the request's view
    feasible: Callable[[InstanceState], bool]  # the dynamic filters, as one fast check

    def admits(self, inst: InstanceState) -> bool:
        """Passes every static filter (membership in the request's view)."""
        return all(f.check(inst) is None for f in self.filters if f.static)

    def first_failure(self, inst: InstanceState) -> str | None:
        for f in self.filters:
            reason = f.check(inst)
            if reason is not None:
                return reason
        return None


def compile_filters(need: Requirements, group: str, constraints: list[dict],
                    task_definition: dict | None = None, launch_type: str = "EC2",
                    avoid: frozenset[str] = frozenset()) -> Feasibility:
    """The filters for one request; constraints are parsed here, once."""
    definition = task_definition or {}
    placement = list(constraints) + list(definition.get("placementConstraints") or [])
    filters: list[Filter] = [
        InstanceStatus(), AgentConnected(),
        LaunchTypeCompatible(launch_type, definition.get("compatibilities")),
    ]
    if avoid:
        filters.insert(2, NotAvoided(avoid))
    if definition.get("requiresAttributes"):
        filters.append(RequiredAttributes(definition["requiresAttributes"]))
    filters.append(Resources(need))
    constraint_filters = parse_constraints(placement, group)
    # A fixed order, so a failure names the same reason every time: distinctInstance
    # (once, however often it is given), then each memberOf as given.
    filters += [f for f in constraint_filters if isinstance(f, DistinctInstance)][:1]
    filters += [f for f in constraint_filters if isinstance(f, MemberOf)]
    signature = tuple(f.key for f in filters if f.static)
    return Feasibility(filters, signature, _dynamic_check(need, group, filters))


def _dynamic_check(need: Requirements, group: str, filters: list[Filter]
                   ) -> Callable[[InstanceState], bool]:
    """One closure for the per-candidate filters: it runs on every ranked candidate
    until one passes, so the common case (CPU and memory only) is two comparisons."""
    cpu, memory = need.cpu, need.memory
    ports, ports_udp = frozenset(need.ports), frozenset(need.ports_udp)
    distinct = any(isinstance(f, DistinctInstance) for f in filters)
    queries = tuple(f.query.matches for f in filters if isinstance(f, MemberOf) and not f.static)
    if not (ports or ports_udp or distinct or queries):
        def fits(inst: InstanceState) -> bool:
            return inst.remaining_cpu >= cpu and inst.remaining_memory >= memory
        return fits

    def feasible(inst: InstanceState) -> bool:
        if inst.remaining_cpu < cpu or inst.remaining_memory < memory:
            return False
        if ports and not ports.isdisjoint(inst.used_ports):
            return False
        if ports_udp and not ports_udp.isdisjoint(inst.used_ports_udp):
            return False
        if distinct and inst.task_groups.get(group, 0) > 0:
            return False
        if queries:
            facts = inst.facts()
            for matches in queries:
                if not matches(facts):
                    return False
        return True
    return feasible
