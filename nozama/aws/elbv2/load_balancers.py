"""CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer and their attributes.

Each load balancer gets a loopback address of its own (127.77.x.y), so that
two load balancers can both listen on port 80, and a DNS name under
`.elb.localhost` that the data plane makes resolve to it. Its State is
`provisioning` until a data plane (`nozama lb`) serves it, then `active`
(model/lb_presence.py).
"""

from __future__ import annotations

import random

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import address_pools, lb_attributes, lb_presence
from nozama.aws.elbv2 import handlers
from nozama.aws.elbv2 import networking
from nozama.aws.elbv2.common import (arn, attributes_of, check_name, load_balancer,
                                     modify_attributes, marker, names_or_arns, new_id, page_size,
                                     here, paged, put_tags, tags_of_request)
from nozama.aws.elbv2.networking import Network
from nozama.store import lb_address_pools as pool_store
from nozama.store import load_balancers as lb_store

MAX_LOAD_BALANCERS = 50
ADDRESS_PREFIX = "127.77"
HOSTED_ZONE_ID = "Z00NOZAMALOCAL"


def _address(conn: Connection) -> str:
    """A free address of the data planes' pools (lb_address_pools); without one, of
    127.77.0.0/16, drawn at random: two Nozamas on one machine (each with its own store)
    then almost never hand out the same one."""
    taken = lb_store.addresses(conn)
    pools = pool_store.cidrs(conn)
    if pools:
        address = address_pools.free_address(pools, taken)
        if address is None:
            raise errors.elbv2.InvalidSubnetException(
                f"No address is left for another load balancer: the load balancers' "
                f"address pool {', '.join(pools)} ({address_pools.size(pools)} addresses) is "
                "taken; delete a load balancer or give the data plane a larger pool.")
        return address
    for _ in range(64):
        n = random.randrange(256 * 254)
        address = f"{ADDRESS_PREFIX}.{n // 254}.{n % 254 + 1}"
        if address not in taken:
            return address
    for n in range(256 * 254):
        address = f"{ADDRESS_PREFIX}.{n // 254}.{n % 254 + 1}"
        if address not in taken:
            return address
    raise errors.elbv2.TooManyLoadBalancersException(
        "No loopback address is left for another load balancer")


def _same_request(doc: dict, params: dict, network: Network) -> bool:
    return (doc["Scheme"] == params.get("Scheme", "internet-facing")
            and [z["SubnetId"] for z in doc["AvailabilityZones"]]
            == [z["SubnetId"] for z in network.zones]
            and doc["SecurityGroups"] == network.security_groups)


@handlers.operation("CreateLoadBalancer")
def create_load_balancer(ctx: RequestContext, params: dict) -> dict:
    name = params["Name"]
    check_name(name, "Load balancer")
    if name.lower().startswith("internal-"):
        raise ValidationError("Load balancer name cannot begin with 'internal-'")
    if params.get("Type", "application") != "application":
        raise ValidationError("Nozama supports application load balancers only")
    network = networking.network(ctx, params)
    tags = tags_of_request(params.get("Tags"))
    with ctx.store.write() as conn:
        existing = lb_store.by_name(conn, ctx.region, ctx.account_id, name)
        if existing is not None:
            # Creating the same load balancer again returns it, as ELB does.
            if _same_request(existing.doc, params, network):
                return {"LoadBalancers": [_describe(existing, ctx)]}
            raise errors.elbv2.DuplicateLoadBalancerNameException(
                "A load balancer with the same name "
                f"'{name}' exists, but with different settings")
        if lb_store.count(conn, ctx.region, ctx.account_id) >= MAX_LOAD_BALANCERS:
            raise errors.elbv2.TooManyLoadBalancersException(
                "The quota of load balancers has been reached")
        scheme = params.get("Scheme", "internet-facing")
        lb_id = new_id()
        lb_arn = arn(ctx, f"loadbalancer/app/{name}/{lb_id}")
        dns = f"{'internal-' if scheme == 'internal' else ''}{name}-" \
              f"{random.randrange(10 ** 9, 10 ** 10)}.{ctx.region}.elb.localhost"
        now = ctx.clock.now()
        doc = {"LoadBalancerArn": lb_arn, "DNSName": dns, "CanonicalHostedZoneId": HOSTED_ZONE_ID,
               "CreatedTime": now.timestamp(), "LoadBalancerName": name, "Scheme": scheme,
               "VpcId": network.vpc_id, "Type": "application",
               "AvailabilityZones": network.zones, "SecurityGroups": network.security_groups,
               "IpAddressType": params.get("IpAddressType", "ipv4"),
               "Attributes": lb_attributes.defaults(lb_attributes.LOAD_BALANCER)}
        lb_store.create(conn, ctx.region, ctx.account_id, name, lb_arn, _address(conn), now, doc)
        put_tags(conn, lb_arn, tags)
        lb_store.bump_generation(conn)
        return {"LoadBalancers": [_describe(lb_store.get(conn, lb_arn), ctx)]}


