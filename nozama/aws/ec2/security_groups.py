"""CreateSecurityGroup, DescribeSecurityGroups and DeleteSecurityGroup.

A group's name is unique in its VPC, and "default" is the name of the group every VPC
is made with. Its rules are recorded and shown (security_group_rules.py), not enforced
on hosts."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import networks
from nozama.model import security_group_rules as rules_model
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import (arn, checked_ids, describe, group, groups_missing, put_tags,
                                   tags_on_create, vpc, with_tags)
from nozama.aws.ec2.network import create_group, ensure_default_vpc
from nozama.aws.ec2.usage import load_balancers_in
from nozama.store import security_group_rules as rule_store
from nozama.store import security_groups as group_store
from nozama.store import tags as tag_store

FILTERS = {
    "group-id": lambda g: g["GroupId"],
    "group-name": lambda g: g["GroupName"],
    "description": lambda g: g["Description"],
    "vpc-id": lambda g: g["VpcId"],
    "owner-id": lambda g: g["OwnerId"],
    "ip-permission.protocol": lambda g: [p["IpProtocol"] for p in g["IpPermissions"]],
    "ip-permission.from-port": lambda g: [p.get("FromPort") for p in g["IpPermissions"]
                                          if "FromPort" in p],
    "ip-permission.to-port": lambda g: [p.get("ToPort") for p in g["IpPermissions"]
                                        if "ToPort" in p],
    "ip-permission.cidr": lambda g: [r["CidrIp"] for p in g["IpPermissions"]
                                     for r in p["IpRanges"]],
    "ip-permission.group-id": lambda g: [r["GroupId"] for p in g["IpPermissions"]
                                         for r in p["UserIdGroupPairs"]],
    "egress.ip-permission.cidr": lambda g: [r["CidrIp"] for p in g["IpPermissionsEgress"]
                                            for r in p["IpRanges"]],
}
_DESCRIPTION_LIMIT = 255


def show(ctx: RequestContext, conn: Connection, row, tags: dict[str, str]) -> dict:
    rules = rule_store.of_groups(conn, [row.group_id])
    ingress = [_rule(r) for r in rules if not r.is_egress]
    egress = [_rule(r) for r in rules if r.is_egress]
    return with_tags({**row.doc,
                      "IpPermissions": rules_model.ip_permissions(ingress, ctx.account_id),
                      "IpPermissionsEgress": rules_model.ip_permissions(egress, ctx.account_id)},
                     tags)


def _rule(row) -> rules_model.Rule:
    return rules_model.Rule(row.ip_protocol, row.from_port, row.to_port, row.cidr_ipv4,
                            row.referenced_group_id, row.description)


def _check_text(value: str, name: str) -> None:
    if len(value) > _DESCRIPTION_LIMIT or not value.isprintable():
        raise errors.ec2.InvalidParameterValue(
            f"Invalid value '{value[:_DESCRIPTION_LIMIT]}' for {name}. Length of {name} must "
            f"be between 1 and {_DESCRIPTION_LIMIT} printable characters.")


@handlers.operation("CreateSecurityGroup")
def create(ctx: RequestContext, params: dict) -> dict:
    name, description = params["GroupName"], params["Description"]
    if not description:
        raise errors.ec2.MissingParameter("The request must contain the parameter "
                                          "GroupDescription")
    if not name:
        raise errors.ec2.MissingParameter("The request must contain the parameter GroupName")
    _check_text(name, "groupName")
    _check_text(description, "groupDescription")
    if name.lower().startswith("sg-"):
        raise errors.ec2.InvalidParameterValue(
            "Group names may not be in the format sg-*.")
    tags = tags_on_create(params.get("TagSpecifications"), "security-group")
    ensure_default_vpc(ctx)
    group_id = networks.new_id("sg")
    with ctx.store.write() as conn:
        vpc_id = params.get("VpcId") or networks.default_vpc_id(ctx.account_id, ctx.region)
        parent = vpc(ctx, conn, vpc_id)
        if name == networks.DEFAULT_GROUP:
            raise errors.ec2.InvalidGroup_Reserved(
                "The security group 'default' is reserved")
        if group_store.by_name(conn, parent.vpc_id, name) is not None:
            raise errors.ec2.InvalidGroup_Duplicate(
                f"The security group '{name}' already exists for VPC '{parent.vpc_id}'")
        create_group(ctx, conn, group_id, parent.vpc_id, name, description)
        put_tags(ctx, conn, group_id, tags)
    found = {"GroupId": group_id, "SecurityGroupArn": arn(ctx, group_id)}
    return {**found, **({"Tags": with_tags({}, tags)["Tags"]} if tags else {})}


@handlers.operation("DescribeSecurityGroups")
def describe_groups(ctx: RequestContext, params: dict) -> dict:
    checked_ids(params.get("GroupIds"), "sg", errors.ec2.InvalidGroupId_Malformed)
    ensure_default_vpc(ctx)
    if params.get("GroupNames"):
        # GroupNames name groups of the default VPC, as in EC2.
        params = {**params, "GroupIds": _default_vpc_groups(ctx, params["GroupNames"])
                  + list(params.get("GroupIds") or [])}
    found, more = describe(
        ctx, params, "DescribeSecurityGroups", "GroupIds",
        lambda conn, ids, after, limit: group_store.page(conn, ctx.region, ctx.account_id,
                                                         ids, after, limit),
        lambda row: row.group_id, groups_missing, FILTERS,
        lambda conn, row, tags: show(ctx, conn, row, tags))
    return {"SecurityGroups": found, **more}


def _default_vpc_groups(ctx: RequestContext, names: list[str]) -> list[str]:
    vpc_id = networks.default_vpc_id(ctx.account_id, ctx.region)
    with ctx.store.read() as conn:
        return [by_name(ctx, conn, vpc_id, name).group_id for name in names]


def by_name(ctx: RequestContext, conn: Connection, vpc_id: str, name: str):
    row = group_store.by_name(conn, vpc_id, name)
    if row is None:
        raise errors.ec2.InvalidGroup_NotFound(
            f"The security group '{name}' does not exist in VPC '{vpc_id}'")
    return row


def target(ctx: RequestContext, conn: Connection, params: dict):
    """The group a request names by GroupId, or by GroupName in the default VPC."""
    if params.get("GroupId"):
        return group(ctx, conn, params["GroupId"])
    if params.get("GroupName"):
        return by_name(ctx, conn, networks.default_vpc_id(ctx.account_id, ctx.region),
                       params["GroupName"])
    raise errors.ec2.MissingParameter("The request must contain the parameter groupName or "
                                      "groupId")


@handlers.operation("DeleteSecurityGroup")
def delete(ctx: RequestContext, params: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        row = target(ctx, conn, params)
        if row.group_name == networks.DEFAULT_GROUP:
            raise errors.ec2.CannotDelete(
                f'the specified group: "{row.group_id}" name: "default" cannot be deleted by '
                "a user")
        if rule_store.referencing(conn, row.group_id) or \
                load_balancers_in(ctx, conn, group_id=row.group_id):
            raise errors.ec2.DependencyViolation(
                f"resource {row.group_id} has a dependent object")
        tag_store.remove_all(conn, arn(ctx, row.group_id))
        group_store.delete(conn, row.group_id)
    return {"Return": True, "GroupId": row.group_id}
