"""A load balancer's subnets and security groups, checked against EC2's (aws/ec2/).

Every subnet must exist in the region, all in one VPC, at most one per zone, and an
application load balancer needs two zones at least; its security groups must be of
that VPC, and none given means the VPC's default group. The load balancer's VpcId and
AvailabilityZones come from them."""

from __future__ import annotations

from dataclasses import dataclass

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.aws.ec2 import lookup


@dataclass
class Network:
    vpc_id: str
    zones: list[dict]              # AvailabilityZones: ZoneName, SubnetId
    security_groups: list[str]


def requested_subnets(params: dict) -> list[str]:
    if params.get("Subnets") and params.get("SubnetMappings"):
        raise ValidationError("Subnets and SubnetMappings cannot be used together")
    return params.get("Subnets") or [m.get("SubnetId", "") for m in
                                     params.get("SubnetMappings") or []]


def subnets(ctx: RequestContext, requested: list[str],
            vpc_id: str | None = None) -> tuple[str, list[dict]]:
    """(VPC id, AvailabilityZones) of the subnets asked for; `vpc_id` the VPC they must
    be in (SetSubnets: the load balancer's)."""
    lookup.ensure_default_vpc(ctx)
    with ctx.store.read() as conn:
        found = lookup.subnets(ctx, conn, requested)
    for subnet_id in requested:
        if subnet_id not in found:
            raise errors.elbv2.SubnetNotFoundException(f"The subnet ID '{subnet_id}' is not valid")
    rows = [found[s] for s in dict.fromkeys(requested)]
    if len({r.vpc_id for r in rows} | ({vpc_id} if vpc_id else set())) > 1:
        raise errors.elbv2.InvalidConfigurationRequestException(
            f"The subnets {', '.join(r.subnet_id for r in rows)} are not all in "
            f"{'VPC ' + vpc_id if vpc_id else 'one VPC'}: a load balancer's subnets must "
            "belong to one VPC")
    zones = [r.availability_zone for r in rows]
    if len(set(zones)) < len(zones):
        raise errors.elbv2.InvalidConfigurationRequestException(
            "A load balancer cannot be attached to multiple subnets in the same Availability "
            "Zone")
    if len(zones) < 2:
        raise ValidationError("At least two subnets in two different Availability Zones must be "
                              "specified")
    return rows[0].vpc_id, [{"ZoneName": r.availability_zone, "SubnetId": r.subnet_id,
                             "LoadBalancerAddresses": []} for r in rows]


def security_groups(ctx: RequestContext, vpc_id: str, requested: list[str] | None) -> list[str]:
    """The groups asked for, each of the VPC; or the VPC's default group when none is."""
    with ctx.store.read() as conn:
        if not requested:
            default = lookup.default_group(conn, vpc_id)
            return [default] if default else []
        found = lookup.security_groups(ctx, conn, requested)
    for group_id in requested:
        row = found.get(group_id)
        if row is None:
            raise errors.elbv2.InvalidSecurityGroupException(
                f"Security group '{group_id}' does not exist")
        if row.vpc_id != vpc_id:
            raise errors.elbv2.InvalidSecurityGroupException(
                f"Security group '{group_id}' does not belong to VPC '{vpc_id}'")
    return list(dict.fromkeys(requested))


def network(ctx: RequestContext, params: dict) -> Network:
    """CreateLoadBalancer's VPC, zones and security groups."""
    vpc_id, zones = subnets(ctx, requested_subnets(params))
    return Network(vpc_id, zones, security_groups(ctx, vpc_id, params.get("SecurityGroups")))


def check_vpc(ctx: RequestContext, vpc_id: str) -> None:
    """A target group's VpcId must name a VPC of the region."""
    lookup.ensure_default_vpc(ctx)
    with ctx.store.read() as conn:
        if lookup.vpc(ctx, conn, vpc_id) is None:
            raise ValidationError(f"The VPC ID '{vpc_id}' is not found")
