"""The VPCs, subnets and security groups other services are given (ELBv2's load
balancers and target groups, ECS's awsvpc tasks), found for them to check: each
service answers a missing one with its own error, so these return rows or None and
raise nothing."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel.context import RequestContext
from nozama.model import networks
from nozama.aws.ec2.network import ensure_default_vpc
from nozama.store import security_groups as group_store
from nozama.store import subnets as subnet_store
from nozama.store import vpcs as vpc_store

__all__ = ["ensure_default_vpc", "vpc", "subnets", "security_groups", "default_group"]


def vpc(ctx: RequestContext, conn: Connection, vpc_id: str):
    return vpc_store.get(conn, ctx.region, ctx.account_id, vpc_id)


def subnets(ctx: RequestContext, conn: Connection, ids: list[str]) -> dict[str, object]:
    """{subnet id: row} of those of `ids` that exist in the caller's region."""
    return {r.subnet_id: r for r in subnet_store.get_many(conn, ctx.region, ctx.account_id,
                                                          list(dict.fromkeys(ids)))}


def security_groups(ctx: RequestContext, conn: Connection, ids: list[str]) -> dict[str, object]:
    return {r.group_id: r for r in group_store.get_many(conn, ctx.region, ctx.account_id,
                                                        list(dict.fromkeys(ids)))}


def default_group(conn: Connection, vpc_id: str) -> str | None:
    row = group_store.by_name(conn, vpc_id, networks.DEFAULT_GROUP)
    return None if row is None else row.group_id
