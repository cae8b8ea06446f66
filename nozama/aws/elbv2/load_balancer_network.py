"""SetSubnets and SetSecurityGroups: a load balancer's subnets (in its VPC) and security
groups, checked as CreateLoadBalancer checks them (networking.py)."""

from __future__ import annotations

from nozama.kernel.context import RequestContext
from nozama.aws.elbv2 import handlers, networking
from nozama.aws.elbv2.common import load_balancer
from nozama.store import load_balancers as lb_store


@handlers.operation("SetSubnets")
def set_subnets(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        vpc_id = load_balancer(ctx, conn, params["LoadBalancerArn"]).doc["VpcId"]
    _, zones = networking.subnets(ctx, networking.requested_subnets(params), vpc_id)
    with ctx.store.write() as conn:
        row = load_balancer(ctx, conn, params["LoadBalancerArn"])
        lb_store.save(conn, row.arn, {**row.doc, "AvailabilityZones": zones})
        lb_store.bump_generation(conn)
    return {"AvailabilityZones": zones, "IpAddressType": row.doc.get("IpAddressType", "ipv4")}


@handlers.operation("SetSecurityGroups")
def set_security_groups(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        vpc_id = load_balancer(ctx, conn, params["LoadBalancerArn"]).doc["VpcId"]
    # Unlike CreateLoadBalancer, an empty list here means no security groups at all.
    groups = networking.security_groups(ctx, vpc_id, params["SecurityGroups"]) \
        if params["SecurityGroups"] else []
    with ctx.store.write() as conn:
        row = load_balancer(ctx, conn, params["LoadBalancerArn"])
        lb_store.save(conn, row.arn, {**row.doc, "SecurityGroups": groups})
    return {"SecurityGroupIds": groups}
