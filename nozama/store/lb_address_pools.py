"""The lb_address_pools table: the addresses load balancers take theirs from.

A data plane's host owns a pool (`nozama lb --address-pool 198.18.64.0/24`) and
records it here; CreateLoadBalancer gives each load balancer a free address of the
recorded pools, so that clients on other hosts reach it. With no pool recorded,
load balancers take loopback addresses (127.77.0.0/16): one machine's Nozama.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql


def record(conn: Connection, cidr: str, owner: str, at: datetime) -> str | None:
    """Record `owner`'s pool; why not, when it overlaps another owner's."""
    pool = ipaddress.ip_network(cidr)
    for row in sql.all_rows(conn, "SELECT * FROM lb_address_pools WHERE cidr != ?", (cidr,)):
        if row.owner != owner and ipaddress.ip_network(row.cidr).overlaps(pool):
            return f"{cidr} overlaps {row.cidr}, the pool of the data plane on {row.owner}"
    if not sql.run(conn, "UPDATE lb_address_pools SET owner = ?, seen_at = ? WHERE cidr = ?",
                   (owner, at, cidr)):
        sql.run(conn, "INSERT INTO lb_address_pools (cidr, owner, seen_at) VALUES (?, ?, ?)",
                (cidr, owner, at))
    return None


def forget(conn: Connection, owner: str, keep: str | None = None) -> None:
    """Drop the pools `owner` recorded earlier, except `keep` (its pool now)."""
    sql.run(conn, "DELETE FROM lb_address_pools WHERE owner = ? AND cidr != ?",
            (owner, keep or ""))


def cidrs(conn: Connection) -> list[str]:
    return sql.column(conn, "SELECT cidr FROM lb_address_pools ORDER BY cidr")
