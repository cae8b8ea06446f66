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
record (_waves, _wave, _waveAt): a restarted control plane goes on from there.
"""

from __future__ import annotations

from collections import Counter

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


def step(primary: dict, now: float, bake: float, mine: list, healthy: list, old: list,
         zone_of) -> tuple[int, str | None, list]:
    """This pass of a wave deployment: (new tasks to start, the zone to start them in,
    old tasks to stop). `zone_of(task)` is a task's availability zone."""
    waves = primary["_waves"]
    index = primary.get("_wave", 0)
    while index < len(waves):
        zone, target = waves[index]
        have = sum(zone_of(t) == zone for t in mine)
        ready = sum(zone_of(t) == zone for t in healthy)
        if have < target:
            return target - have, zone, []
        # The zone's old tasks go as its new ones become healthy, one for one.
        old_here = [t for t in old if zone_of(t) == zone]
        keep = max(0, primary["_oldZones"].get(zone, 0) - ready)
        if len(old_here) > keep:
            return 0, None, old_here[:len(old_here) - keep]
        if ready < target:
            return 0, None, []
        if primary.get("_waveAt") is None:
            primary["_waveAt"] = now
        if now < primary["_waveAt"] + bake and index + 1 < len(waves):
            return 0, None, []  # the wave bakes, with the deployment's alarms watching
        index += 1
        primary.update(_wave=index, _waveAt=None)
    # Every wave is done: what is left of the old revision goes.
    return max(0, primary["desiredCount"] - len(mine)), None, list(old)


def start(primary: dict, old_zones: list[str]) -> None:
    """Plan the waves of a new deployment from where the old tasks run."""
    primary["_waves"] = plan(old_zones, primary["desiredCount"])
    primary["_oldZones"] = dict(Counter(old_zones))
    primary["_wave"] = 0
