"""DescribeAvailabilityZones: the region's three zones, always available."""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import ec2_filters, zones
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import check_filters

FILTERS = {
    "zone-name": lambda z: z["ZoneName"],
    "zone-id": lambda z: z["ZoneId"],
    "state": lambda z: z["State"],
    "region-name": lambda z: z["RegionName"],
    "zone-type": lambda z: z["ZoneType"],
    "group-name": lambda z: z["GroupName"],
    "group-long-name": lambda z: z["GroupLongName"],
    "opt-in-status": lambda z: z["OptInStatus"],
    "network-border-group": lambda z: z["NetworkBorderGroup"],
}


def shown(zone: zones.Zone) -> dict:
    return {"ZoneName": zone.name, "ZoneId": zone.zone_id, "State": "available",
            "OptInStatus": "opt-in-not-required", "Messages": [], "RegionName": zone.region,
            "GroupName": zone.region, "GroupLongName": zone.region,
            "NetworkBorderGroup": zone.region, "ZoneType": "availability-zone"}


@handlers.operation("DescribeAvailabilityZones")
def describe(ctx: RequestContext, params: dict) -> dict:
    filters = check_filters(params, FILTERS)
    found = zones.zones(ctx.region)
    names, ids = params.get("ZoneNames") or [], params.get("ZoneIds") or []
    unknown = [n for n in names if zones.by_name(ctx.region, n) is None]
    if unknown:
        raise errors.ec2.InvalidParameterValue(
            f"Invalid availability zone: [{', '.join(unknown)}]")
    unknown = [i for i in ids if zones.by_id(ctx.region, i) is None]
    if unknown:
        raise errors.ec2.InvalidParameterValue(
            f"Invalid availability zone ID: [{', '.join(unknown)}]")
    if names or ids:
        found = [z for z in found if z.name in names or z.zone_id in ids]
    return {"AvailabilityZones": [z for z in map(shown, found)
                                  if ec2_filters.matches(z, {}, filters, FILTERS)]}
