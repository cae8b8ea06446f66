"""The default VPC and subnets of a test's region, named without asking the server:
their ids are derived from (account, region, zone) as Nozama derives them
(nozama/model/networks.py)."""

from __future__ import annotations

from nozama.model import networks

ACCOUNT = "000000000000"  # the account of `nozama server` unless --account-id says otherwise


def default_vpc(region: str) -> str:
    return networks.default_vpc_id(ACCOUNT, region)


def default_subnets(region: str, zones: str = "ab") -> list[str]:
    """The default VPC's subnets of these zones (a and b: enough for a load balancer)."""
    return [networks.default_subnet_id(ACCOUNT, region, f"{region}{z}") for z in zones]


def vpc_of(client) -> str:
    """The default VPC of the region a boto3 client is for."""
    return default_vpc(client.meta.region_name)


def subnets_of(client) -> list[str]:
    """Default subnets of two zones of the region a boto3 client is for."""
    return default_subnets(client.meta.region_name)
