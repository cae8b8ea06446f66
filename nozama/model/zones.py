"""A region's availability zones: `<region>a`, `<region>b` and `<region>c`.

Zones are failure domains; a cluster spans them so that losing one costs a third
of its capacity. Every part that names a zone (agents, subnets, load balancers)
asks here whether it belongs to a region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LETTERS = "abc"
# us-east-1, eu-west-3, ap-southeast-2, us-gov-west-1, ...
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def zones_of(region: str) -> list[str]:
    return [f"{region}{letter}" for letter in LETTERS]


def region_of(zone: str) -> str | None:
    """The region a zone name belongs to, or None when it names no zone."""
    if len(zone) < 2 or zone[-1] not in LETTERS or not _REGION.fullmatch(zone[:-1]):
        return None
    return zone[:-1]


def is_zone_of(zone: str, region: str) -> bool:
    return region_of(zone) == region


def refusal(zone: str, region: str) -> str | None:
    """Why `zone` cannot be used in `region`, or None when it can."""
    if is_zone_of(zone, region):
        return None
    return (f"Availability zone {zone!r} is not a zone of region {region} (its zones are "
            f"{', '.join(zones_of(region))}).")


@dataclass(frozen=True)
class Zone:
    """A zone as EC2 describes it: its name and its zone id in AWS's form (us-east-1a is
    use1-az1), the id CreateSubnet's AvailabilityZoneId takes."""
    name: str        # us-east-1a
    zone_id: str     # use1-az1
    region: str


# The abbreviations AWS's zone ids use for a region name's middle part.
_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
               "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}


def _region_code(region: str) -> str:
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    middle = "".join(_DIRECTIONS.get(p, p[:1]) for p in parts[1:-1])
    return f"{parts[0]}{middle}{parts[-1]}"


def zones(region: str) -> list[Zone]:
    code = _region_code(region)
    return [Zone(name, f"{code}-az{i}", region) for i, name in enumerate(zones_of(region), 1)]


def by_name(region: str, name: str) -> Zone | None:
    return next((z for z in zones(region) if z.name == name), None)


def by_id(region: str, zone_id: str) -> Zone | None:
    return next((z for z in zones(region) if z.zone_id == zone_id), None)
