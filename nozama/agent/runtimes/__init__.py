"""Runtimes run the containers of tasks on one host, behind one interface."""

from __future__ import annotations


def create(name: str, on_change, **options):
    """The runtime called `name` ("docker" or "simulated")."""
    if name == "docker":
        from nozama.agent.runtimes.docker import DockerRuntime
        return DockerRuntime(on_change, **options)
    if name == "simulated":
        from nozama.agent.runtimes.simulated import SimulatedRuntime
        return SimulatedRuntime(on_change, **options)
    raise ValueError(f"unknown runtime {name!r}: use docker or simulated")
