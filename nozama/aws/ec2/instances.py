"""DescribeInstances: ECS's container instances, seen as the EC2 instances they run on.

Each registered container instance with an EC2 instance id (its ec2InstanceId) is an
instance in the default VPC's subnet of its zone: running while its agent is connected,
stopped while it is not, terminated once deregistered. Its address is the one its
agent registered, its type and zone the ECS attributes it registered with."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import networks
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import describe, with_tags
from nozama.aws.ec2.network import ensure_default_vpc
from nozama.store import attributes as attribute_store
from nozama.store import container_instances as instance_store

# EC2's instance state codes.
_STATES = {"running": 16, "stopped": 80, "terminated": 48}

FILTERS = {
    "instance-id": lambda i: i["InstanceId"],
    "availability-zone": lambda i: i["Placement"].get("AvailabilityZone"),
    "instance-state-name": lambda i: i["State"]["Name"],
    "instance-state-code": lambda i: i["State"]["Code"],
    "instance-type": lambda i: i.get("InstanceType"),
    "private-ip-address": lambda i: i.get("PrivateIpAddress"),
    "subnet-id": lambda i: i.get("SubnetId"),
    "vpc-id": lambda i: i.get("VpcId"),
}


def _check(instance_id: str) -> None:
    if not networks.well_formed(instance_id, "i"):
        raise errors.ec2.InvalidInstanceID_Malformed(f'Invalid id: "{instance_id}"')


def _missing(ids: list[str]) -> errors.ServiceError:
    if len(ids) == 1:
        return errors.ec2.InvalidInstanceID_NotFound(
            f"The instance ID '{ids[0]}' does not exist")
    return errors.ec2.InvalidInstanceID_NotFound(
        f"The instance IDs '{', '.join(ids)}' do not exist")


def instance(ctx: RequestContext, conn: Connection, instance_id: str):
    _check(instance_id)
    rows = instance_store.as_ec2_instances(conn, ctx.region, ctx.account_id, [instance_id],
                                           "", 1)
    if not rows:
        raise _missing([instance_id])
    return rows[0]


def _state(row) -> str:
    if row.status == "INACTIVE":
        return "terminated"
    return "running" if row.agent_connected else "stopped"


def shown(ctx: RequestContext, conn: Connection, row, tags: dict[str, str]) -> dict:
    attributes = attribute_store.of_targets(conn, row.cluster_arn, [row.arn])[row.arn]
    zone = attributes.get("ecs.availability-zone")
    state = _state(row)
    found = {"InstanceId": row.ec2_instance_id, "State": {"Code": _STATES[state], "Name": state},
             "LaunchTime": row.registered_at, "Placement": {"Tenancy": "default"},
             "Architecture": "x86_64", "Hypervisor": "xen", "RootDeviceType": "ebs",
             "VirtualizationType": "hvm", "AmiLaunchIndex": 0, "ProductCodes": [],
             "Monitoring": {"State": "disabled"}}
    if attributes.get("ecs.instance-type"):
        found["InstanceType"] = attributes["ecs.instance-type"]
    # The address its agent registered (none for an instance registered by hand).
    if row.address:
        found["PrivateIpAddress"] = row.address
    if zone and zone.startswith(ctx.region) and state != "terminated":
        vpc_id = networks.default_vpc_id(ctx.account_id, ctx.region)
        found["Placement"]["AvailabilityZone"] = zone
        found["SubnetId"] = networks.default_subnet_id(ctx.account_id, ctx.region, zone)
        found["VpcId"] = vpc_id
        group_id = networks.default_group_id(ctx.account_id, ctx.region, vpc_id)
        found["SecurityGroups"] = [{"GroupId": group_id, "GroupName": networks.DEFAULT_GROUP}]
    elif zone:
        found["Placement"]["AvailabilityZone"] = zone
    return with_tags(found, tags)


def _reservation(ctx: RequestContext, item: dict) -> dict:
    # One reservation per instance, with an id derived from the instance's.
    digest = hashlib.sha256(item["InstanceId"].encode()).hexdigest()[:17]
    return {"ReservationId": f"r-{digest}", "OwnerId": ctx.account_id, "Groups": [],
            "Instances": [item]}


@handlers.operation("DescribeInstances")
def describe_instances(ctx: RequestContext, params: dict) -> dict:
    for instance_id in params.get("InstanceIds") or []:
        _check(instance_id)
    ensure_default_vpc(ctx)
    found, more = describe(
        ctx, params, "DescribeInstances", "InstanceIds",
        lambda conn, ids, after, limit: instance_store.as_ec2_instances(
            conn, ctx.region, ctx.account_id, ids, after, limit),
        lambda row: row.ec2_instance_id, _missing, FILTERS,
        lambda conn, row, tags: shown(ctx, conn, row, tags))
    return {"Reservations": [_reservation(ctx, item) for item in found], **more}