def _describe(row, ctx: RequestContext) -> dict:
    """The load balancer as ELB shows it, its State from when a data plane last served it."""
    found = {k: v for k, v in row.doc.items() if k not in ("Attributes", "State")}
    found["State"] = lb_presence.state(row.served_at, ctx.clock.now(), row.served_problem)
    return found


@handlers.operation("DescribeLoadBalancers")
def describe_load_balancers(ctx: RequestContext, params: dict) -> dict:
    names_or_arns(params, "LoadBalancerArns", "Names")
    limit = page_size(params)
    with ctx.store.read() as conn:
        if params.get("LoadBalancerArns") or params.get("Names"):
            wanted = params.get("LoadBalancerArns") or params.get("Names")
            if params.get("LoadBalancerArns"):
                rows = lb_store.by_arns(conn, ctx.region, ctx.account_id, wanted)
                found = {r.arn for r in rows}
            else:
                rows = lb_store.by_names(conn, ctx.region, ctx.account_id, wanted)
                found = {r.name for r in rows}
            missing = [w for w in wanted if w not in found]
            if missing:
                raise errors.elbv2.LoadBalancerNotFoundException(
                    f"Load balancers '{missing}' not found")
            return {"LoadBalancers": [_describe(r, ctx) for r in rows]}
        rows = lb_store.page(conn, ctx.region, ctx.account_id,
                             marker(params, "DescribeLoadBalancers"), limit + 1)
    rows, more = paged(rows, limit, "DescribeLoadBalancers")
    return {"LoadBalancers": [_describe(r, ctx) for r in rows], **more}


@handlers.operation("DeleteLoadBalancer")
def delete_load_balancer(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = lb_store.get(conn, params["LoadBalancerArn"])
        if not here(ctx, row):
            return {}  # deleting what is not there succeeds, as in ELB
        if row.doc["Attributes"].get("deletion_protection.enabled") == "true":
            raise errors.elbv2.OperationNotPermittedException(
                f"Load balancer '{row.arn}' cannot be deleted because "
                "deletion protection is enabled")
        lb_store.delete(conn, row.arn)
        lb_store.bump_generation(conn)
    return {}


@handlers.operation("DescribeLoadBalancerAttributes")
def describe_load_balancer_attributes(ctx: RequestContext, params: dict) -> dict:
    return attributes_of(ctx, load_balancer, params["LoadBalancerArn"])


@handlers.operation("ModifyLoadBalancerAttributes")
def modify_load_balancer_attributes(ctx: RequestContext, params: dict) -> dict:
    return modify_attributes(ctx, load_balancer, lb_store.save, params["LoadBalancerArn"],
                             lb_attributes.LOAD_BALANCER, params["Attributes"], "Load balancer")
