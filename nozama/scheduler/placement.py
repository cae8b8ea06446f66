"""The scheduler pipeline's entry point: place a request's tasks on a ClusterState.

    feasibility (static filters pick the view) -> rank -> select -> apply

per task, so the second task of a request already sees the first one's
resources, ports and group counts (count=10 with distinctInstance lands on 10
instances). The caller loads the state, calls `place`, and commits the chosen
instances in one transaction; nothing here reads or writes the store.

StartTask names its instances instead: `place_on` checks only what ECS checks
for it (status, agent, resources), one named instance after another, on the
same state, so a second task on an instance sees what the first one took.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nozama.kernel import errors
from nozama.model.resources import Requirements
from nozama.scheduler.feasibility import (AgentConnected, InstanceStatus, Resources,
                                           compile_filters)
from nozama.scheduler.rank import parse_strategies, ranked
from nozama.scheduler.select import explain, select
from nozama.scheduler.state import ClusterState

__all__ = ["PlacementRequest", "PlacementResult", "Placer", "place", "place_on"]


@dataclass
class PlacementRequest:
    count: int
    requirements: Requirements
    group: str  # "service:web" for a service's tasks, "family:x" (or RunTask's group) otherwise
    constraints: list[dict] = field(default_factory=list)  # PlacementConstraint dicts
    strategies: list[dict] | None = None  # PlacementStrategy dicts; None/[]: ECS's default
    task_definition: dict | None = None  # compatibilities, requiresAttributes, constraints
    launch_type: str = "EC2"
    service: bool | None = None  # default strategy of a service? None: group is service:*
    # Instances not to use although they qualify: ones the service's load balancer cannot
    # reach (reported as AGENT, the instance's connectivity).
    avoid: frozenset[str] = frozenset()


@dataclass
class PlacementResult:
    instance_arns: list[str]  # one per placed task, in order
    failures: list[dict]      # [{arn, reason}] when fewer than `count` were placed


class Placer:
    """One request, compiled once (constraints parsed, strategies checked), placed a
    task at a time by `next`. While it is in use, the state changes only through it."""

    def __init__(self, state: ClusterState, request: PlacementRequest):
        if not request.group:
            raise errors.ecs.InvalidParameterException("A task group is required for placement.")
        self.state = state
        self.group = request.group
        self.need = request.requirements
        self.feasibility = compile_filters(request.requirements, request.group,
                                           request.constraints, request.task_definition,
                                           request.launch_type, request.avoid)
        service = request.service if request.service is not None else \
            request.group.startswith("service:")
        self.strategies = parse_strategies(request.strategies, service=service)
        # An instance's facts change only when a task lands on it, so one rejected
        # during this request stays rejected: ranking leaves it out from then on (as the
        # cluster fills, tie groups fill with instances that have no room left).
        self.rejected: set = set()
        self.exhausted: dict = {}  # tie groups holding only rejected instances (see ranked)
        check, rejected = self.feasibility.feasible, self.rejected

        def feasible(inst) -> bool:
            if check(inst):
                return True
            rejected.add(inst)
            return False
        self.feasible = feasible

    def next(self) -> str | None:
        """Place one task: the chosen instance's ARN, applied to the state; None if none fits."""
        feasibility = self.feasibility
        view = self.state.view(feasibility.signature, feasibility.admits)
        chosen = select(ranked(self.state, view, self.strategies, self.group, self.need,
                               self.rejected, self.exhausted), self.feasible)
        if chosen is None:
            return None
        self.state.apply(chosen.arn, self.group, self.need)
        return chosen.arn

    def failures(self) -> list[dict]:
        return explain(self.state, self.feasibility)


def place(state: ClusterState, request: PlacementRequest) -> PlacementResult:
    placer = Placer(state, request)
    placed: list[str] = []
    for _ in range(request.count):
        arn = placer.next()
        if arn is None:
            return PlacementResult(placed, placer.failures())
        placed.append(arn)
    return PlacementResult(placed, [])


def place_on(state: ClusterState, instance_arns: list[str], need: Requirements, group: str
             ) -> PlacementResult:
    """StartTask: a task on each of `instance_arns` that can take it. One not in the state
    (unknown, of another cluster, deregistered) is MISSING; strategies and constraints
    do not apply, as in ECS."""
    filters = (InstanceStatus(), AgentConnected(), Resources(need))
    placed: list[str] = []
    failures: list[dict] = []
    for arn in instance_arns:
        inst = state.instances.get(arn)
        reason = "MISSING" if inst is None else \
            next((r for r in (f.check(inst) for f in filters) if r is not None), None)
        if reason is not None:
            failures.append({"arn": arn, "reason": reason})
            continue
        state.apply(arn, group, need)
        placed.append(arn)
    return PlacementResult(placed, failures)
