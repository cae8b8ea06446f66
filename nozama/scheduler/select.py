"""Selection: the first ranked candidate that passes the dynamic filters wins.

Ranking yields candidates best first and lazily, so selection usually looks at
one or two instances. When none is feasible, `explain` asks every instance in
the cluster why, for the `failures` ECS returns (one reason per instance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nozama.scheduler.feasibility import Feasibility
from nozama.scheduler.state import ClusterState, InstanceState

__all__ = ["explain", "select"]


def select(candidates: Iterable[InstanceState], feasible: Callable[[InstanceState], bool]
           ) -> InstanceState | None:
    for inst in candidates:
        if feasible(inst):
            return inst
    return None


def explain(state: ClusterState, feasibility: Feasibility) -> list[dict]:
    """[{arn, reason}] for each instance that can't take the task, in registration order."""
    failures = []
    for inst in state.instances.values():
        reason = feasibility.first_failure(inst)
        if reason is not None:
            failures.append({"arn": inst.arn, "reason": reason})
    return failures
