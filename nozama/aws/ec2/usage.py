"""What uses a VPC, subnet or security group: the region's load balancers (at most 50,
ELBv2's quota), so that deleting one they are in is refused as EC2 refuses it."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel.context import RequestContext
from nozama.store import load_balancers as lb_store

_ALL = 1000


def load_balancers_in(ctx: RequestContext, conn: Connection, vpc_id: str | None = None,
                      subnet_id: str | None = None, group_id: str | None = None) -> list[str]:
    """ARNs of the region's load balancers in that VPC, subnet or security group."""
    found = []
    for row in lb_store.page(conn, ctx.region, ctx.account_id, "", _ALL):
        doc = row.doc
        if (vpc_id and doc.get("VpcId") == vpc_id) \
                or (subnet_id and subnet_id in [z["SubnetId"] for z in doc["AvailabilityZones"]]) \
                or (group_id and group_id in doc.get("SecurityGroups", [])):
            found.append(row.arn)
    return found
