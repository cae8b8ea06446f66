"""Where a DAEMON service's tasks belong: on every ACTIVE container instance that meets
its placement constraints (the service's and its task definition's), one each.

This is the feasibility pipeline without the filters that depend on what runs now
or on whether the agent answers: resources are the placement's concern when the
task is started, distinctInstance is implicit (one task per instance), and an
instance whose agent is disconnected still holds its daemon task (the controller
decides what that means, controllers/daemon.py).
"""

from __future__ import annotations

from nozama.model.resources import Requirements
from nozama.scheduler.feasibility import AgentConnected, DistinctInstance, Resources, \
    compile_filters
from nozama.scheduler.state import ClusterState, InstanceState

__all__ = ["daemon_instances"]

_NOT_FOR_DAEMONS = (AgentConnected, Resources, DistinctInstance)


def daemon_instances(state: ClusterState, group: str, constraints: list[dict],
                     task_definition: dict | None, launch_type: str = "EC2"
                     ) -> list[InstanceState]:
    """The instances of `state` on which the daemon of `group` should run a task."""
    feasibility = compile_filters(Requirements(0, 0), group, constraints, task_definition,
                                  launch_type)
    checks = [f for f in feasibility.filters if not isinstance(f, _NOT_FOR_DAEMONS)]
    return [inst for inst in state.instances.values()
            if all(f.check(inst) is None for f in checks)]
