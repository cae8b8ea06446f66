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

A change of desiredCount (at the start, with the new revision, or during the
waves). UpdateService's desiredCount is the PRIMARY deployment's, and ECS's
service scheduler keeps a service's tasks spread over its Availability Zones
(its default for replica services). So each zone's share of the new revision is
the old revision's spread scaled to desiredCount (largest remainder first: from
an even spread, an even one), never the whole change in the last wave. During
the waves the plan is made again for the new count, going on at the same zone:
a zone whose wave is done grows or shrinks to its new share at once, the zones
still to come get theirs in their wave, and the old tasks of a zone go as its
new ones become healthy, down to what its share needs.
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


def spread(counts: dict[str, int], desired: int) -> dict[str, int]:
    """`desired` tasks over the zones of `counts` in the same proportions (largest
    remainder first, then the zone's name)."""
    total = sum(counts.values())
    if not total:
        return {}
    exact = {zone: desired * counts[zone] / total for zone in counts}
    wanted = {zone: int(share) for zone, share in exact.items()}
    left = desired - sum(wanted.values())
    for zone in sorted(counts, key=lambda z: (wanted[z] - exact[z], z))[:left]:
        wanted[zone] += 1
    return wanted


def plan(old_zones: list[str], desired: int) -> list[tuple[str, int]]:
    """Waves as (zone, new tasks in that zone once the wave is done), cumulative per zone:
    one task in the first zone, then that zone in full, then the others."""
    wanted = spread(Counter(old_zones), desired)
    zones = sorted(wanted)
    if not zones:
        return []
    waves = []
    if wanted[zones[0]] > 1:
        waves.append((zones[0], 1))
    return waves + [(zone, wanted[zone]) for zone in zones]


def replan(rollout: Rollout, desired: int) -> None:
    """Plan the waves again for a new desiredCount, going on at the same zone (and at the
    first zone's one task, when that wave is still the current one and still planned)."""
    old_zones = [zone for zone, count in rollout.old_zones.items() for _ in range(count)]
    waves, index = rollout.waves, rollout.wave
    again = plan(old_zones, desired)
    if index >= len(waves):
        index = len(again)
    else:
        zone = waves[index][0]
        first_task = index == 0 and len(waves) > len(rollout.old_zones)
        places = [i for i, (z, _) in enumerate(again) if z == zone]
        index = places[0] if first_task else places[-1]
    rollout.waves, rollout.wave, rollout.waves_for = again, index, desired


def step(rollout: Rollout, desired: int, now: float, bake: float, mine: list, healthy: list,
         old: list, zone_of) -> tuple[int, str | None, list, list]:
    """This pass of a wave deployment: (new tasks to start, the zone to start them in,
    old tasks to stop, surplus new tasks to stop). `zone_of(task)` is a task's
    availability zone."""
    waves = rollout.waves
    index = rollout.wave
    share = dict(waves)  # each zone's last wave: its share of desiredCount
    # Zones whose waves are done hold their share (it changes with desiredCount).
    for zone in dict.fromkeys(z for z, _ in waves[:index]):
        if any(z == zone for z, _ in waves[index:]):
            continue  # its one-task wave is done, its full wave is not
        here = [t for t in mine if zone_of(t) == zone]
        if len(here) < share[zone]:
            return share[zone] - len(here), zone, [], []
        if len(here) > share[zone]:
            return 0, None, [], here[share[zone]:]
    while index < len(waves):
        zone, target = waves[index]
        here = [t for t in mine if zone_of(t) == zone]
        ready = sum(zone_of(t) == zone for t in healthy)
        if len(here) < target:
            return target - len(here), zone, [], []
        if len(here) > target:
            return 0, None, [], here[target:]
        # The zone's old tasks go as its new ones become healthy, one for one, down to
        # what its share needs.
        old_here = [t for t in old if zone_of(t) == zone]
        keep = max(0, min(rollout.old_zones.get(zone, 0), share[zone]) - ready)
        if len(old_here) > keep:
            return 0, None, old_here[:len(old_here) - keep], []
        if ready < target:
            return 0, None, [], []
        if rollout.wave_at is None:
            rollout.wave_at = now
        if now < rollout.wave_at + bake and index + 1 < len(waves):
            return 0, None, [], []  # the wave bakes, with the deployment's alarms watching
        index += 1
        rollout.wave, rollout.wave_at = index, None
    # Every wave is done: what is left of the old revision goes.
    return max(0, desired - len(mine)), None, list(old), mine[desired:]


def start(rollout: Rollout, desired: int, old_zones: list[str]) -> None:
    """Plan the waves of a new deployment from where the old tasks run."""
    rollout.waves = plan(old_zones, desired)
    rollout.old_zones = dict(Counter(old_zones))
    rollout.wave, rollout.waves_for = 0, desired


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
        self.stop_primary: list = []   # new tasks over their zone's share to stop

    def zone_of(self, task) -> str | None:
        return self.zones.get(task.arn)

    def step(self, mine: list, healthy: list, old: list) -> Step:
        rollout, desired = self.rollout, self.deployment["desiredCount"]
        wave = rollout.wave if rollout.waves is not None else None
        if rollout.waves is None:
            start(rollout, desired, [self.zone_of(t) for t in old])
        elif rollout.waves_for is None:
            rollout.waves_for = desired  # planned before Nozama recorded the count
        elif rollout.waves_for != desired:
            replan(rollout, desired)
            wave = rollout.wave if rollout.wave < len(rollout.waves) else None
            self.events.of_deployment(
                self.deployment, f"zone waves planned again for a desired count of "
                f"{desired}: " + ", ".join(f"{zone} {count}" for zone, count in
                                           dict(rollout.waves).items()) + ".")
        count, self.zone, self.stop, self.stop_primary = step(
            rollout, desired, self.now, self.bake, mine, healthy, old, self.zone_of)
        if rollout.wave != wave and rollout.wave < len(rollout.waves):
            zone, target = rollout.waves[rollout.wave]
            self.events.of_deployment(
                self.deployment, f"zone wave {rollout.wave + 1} of {len(rollout.waves)}: "
                f"{zone}, {target} task{'s' if target != 1 else ''}.")
        return Step(count, len(self.stop), len(self.stop_primary))
