"""CreateVpc, DescribeVpcs and DeleteVpc."""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import networks
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import (arn, checked_ids, describe, put_tags, tags_on_create, vpc,
                                   vpcs_missing, with_tags)
from nozama.aws.ec2.network import create_vpc, ensure_default_vpc
from nozama.aws.ec2.usage import load_balancers_in
from nozama.store import security_groups as group_store
from nozama.store import subnets as subnet_store
from nozama.store import tags as tag_store
from nozama.store import vpcs as vpc_store

# VPCs per region, the default VPC included: AWS's default quota.
MAX_VPCS = 5

FILTERS = {
    "vpc-id": lambda v: v["VpcId"],
    "cidr": lambda v: v["CidrBlock"],
    "cidr-block-association.cidr-block": lambda v: v["CidrBlock"],
    "state": lambda v: v["State"],
    "is-default": lambda v: v["IsDefault"],
    "owner-id": lambda v: v["OwnerId"],
    "dhcp-options-id": lambda v: v["DhcpOptionsId"],
}


def cidr_block(params: dict, name: str = "cidrBlock"):
    text = params.get("CidrBlock")
    if text is None:
        raise errors.ec2.MissingParameter(f"The request must contain the parameter {name}")
    block = networks.ipv4_block(text)
    if block is None:
        raise errors.ec2.InvalidParameterValue(
            f"Value ({text}) for parameter {name} is invalid. This is not a valid CIDR block.")
    return block


@handlers.operation("CreateVpc")
def create(ctx: RequestContext, params: dict) -> dict:
    if params.get("Ipv4IpamPoolId") or params.get("Ipv6IpamPoolId") \
            or params.get("AmazonProvidedIpv6CidrBlock") or params.get("Ipv6CidrBlock"):
        raise errors.ec2.InvalidParameterValue(
            "Nozama's VPCs have an IPv4 CIDR block only: IPAM pools and IPv6 blocks are "
            "not supported")
    block = cidr_block(params)
    if not networks.size_allowed(block):
        raise errors.ec2.InvalidVpc_Range(f"The CIDR '{params['CidrBlock']}' is invalid.")
    tags = tags_on_create(params.get("TagSpecifications"), "vpc")
    ensure_default_vpc(ctx)
    vpc_id = networks.new_id("vpc")
    with ctx.store.write() as conn:
        if vpc_store.count(conn, ctx.region, ctx.account_id) >= MAX_VPCS:
            raise errors.ec2.VpcLimitExceeded("The maximum number of VPCs has been reached.")
        create_vpc(ctx, conn, vpc_id, str(block))
        put_tags(ctx, conn, vpc_id, tags)
        row = vpc_store.get(conn, ctx.region, ctx.account_id, vpc_id)
    return {"Vpc": with_tags(row.doc, tags)}


@handlers.operation("DescribeVpcs")
def describe_vpcs(ctx: RequestContext, params: dict) -> dict:
    checked_ids(params.get("VpcIds"), "vpc", errors.ec2.InvalidVpcID_Malformed)
    ensure_default_vpc(ctx)
    found, more = describe(
        ctx, params, "DescribeVpcs", "VpcIds",
        lambda conn, ids, after, limit: vpc_store.page(conn, ctx.region, ctx.account_id, ids,
                                                       after, limit),
        lambda row: row.vpc_id, vpcs_missing, FILTERS,
        lambda conn, row, tags: with_tags(row.doc, tags))
    return {"Vpcs": found, **more}


@handlers.operation("DeleteVpc")
def delete(ctx: RequestContext, params: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        row = vpc(ctx, conn, params["VpcId"])
        if row.is_default:
            raise errors.ec2.OperationNotPermitted(
                f"The default VPC '{row.vpc_id}' cannot be deleted: Nozama keeps a default VPC "
                "in every region.")
        if subnet_store.count_in_vpc(conn, row.vpc_id) or \
                group_store.count_in_vpc(conn, row.vpc_id) > 1 or \
                load_balancers_in(ctx, conn, vpc_id=row.vpc_id):
            raise errors.ec2.DependencyViolation(
                f"The vpc '{row.vpc_id}' has dependencies and cannot be deleted.")
        default = group_store.by_name(conn, row.vpc_id, networks.DEFAULT_GROUP)
        if default is not None:
            group_store.delete(conn, default.group_id)
            tag_store.remove_all(conn, default.doc["SecurityGroupArn"])
        tag_store.remove_all(conn, arn(ctx, row.vpc_id))
        vpc_store.delete(conn, row.vpc_id)
    return {}
