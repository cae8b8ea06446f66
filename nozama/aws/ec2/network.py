"""Making VPCs, subnets and default security groups, and each region's default VPC.

The default VPC of a region is made by the first request that needs it, whichever
server takes it: its rows have ids derived from the account and region
(model/networks.py) and are inserted only if absent, so two first requests at once
make one default VPC. Every VPC gets a security group named "default" with AWS's
default rules: all traffic in from its own members, all traffic out.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import Connection

from nozama.kernel.context import RequestContext
from nozama.model import networks
from nozama.model.zones import Zone
from nozama.store import security_group_rules as rule_store
from nozama.store import security_groups as group_store
from nozama.store import subnets as subnet_store
from nozama.store import vpcs as vpc_store
from nozama.aws.ec2.common import arn


def ensure_default_vpc(ctx: RequestContext) -> None:
    """Make the region's default VPC unless it is there (a read, most of the time)."""
    vpc_id = networks.default_vpc_id(ctx.account_id, ctx.region)
    with ctx.store.read() as conn:
        if vpc_store.get(conn, ctx.region, ctx.account_id, vpc_id) is not None:
            return
    with ctx.store.write() as conn:
        if not create_vpc(ctx, conn, vpc_id, networks.DEFAULT_VPC_CIDR, is_default=True):
            return  # another request made it first
        for zone, block in networks.default_subnets(ctx.region):
            create_subnet(ctx, conn, networks.default_subnet_id(ctx.account_id, ctx.region,
                                                                zone.name),
                          vpc_id, ipaddress.IPv4Network(block), zone, is_default=True)


def create_vpc(ctx: RequestContext, conn: Connection, vpc_id: str, cidr_block: str,
               is_default: bool = False) -> bool:
    """Insert a VPC and its default security group; False when a default VPC of that
    id was already there."""
    doc = {"VpcId": vpc_id, "State": "available", "CidrBlock": cidr_block,
           "DhcpOptionsId": "dopt-" + vpc_id[4:], "InstanceTenancy": "default",
           "IsDefault": is_default, "OwnerId": ctx.account_id,
           "CidrBlockAssociationSet": [{
               "AssociationId": f"vpc-cidr-assoc-{vpc_id[4:]}", "CidrBlock": cidr_block,
               "CidrBlockState": {"State": "associated"}}],
           "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"}}
    if not vpc_store.create(conn, ctx.region, ctx.account_id, vpc_id, cidr_block, is_default,
                            ctx.clock.now(), doc, if_absent=is_default):
        return False
    group_id = networks.default_group_id(ctx.account_id, ctx.region, vpc_id) if is_default \
        else networks.new_id("sg")
    create_group(ctx, conn, group_id, vpc_id, networks.DEFAULT_GROUP,
                 "default VPC security group", from_itself=True)
    return True


def create_subnet(ctx: RequestContext, conn: Connection, subnet_id: str, vpc_id: str,
                  block: ipaddress.IPv4Network, zone: Zone, is_default: bool = False) -> dict:
    doc = {"SubnetId": subnet_id, "SubnetArn": arn(ctx, subnet_id), "VpcId": vpc_id,
           "State": "available", "CidrBlock": str(block),
           "AvailabilityZone": zone.name, "AvailabilityZoneId": zone.zone_id,
           "AvailableIpAddressCount": networks.available_addresses(block),
           "DefaultForAz": is_default, "MapPublicIpOnLaunch": is_default,
           "MapCustomerOwnedIpOnLaunch": False, "AssignIpv6AddressOnCreation": False,
           "Ipv6CidrBlockAssociationSet": [], "Ipv6Native": False, "EnableDns64": False,
           "OwnerId": ctx.account_id,
           "PrivateDnsNameOptionsOnLaunch": {
               "HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
               "EnableResourceNameDnsAAAARecord": False},
           "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"}}
    subnet_store.create(conn, ctx.region, ctx.account_id, subnet_id, vpc_id, str(block),
                        zone.name, is_default, doc, if_absent=is_default)
    return doc


def create_group(ctx: RequestContext, conn: Connection, group_id: str, vpc_id: str,
                 name: str, description: str, from_itself: bool = False) -> None:
    """A security group with AWS's egress rule (all out); the default group also lets in
    all traffic from its own members."""
    doc = {"GroupId": group_id, "GroupName": name, "Description": description,
           "VpcId": vpc_id, "OwnerId": ctx.account_id,
           "SecurityGroupArn": arn(ctx, group_id)}
    group_store.create(conn, ctx.region, ctx.account_id, group_id, vpc_id, name, doc)
    rules = [{"rule_id": networks.new_id("sgr"), "group_id": group_id, "is_egress": True,
              "ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0"}]
    if from_itself:
        rules.append({"rule_id": networks.new_id("sgr"), "group_id": group_id,
                      "is_egress": False, "ip_protocol": "-1", "referenced_group_id": group_id})
    rule_store.add(conn, rules)
