"""EC2's networking rules as pure functions: resource ids, the default VPC's layout,
and what makes a VPC's or subnet's CIDR block acceptable.

Ids are `vpc-`, `subnet-`, `sg-`, `sgr-` and 17 hex digits, as EC2's are. Those of the
default VPC and its subnets are derived from (account, region, zone), so that every
server of a store, and tests and documentation, name the same ones without asking;
every other id is random.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets

from nozama.model import zones

DEFAULT_VPC_CIDR = "172.31.0.0/16"
DEFAULT_SUBNET_PREFIX = 20
# The addresses AWS keeps in every subnet: network, router, DNS, future use, broadcast.
RESERVED_ADDRESSES = 5
SMALLEST_PREFIX, LARGEST_PREFIX = 16, 28
DEFAULT_GROUP = "default"

_ID = re.compile(r"(?P<prefix>[a-z]+)-(?P<hex>[0-9a-f]{8}|[0-9a-f]{17})")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def _derived(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def default_vpc_id(account: str, region: str) -> str:
    return _derived("vpc", account, region, "default-vpc")


def default_subnet_id(account: str, region: str, zone_name: str) -> str:
    return _derived("subnet", account, region, zone_name, "default-subnet")


def default_group_id(account: str, region: str, vpc_id: str) -> str:
    """The default security group of a VPC (of the default VPC only: made when it is)."""
    return _derived("sg", account, region, vpc_id, "default-group")


def default_subnets(region: str) -> list[tuple[zones.Zone, str]]:
    """(zone, CIDR block) of the default VPC's subnets: the first /20s of 172.31.0.0/16."""
    blocks = ipaddress.ip_network(DEFAULT_VPC_CIDR).subnets(new_prefix=DEFAULT_SUBNET_PREFIX)
    return [(zone, str(block)) for zone, block in zip(zones.zones(region), blocks)]


def well_formed(resource_id: str, prefix: str) -> bool:
    """Whether an id has EC2's form for its kind (8 or 17 hex digits after the prefix)."""
    match = _ID.fullmatch(resource_id)
    return match is not None and match.group("prefix") == prefix


def ipv4_block(text: str) -> ipaddress.IPv4Network | None:
    """A CIDR block as EC2 reads one (a.b.c.d/n, host bits allowed and dropped), or None."""
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        return None


def size_allowed(block: ipaddress.IPv4Network) -> bool:
    return SMALLEST_PREFIX <= block.prefixlen <= LARGEST_PREFIX


def available_addresses(block: ipaddress.IPv4Network) -> int:
    return block.num_addresses - RESERVED_ADDRESSES


def overlapping(block: ipaddress.IPv4Network, others: list[str]) -> str | None:
    """The first of `others` (CIDR texts) that overlaps `block`, if any."""
    for other in others:
        if block.overlaps(ipaddress.IPv4Network(other)):
            return other
    return None
