"""A task's or service's networkConfiguration.awsvpcConfiguration, checked against EC2's
subnets and security groups (aws/ec2/) as ECS checks them: every subnet and group must
exist in the region, the groups in the subnets' VPC. (Running tasks in awsvpc mode,
with interfaces of their own, is issue 21; this only refuses what ECS refuses.)"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.ec2 import lookup


def check_awsvpc(ctx: RequestContext, params: dict) -> None:
    """Refuse an awsvpcConfiguration naming subnets or security groups that are not
    there. Call it before the request's write transaction."""
    config = (params.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if not config:
        return
    subnets, groups = config.get("subnets") or [], config.get("securityGroups") or []
    if not subnets:
        raise errors.ecs.InvalidParameterException(
            "subnets can not be empty.")
    lookup.ensure_default_vpc(ctx)
    with ctx.store.read() as conn:
        found = lookup.subnets(ctx, conn, subnets)
        found_groups = lookup.security_groups(ctx, conn, groups)
    missing = [s for s in subnets if s not in found]
    if missing:
        raise errors.ecs.InvalidParameterException(
            f"Error retrieving subnet information for [{', '.join(missing)}]: The subnet ID "
            f"'{missing[0]}' does not exist")
    vpcs = {found[s].vpc_id for s in subnets}
    if len(vpcs) > 1:
        raise errors.ecs.InvalidParameterException(
            "Subnets must all be in the same VPC.")
    missing = [g for g in groups if g not in found_groups]
    if missing:
        raise errors.ecs.InvalidParameterException(
            f"Error retrieving security group information for [{', '.join(missing)}]: The "
            f"security group '{missing[0]}' does not exist")
    elsewhere = [g for g in groups if found_groups[g].vpc_id not in vpcs]
    if elsewhere:
        raise errors.ecs.InvalidParameterException(
            f"Security group {elsewhere[0]} is not in the VPC of the subnets.")
