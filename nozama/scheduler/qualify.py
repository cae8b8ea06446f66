"""The instances that qualify for a group's tasks, whatever they run now: ACTIVE, of the
launch type, with the required attributes, meeting the placement constraints (the
service's and its task definition's).

This is the feasibility pipeline without the filters that depend on what runs now
or on whether the agent answers: resources are the placement's concern when a
task is started, and distinctInstance is implicit where this is asked. Where a DAEMON
service's tasks belong (controllers/daemon.py: an instance whose agent is
disconnected still holds its daemon task), and which zones a service can spread
over (controllers/zone_rebalancing.py).
"""

from __future__ import annotations

from nozama.model.resources import Requirements
from nozama.scheduler.feasibility import AgentConnected, DistinctInstance, Resources, \
    compile_filters
from nozama.scheduler.state import ClusterState, InstanceState

__all__ = ["qualifying_instances"]

_NOT_STATIC = (AgentConnected, Resources, DistinctInstance)


def qualifying_instances(state: ClusterState, group: str, constraints: list[dict],
                         task_definition: dict | None, launch_type: str = "EC2"
                         ) -> list[InstanceState]:
    """The instances of `state` that qualify for a task of `group`, resources aside."""
    feasibility = compile_filters(Requirements(0, 0), group, constraints, task_definition,
                                  launch_type)
    checks = [f for f in feasibility.filters if not isinstance(f, _NOT_STATIC)]
    return [inst for inst in state.instances.values()
            if all(f.check(inst) is None for f in checks)]
