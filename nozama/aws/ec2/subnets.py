"""CreateSubnet, DescribeSubnets and DeleteSubnet.

A subnet's CIDR block lies inside its VPC's, overlaps no other subnet of the VPC, and
is in one of the region's zones; AWS keeps five of its addresses."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import networks, zones
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import (arn, checked_ids, describe, put_tags, subnet,
                                   subnets_missing, tags_on_create, vpc, with_tags)
from nozama.aws.ec2.network import create_subnet, ensure_default_vpc
from nozama.aws.ec2.usage import load_balancers_in
from nozama.aws.ec2.vpcs import cidr_block
from nozama.store import subnets as subnet_store
from nozama.store import tags as tag_store

FILTERS = {
    "subnet-id": lambda s: s["SubnetId"],
    "vpc-id": lambda s: s["VpcId"],
    "cidr-block": lambda s: s["CidrBlock"],
    "cidr": lambda s: s["CidrBlock"],
    "cidrBlock": lambda s: s["CidrBlock"],
    "availability-zone": lambda s: s["AvailabilityZone"],
    "availabilityZone": lambda s: s["AvailabilityZone"],
    "availability-zone-id": lambda s: s["AvailabilityZoneId"],
    "default-for-az": lambda s: s["DefaultForAz"],
    "defaultForAz": lambda s: s["DefaultForAz"],
    "state": lambda s: s["State"],
    "owner-id": lambda s: s["OwnerId"],
    "subnet-arn": lambda s: s["SubnetArn"],
    "map-public-ip-on-launch": lambda s: s["MapPublicIpOnLaunch"],
    "available-ip-address-count": lambda s: s["AvailableIpAddressCount"],
}


def _zone(ctx: RequestContext, conn: Connection, params: dict, vpc_id: str) -> zones.Zone:
    """The zone asked for, or the zone of the VPC with the fewest subnets."""
    all_zones = zones.zones(ctx.region)
    name, zone_id = params.get("AvailabilityZone"), params.get("AvailabilityZoneId")
    if name and zone_id:
        raise errors.ec2.InvalidParameterCombination(
            "Only one of availabilityZone and availabilityZoneId may be specified")
    if name or zone_id:
        zone = zones.by_name(ctx.region, name) if name else zones.by_id(ctx.region, zone_id)
        if zone is None:
            kind, given = ("availabilityZone", name) if name else ("availabilityZoneId", zone_id)
            listed = ", ".join(z.name if name else z.zone_id for z in all_zones)
            raise errors.ec2.InvalidParameterValue(
                f"Value ({given}) for parameter {kind} is invalid. Subnets can currently only "
                f"be created in the following availability zones: {listed}.")
        return zone
    taken = subnet_store.zones_in_vpc(conn, vpc_id)
    return min(all_zones, key=lambda z: taken.count(z.name))


@handlers.operation("CreateSubnet")
def create(ctx: RequestContext, params: dict) -> dict:
    if params.get("Ipv6CidrBlock") or params.get("Ipv6Native") \
            or params.get("Ipv4IpamPoolId") or params.get("OutpostArn"):
        raise errors.ec2.InvalidParameterValue(
            "Nozama's subnets have an IPv4 CIDR block only: IPv6, IPAM pools and Outposts "
            "are not supported")
    block = cidr_block(params)
    tags = tags_on_create(params.get("TagSpecifications"), "subnet")
    ensure_default_vpc(ctx)
    subnet_id = networks.new_id("subnet")
    with ctx.store.write() as conn:
        parent = vpc(ctx, conn, params["VpcId"])
        zone = _zone(ctx, conn, params, parent.vpc_id)
        if not networks.size_allowed(block) or \
                not block.subnet_of(networks.ipv4_block(parent.cidr_block)):
            raise errors.ec2.InvalidSubnet_Range(f"The CIDR '{params['CidrBlock']}' is invalid.")
        if networks.overlapping(block, subnet_store.cidr_blocks(conn, parent.vpc_id)):
            raise errors.ec2.InvalidSubnet_Conflict(
                f"The CIDR '{params['CidrBlock']}' conflicts with another subnet")
        doc = create_subnet(ctx, conn, subnet_id, parent.vpc_id, block, zone)
        put_tags(ctx, conn, subnet_id, tags)
    return {"Subnet": with_tags(doc, tags)}


@handlers.operation("DescribeSubnets")
def describe_subnets(ctx: RequestContext, params: dict) -> dict:
    checked_ids(params.get("SubnetIds"), "subnet", errors.ec2.InvalidSubnetID_Malformed)
    ensure_default_vpc(ctx)
    found, more = describe(
        ctx, params, "DescribeSubnets", "SubnetIds",
        lambda conn, ids, after, limit: subnet_store.page(conn, ctx.region, ctx.account_id,
                                                          ids, after, limit),
        lambda row: row.subnet_id, subnets_missing, FILTERS,
        lambda conn, row, tags: with_tags(row.doc, tags))
    return {"Subnets": found, **more}


@handlers.operation("DeleteSubnet")
def delete(ctx: RequestContext, params: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        row = subnet(ctx, conn, params["SubnetId"])
        if load_balancers_in(ctx, conn, subnet_id=row.subnet_id):
            raise errors.ec2.DependencyViolation(
                f"The subnet '{row.subnet_id}' has dependencies and cannot be deleted.")
        tag_store.remove_all(conn, arn(ctx, row.subnet_id))
        subnet_store.delete(conn, row.subnet_id)
    return {}
