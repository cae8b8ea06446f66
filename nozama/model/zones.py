"""A region's availability zones: `<region>a`, `<region>b` and `<region>c`.

Zones are failure domains; a cluster spans them so that losing one costs a third
of its capacity. Every part that names a zone (agents, subnets, load balancers)
asks here whether it belongs to a region.
"""

from __future__ import annotations

import re

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
