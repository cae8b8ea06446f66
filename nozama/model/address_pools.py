"""Load balancers' address pools: which addresses of a pool a load balancer may take.

A data plane's host owns a pool (store/lb_address_pools.py records it); each load
balancer takes one address of it (CreateLoadBalancer, and the data plane for those
made before the pool was recorded).
"""

from __future__ import annotations

import ipaddress


def free_address(pools: list[str], taken: set[str]) -> str | None:
    """The first address of the pools that no load balancer has, or None."""
    for cidr in pools:
        for address in _usable(ipaddress.ip_network(cidr)):
            if str(address) not in taken:
                return str(address)
    return None


def size(pools: list[str]) -> int:
    """How many load balancers the pools hold (as many as `_usable` yields)."""
    networks = [ipaddress.ip_network(cidr) for cidr in pools]
    return sum(n.num_addresses - (2 if n.prefixlen < n.max_prefixlen - 1 else 0)
               for n in networks)


def _usable(pool):
    # A /31 or /32 is all hosts; a larger pool leaves out its network and broadcast
    # addresses, which some clients refuse to connect to.
    return pool.hosts() if pool.prefixlen < pool.max_prefixlen - 1 else iter(pool)


def contains(pools: list[str], address: str) -> bool:
    found = ipaddress.ip_address(address)
    return any(found in ipaddress.ip_network(cidr) for cidr in pools)
