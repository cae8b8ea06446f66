"""Security group rules as EC2 reads and shows them.

A request's IpPermissions (protocol, port range, and any number of CIDR ranges and
groups) become one rule per peer, as EC2 records them (SecurityGroupRule, each with
its own id); DescribeSecurityGroups groups the rules back into IpPermissions by
(protocol, ports). Errors are returned as (code, message) so that the caller raises
them as its service's.
"""

from __future__ import annotations

from typing import NamedTuple

from nozama.model import networks

# Protocol names and numbers EC2 takes, as EC2 records them.
_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
              "-1": "-1", "all": "-1"}


class Problem(Exception):
    """A permission EC2 refuses: its error code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Rule(NamedTuple):
    ip_protocol: str
    from_port: int | None
    to_port: int | None
    cidr_ipv4: str | None
    referenced_group_id: str | None
    description: str | None = None

    @property
    def key(self) -> tuple:
        """What makes two rules the same rule (the description does not)."""
        return self[:5]


def protocol(text: str) -> str:
    found = _PROTOCOLS.get(str(text).lower())
    if found is None:
        raise Problem("InvalidParameterValue",
                      f"Invalid value '{text}' for IP protocol. Unknown protocol.")
    return found


def _ports(kind: str, permission: dict) -> tuple[int | None, int | None]:
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if kind == "-1":
        return None, None  # all traffic: EC2 ignores the ports given
    if kind == "icmp":
        # ICMP's "ports" are the type and code; -1 is any.
        for value, name in ((low, "type"), (high, "code")):
            if value is None or not -1 <= value <= 255:
                raise Problem("InvalidParameterValue",
                              f"Invalid value '{value}' for ICMP {name}. Must be in the "
                              "range -1 to 255.")
        return low, high
    if low is None or high is None:
        raise Problem("InvalidParameterValue",
                      "Invalid value 'null' for portRange. Must specify both from and to ports "
                      "with TCP/UDP.")
    for value in (low, high):
        if not 0 <= value <= 65535:
            raise Problem("InvalidParameterValue",
                          f"Invalid value '{value}' for portRange. Must be in the range "
                          "0-65535.")
    if low > high:
        raise Problem("InvalidParameterValue",
                      f"Invalid TCP/UDP port range: the from port ({low}) must not be greater "
                      f"than the to port ({high}).")
    return low, high


def rules_of(permission: dict, resolve_group) -> list[Rule]:
    """The rules one IpPermission stands for. `resolve_group(pair)` gives the group id a
    UserIdGroupPair names (raising if it names none of the VPC's groups)."""
    if permission.get("Ipv6Ranges") or permission.get("PrefixListIds"):
        raise Problem("InvalidParameterValue",
                      "Nozama records IPv4 ranges and security groups only: Ipv6Ranges and "
                      "PrefixListIds are not supported.")
    if "IpProtocol" not in permission:
        raise Problem("MissingParameter", "The request must contain the parameter ipProtocol")
    kind = protocol(permission["IpProtocol"])
    low, high = _ports(kind, permission)
    rules = []
    for ip_range in permission.get("IpRanges") or []:
        cidr = ip_range.get("CidrIp")
        block = networks.ipv4_block(cidr or "")
        if block is None:
            raise Problem("InvalidParameterValue",
                          f"Value ({cidr}) for parameter cidrIp is invalid. This is not a "
                          "valid CIDR block.")
        rules.append(Rule(kind, low, high, str(block), None, ip_range.get("Description")))
    for pair in permission.get("UserIdGroupPairs") or []:
        rules.append(Rule(kind, low, high, None, resolve_group(pair), pair.get("Description")))
    if not rules:
        raise Problem("MissingParameter",
                      "Either 'ipRanges' or 'groups' (UserIdGroupPairs) must be specified "
                      "for each permission")
    return rules


def legacy_permission(params: dict) -> dict | None:
    """The one permission of a request that used the top-level CidrIp/IpProtocol/ports/
    SourceSecurityGroupName members instead of IpPermissions, if it did."""
    if not any(params.get(k) is not None for k in ("CidrIp", "IpProtocol", "FromPort", "ToPort",
                                                  "SourceSecurityGroupName")):
        return None
    permission = {"IpProtocol": params.get("IpProtocol", "-1"), "FromPort": params.get("FromPort"),
                  "ToPort": params.get("ToPort")}
    if params.get("CidrIp"):
        permission["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
    if params.get("SourceSecurityGroupName"):
        permission["UserIdGroupPairs"] = [{"GroupName": params["SourceSecurityGroupName"]}]
    return permission


def described(rule: Rule) -> str:
    """A rule as EC2 names it in InvalidPermission.Duplicate's message."""
    peer = rule.cidr_ipv4 or rule.referenced_group_id
    name = "ALL" if rule.ip_protocol == "-1" else rule.ip_protocol.upper()
    ports = "" if rule.from_port is None else \
        f", from port: {rule.from_port}, to port: {rule.to_port}"
    return f"peer: {peer}, {name}{ports}, ALLOW"


def ip_permissions(rules: list[Rule], account: str) -> list[dict]:
    """Rules grouped into IpPermissions by (protocol, ports), in the order first seen."""
    grouped: dict[tuple, dict] = {}
    for rule in rules:
        head = (rule.ip_protocol, rule.from_port, rule.to_port)
        permission = grouped.get(head)
        if permission is None:
            permission = grouped[head] = {"IpProtocol": rule.ip_protocol, "IpRanges": [],
                                          "Ipv6Ranges": [], "PrefixListIds": [],
                                          "UserIdGroupPairs": []}
            if rule.from_port is not None:
                permission["FromPort"], permission["ToPort"] = rule.from_port, rule.to_port
        extra = {"Description": rule.description} if rule.description else {}
        if rule.cidr_ipv4:
            permission["IpRanges"].append({"CidrIp": rule.cidr_ipv4, **extra})
        else:
            permission["UserIdGroupPairs"].append({"GroupId": rule.referenced_group_id,
                                                   "UserId": account, **extra})
    return list(grouped.values())
