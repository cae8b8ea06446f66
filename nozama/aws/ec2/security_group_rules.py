"""AuthorizeSecurityGroupIngress/Egress and RevokeSecurityGroupIngress/Egress.

Rules are validated and recorded one per peer (model/security_group_rules.py); a peer
group must be of the same VPC. Nozama does not enforce them on hosts."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import networks
from nozama.model import security_group_rules as rules_model
from nozama.aws.ec2 import handlers
from nozama.aws.ec2.common import arn, group
from nozama.aws.ec2.network import ensure_default_vpc
from nozama.aws.ec2.security_groups import by_name, target
from nozama.store import security_group_rules as rule_store

# Inbound or outbound rules a group may have: AWS's default quota.
MAX_RULES = 60


def _raise(problem: rules_model.Problem):
    raise getattr(errors.ec2, problem.code.replace(".", "_"))(problem.message)


def _requested(ctx: RequestContext, conn: Connection, row, params: dict) -> list:
    permissions = list(params.get("IpPermissions") or [])
    legacy = rules_model.legacy_permission(params)
    if legacy is not None:
        permissions.append(legacy)
    if not permissions:
        raise errors.ec2.MissingParameter("The request must contain the parameter "
                                          "ipPermissions")

    def resolve(pair: dict) -> str:
        if pair.get("GroupId"):
            peer = group(ctx, conn, pair["GroupId"])
            if peer.vpc_id != row.vpc_id:
                raise errors.ec2.InvalidGroup_NotFound(
                    f"The security group '{peer.group_id}' does not exist in VPC "
                    f"'{row.vpc_id}'")
            return peer.group_id
        if pair.get("GroupName"):
            return by_name(ctx, conn, row.vpc_id, pair["GroupName"]).group_id
        raise errors.ec2.MissingParameter("The request must contain the parameter groupId "
                                          "for each of UserIdGroupPairs")

    try:
        return [rule for p in permissions for rule in rules_model.rules_of(p, resolve)]
    except rules_model.Problem as problem:
        _raise(problem)


def _rule_of(row) -> rules_model.Rule:
    return rules_model.Rule(row.ip_protocol, row.from_port, row.to_port, row.cidr_ipv4,
                            row.referenced_group_id, row.description)


def _shown(ctx: RequestContext, row, group_id: str, egress: bool) -> dict:
    """A rule as SecurityGroupRule."""
    rule = {"SecurityGroupRuleId": row["rule_id"], "GroupId": group_id,
            "GroupOwnerId": ctx.account_id, "IsEgress": egress,
            "IpProtocol": row["ip_protocol"],
            "FromPort": -1 if row.get("from_port") is None else row["from_port"],
            "ToPort": -1 if row.get("to_port") is None else row["to_port"],
            "SecurityGroupRuleArn": arn(ctx, row["rule_id"]), "Tags": []}
    if row.get("cidr_ipv4"):
        rule["CidrIpv4"] = row["cidr_ipv4"]
    else:
        rule["ReferencedGroupInfo"] = {"GroupId": row["referenced_group_id"],
                                       "UserId": ctx.account_id}
    if row.get("description"):
        rule["Description"] = row["description"]
    return rule


def authorize(ctx: RequestContext, params: dict, egress: bool) -> dict:
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        row = target(ctx, conn, params)
        wanted = _requested(ctx, conn, row, params)
        have = {_rule_of(r).key for r in rule_store.of_groups(conn, [row.group_id])
                if r.is_egress == egress}
        added: list[dict] = []
        for rule in wanted:
            if rule.key in have:
                raise errors.ec2.InvalidPermission_Duplicate(
                    f'the specified rule "{rules_model.described(rule)}" already exists')
            have.add(rule.key)
            added.append({"rule_id": networks.new_id("sgr"), "group_id": row.group_id,
                          "is_egress": egress, **rule._asdict()})
        if len(have) > MAX_RULES:
            raise errors.ec2.RulesPerSecurityGroupLimitExceeded(
                "The maximum number of rules per security group has been reached.")
        rule_store.add(conn, added)
    return {"Return": True,
            "SecurityGroupRules": [_shown(ctx, r, row.group_id, egress) for r in added]}


def revoke(ctx: RequestContext, params: dict, egress: bool) -> dict:
    ensure_default_vpc(ctx)
    with ctx.store.write() as conn:
        row = target(ctx, conn, params)
        existing = [r for r in rule_store.of_groups(conn, [row.group_id])
                    if r.is_egress == egress]
        if params.get("SecurityGroupRuleIds"):
            ids = set(params["SecurityGroupRuleIds"])
            gone = [r for r in existing if r.rule_id in ids]
            missing = ids - {r.rule_id for r in gone}
            if missing:
                raise errors.ec2.InvalidSecurityGroupRuleId_NotFound(
                    f"The security group rule ID '{sorted(missing)[0]}' does not exist")
        else:
            by_key = {_rule_of(r).key: r for r in existing}
            gone = []
            for rule in _requested(ctx, conn, row, params):
                if rule.key not in by_key:
                    raise errors.ec2.InvalidPermission_NotFound(
                        "The specified rule does not exist in this security group.")
                gone.append(by_key[rule.key])
        rule_store.delete(conn, [r.rule_id for r in gone])
    return {"Return": True, "RevokedSecurityGroupRules": [
        _shown(ctx, r._asdict(), row.group_id, egress) for r in gone]}


@handlers.operation("AuthorizeSecurityGroupIngress")
def authorize_ingress(ctx: RequestContext, params: dict) -> dict:
    return authorize(ctx, params, egress=False)


@handlers.operation("AuthorizeSecurityGroupEgress")
def authorize_egress(ctx: RequestContext, params: dict) -> dict:
    return authorize(ctx, params, egress=True)


@handlers.operation("RevokeSecurityGroupIngress")
def revoke_ingress(ctx: RequestContext, params: dict) -> dict:
    return revoke(ctx, params, egress=False)


@handlers.operation("RevokeSecurityGroupEgress")
def revoke_egress(ctx: RequestContext, params: dict) -> dict:
    return revoke(ctx, params, egress=True)
