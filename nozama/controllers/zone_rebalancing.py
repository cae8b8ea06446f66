"""Availability Zone rebalancing (a service's availabilityZoneRebalancing, ENABLED).

Placement spreads a service's tasks over zones as they start, but the spread can go
uneven afterwards: a zone had no instance when the tasks were placed, or lost its
tasks and got them back elsewhere. With rebalancing, a steady REPLICA service moves
back to an even spread over the zones that can take its tasks (an instance there is
ACTIVE, its agent connected, and it meets the service's placement constraints), one
task at a time, as ECS does:

1. it starts a task in the zone that has the fewest, within maximumPercent;
2. once that task is RUNNING and healthy (in its target groups too), it stops one in
   the zone that has the most, so healthy tasks never fall below desiredCount;
3. again, until no zone has two tasks more than another.

Never while a deployment is in progress; with maximumPercent at 100 there is no room
for the extra task, and nothing moves. Tasks in a zone that cannot take tasks now
(its agents are disconnected, say) count where they are and are left alone: the zone
may come back. The service's events say when it starts and when it is balanced, with
ECS's wording.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, Row

from nozama.controllers.cluster_state import cluster_state
from nozama.controllers.rolling import Step
from nozama.controllers.service_events import ServiceEvents
from nozama.model.deployment_state import DeploymentState
from nozama.scheduler.qualify import qualifying_instances
from nozama.store import attributes as attribute_store

ZONE = "ecs.availability-zone"


def imbalance(counts: Counter, zones: set[str]) -> tuple[str, str] | None:
    """(the zone with the fewest tasks, the zone with the most) of `zones`, when they
    are more than one task apart; None when the spread is even."""
    if len(zones) < 2:
        return None
    ordered = sorted(zones, key=lambda z: (counts[z], z))
    fewest, most = ordered[0], ordered[-1]
    return (fewest, most) if counts[most] - counts[fewest] > 1 else None


def spread(counts: Counter, zones: set[str]) -> str:
    """'2 tasks in a, 2 tasks in b and 1 tasks in c', as ECS's events list them."""
    parts = [f"{counts[z]} tasks in {z}" for z in sorted(zones)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass
class Rebalance:
    """A rebalancing move, shaped as the service pass acts on a zone wave's."""
    step: Step
    zone: str | None = None                              # where to start the task
    stop: list[Row] = field(default_factory=list)        # (older deployments: none)
    stop_primary: list[Row] = field(default_factory=list)


class ZoneRebalancing:
    def __init__(self, conn: Connection, cluster_arn: str, service: dict,
                 state: DeploymentState, events: ServiceEvents):
        self.conn, self.cluster_arn, self.service = conn, cluster_arn, service
        self.state, self.events = state, events

    def applies(self) -> bool:
        """ENABLED, and no deployment in progress."""
        deployments = self.service["deployments"]
        return (self.service.get("availabilityZoneRebalancing") == "ENABLED"
                and self.service.get("schedulingStrategy", "REPLICA") == "REPLICA"
                and len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED")

    def step(self, mine: list[Row], healthy: list[Row], definition: dict) -> Rebalance | None:
        """The move to make now; None to leave the service to its rolling step."""
        if not self.applies():
            self.state.rebalancing = False
            return None
        primary = self.service["deployments"][0]
        desired = primary["desiredCount"]
        surplus = len(mine) - desired
        if self.state.rebalancing and surplus == 1:
            if len(healthy) < len(mine):
                return Rebalance(Step(0, 0, 0))  # the new task is not healthy yet: wait
            counts, zones, zone_of = self._counts(mine, definition)
            move = imbalance(counts, zones) or (None, max(zones, key=lambda z: counts[z]))
            chosen = [t for t in mine if zone_of.get(t.container_instance_arn) == move[1]]
            return Rebalance(Step(0, 0, 1), stop_primary=chosen[-1:]) if chosen else None
        if surplus != 0 or len(healthy) < desired or not desired:
            return None
        counts, zones, _ = self._counts(mine, definition)
        move = imbalance(counts, zones)
        if move is None:
            if self.state.rebalancing:
                self.events.add(f"is AZ balanced with {spread(counts, zones)}.")
                self.state.rebalancing = False
            return None
        maximum = self.service["deploymentConfiguration"]["maximumPercent"]
        if desired + 1 > math.floor(desired * maximum / 100):
            return None
        if not self.state.rebalancing:
            self.events.add(f"is not AZ balanced with {spread(counts, zones)}. AZ Rebalancing "
                            "in progress.")
            self.state.rebalancing = True
        return Rebalance(Step(1, 0, 0), zone=move[0])

    def _counts(self, mine: list[Row], definition: dict
                ) -> tuple[Counter, set[str], dict[str, str]]:
        """(the service's tasks per zone, the zones that can take its tasks, the zone of
        each instance its tasks run on)."""
        state = cluster_state(self.conn, self.cluster_arn, with_tasks=False)
        qualifying = qualifying_instances(
            state, f"service:{self.service['serviceName']}",
            list(self.service.get("placementConstraints") or []), definition,
            self.service.get("launchType", "EC2"))
        zones = {i.attributes.get(ZONE) for i in qualifying if i.agent_connected} - {None}
        instances = list({t.container_instance_arn for t in mine if t.container_instance_arn})
        zone_of = {arn: attributes.get(ZONE) for arn, attributes in
                   attribute_store.of_targets(self.conn, self.cluster_arn, instances).items()}
        counts = Counter(zone_of.get(t.container_instance_arn) for t in mine)
        return counts, zones, zone_of
