"""Zone-by-zone waves for rolling deployments (Nozama's own option).

With the service tag `nozama:zone-waves=true`, a rolling deployment replaces
tasks in waves: one task first, then the rest of the first zone, then each
other zone in turn. A wave starts the new revision's tasks in its zone only,
stops as many old tasks there as new ones are healthy, then bakes
(`nozama:zone-wave-bake-seconds`, default 30) with the deployment's alarms
watching before the next wave. A bad revision thus reaches one task, then one
zone, before anything else of it runs: the blast radius of a release is a zone.

The waves are planned when the deployment starts, from where the old tasks
run (so the service keeps its spread over zones), and kept in the deployment's
rollout (waves, wave, wave_at): a restarted control plane goes on from there.
"""

from __future__ import annotations

from collections import Counter

from nozama.controllers.rolling import Step
from nozama.model.deployment_state import Rollout

WAVES_TAG = "nozama:zone-waves"
BAKE_TAG = "nozama:zone-wave-bake-seconds"
DEFAULT_BAKE_SECONDS = 30.0


def enabled(tags: dict[str, str]) -> bool:
    return tags.get(WAVES_TAG, "").lower() == "true"


def bake_seconds(tags: dict[str, str]) -> float:
    try:
        return max(0.0, float(tags.get(BAKE_TAG, DEFAULT_BAKE_SECONDS)))
    except ValueError:
        return DEFAULT_BAKE_SECONDS


def plan(old_zones: list[str], desired: int) -> list[tuple[str, int]]:
    """Waves as (zone, new tasks in that zone once the wave is done), cumulative per zone:
    one task in the first zone, then that zone in full, then the others."""
    counts = Counter(old_zones)
    zones = sorted(counts) or []
    if not zones:
        return []
    # The new revision keeps the old one's spread; a change of desiredCount goes to the
    # last zone's wave.
    wanted = {zone: counts[zone] for zone in zones}
    wanted[zones[-1]] += desired - sum(wanted.values())
    waves = []
    if wanted[zones[0]] > 1:
        waves.append((zones[0], 1))
    waves += [(zone, wanted[zone]) for zone in zones]
    return [(zone, max(0, count)) for zone, count in waves]


def step(rollout: Rollout, desired: int, now: float, bake: float, mine: list, healthy: list,
         old: list, zone_of) -> tuple[int, str | None, list]:
    """This pass of a wave deployment: (new tasks to start, the zone to start them in,
    old tasks to stop). `zone_of(task)` is a task's availability zone."""
    waves = rollout.waves
    index = rollout.wave
    while index < len(waves):
        zone, target = waves[index]
        have = sum(zone_of(t) == zone for t in mine)
        ready = sum(zone_of(t) == zone for t in healthy)
        if have < target:
            return target - have, zone, []
        # The zone's old tasks go as its new ones become healthy, one for one.
        old_here = [t for t in old if zone_of(t) == zone]
        keep = max(0, rollout.old_zones.get(zone, 0) - ready)
        if len(old_here) > keep:
            return 0, None, old_here[:len(old_here) - keep]
        if ready < target:
            return 0, None, []
        if rollout.wave_at is None:
            rollout.wave_at = now
        if now < rollout.wave_at + bake and index + 1 < len(waves):
            return 0, None, []  # the wave bakes, with the deployment's alarms watching
        index += 1
        rollout.wave, rollout.wave_at = index, None
    # Every wave is done: what is left of the old revision goes.
    return max(0, desired - len(mine)), None, list(old)


def start(rollout: Rollout, desired: int, old_zones: list[str]) -> None:
    """Plan the waves of a new deployment from where the old tasks run."""
    rollout.waves = plan(old_zones, desired)
    rollout.old_zones = dict(Counter(old_zones))
    rollout.wave = 0


class WaveStep:
    """One pass of a wave deployment, for the service controller: how many tasks to
    start and in which zone, which old tasks to stop, and what to say when a wave
    begins."""

    def __init__(self, deployment: dict, rollout: Rollout, tags: dict[str, str], now: float,
                 tasks_with_docs: list, events):
        self.deployment, self.rollout, self.now, self.events = deployment, rollout, now, events
        self.bake = bake_seconds(tags)
        self.zones = {t.arn: t.doc.get("availabilityZone") for t in tasks_with_docs}
        self.zone: str | None = None   # where to start the new tasks
        self.stop: list = []           # old tasks to stop

    def zone_of(self, task) -> str | None:
        return self.zones.get(task.arn)

    def step(self, mine: list, healthy: list, old: list) -> Step:
        rollout, desired = self.rollout, self.deployment["desiredCount"]
        wave = rollout.wave if rollout.waves is not None else None
        if rollout.waves is None:
            start(rollout, desired, [self.zone_of(t) for t in old])
        count, self.zone, self.stop = step(rollout, desired, self.now, self.bake, mine,
                                           healthy, old, self.zone_of)
        if rollout.wave != wave and rollout.wave < len(rollout.waves):
            zone, target = rollout.waves[rollout.wave]
            self.events.of_deployment(
                self.deployment, f"zone wave {rollout.wave + 1} of {len(rollout.waves)}: "
                f"{zone}, {target} task{'s' if target != 1 else ''}.")
        return Step(count, len(self.stop), 0)
