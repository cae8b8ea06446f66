"""CreateRule, ModifyRule, DeleteRule, DescribeRules and SetRulePriorities."""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import lb_rules
from nozama.aws.elbv2 import handlers
from nozama.aws.elbv2.common import listener, new_id, page_size, put_tags, rule, tags_of_request
from nozama.aws.elbv2.listeners import checked_actions
from nozama.store import load_balancers as lb_store
from nozama.store.pagination import decode_token, encode_token

MAX_RULES = 100


def _priority_in_use(priority: int) -> errors.elbv2.PriorityInUseException:
    return errors.elbv2.PriorityInUseException(f"Priority '{priority}' is currently in use")


def _conditions(requested: list[dict] | None) -> list[dict]:
    if not requested:
        raise ValidationError("A rule must have at least one condition")
    return lb_rules.conditions(requested)


@handlers.operation("CreateRule")
def create_rule(ctx: RequestContext, params: dict) -> dict:
    conditions = _conditions(params["Conditions"])
    tags = tags_of_request(params.get("Tags"))
    with ctx.store.write() as conn:
        owner = listener(ctx, conn, params["ListenerArn"])
        actions = checked_actions(ctx, conn, owner.load_balancer_arn, params["Actions"])
        priority = params["Priority"]
        if lb_store.rule_with_priority(conn, owner.arn, priority) is not None:
            raise _priority_in_use(priority)
        if lb_store.rule_count(conn, owner.arn) >= MAX_RULES:
            raise errors.elbv2.TooManyRulesException(
                f"A listener can have at most {MAX_RULES} rules")
        rule_arn = owner.arn.replace(":listener/", ":listener-rule/", 1) + f"/{new_id()}"
        doc = {"RuleArn": rule_arn, "Priority": str(priority), "Conditions": conditions,
               "Actions": actions, "IsDefault": False}
        lb_store.create_rule(conn, ctx.region, ctx.account_id, owner.arn, rule_arn, priority, doc)
        lb_store.set_uses(conn, rule_arn, owner.load_balancer_arn,
                          lb_rules.target_group_arns(actions))
        put_tags(conn, rule_arn, tags)
        lb_store.bump_generation(conn)
    return {"Rules": [doc]}


@handlers.operation("ModifyRule")
def modify_rule(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = rule(ctx, conn, params["RuleArn"])
        doc = dict(row.doc)
        if params.get("Conditions") is not None:
            if doc["IsDefault"]:
                raise errors.elbv2.OperationNotPermittedException(
                    "The conditions of a default rule cannot be "
                    "modified")
            doc["Conditions"] = _conditions(params["Conditions"])
        owner = lb_store.listener(conn, row.listener_arn)
        if params.get("Actions"):
            doc["Actions"] = checked_actions(ctx, conn, owner.load_balancer_arn,
                                             params["Actions"])
        lb_store.save_rule(conn, row.arn, row.priority, doc)
        # (A default rule's actions are its listener's default actions.)
        lb_store.replace_rule_actions(conn, row._replace(doc=doc), doc["Actions"])
    return {"Rules": [doc]}


@handlers.operation("DeleteRule")
def delete_rule(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = rule(ctx, conn, params["RuleArn"])
        if row.doc["IsDefault"]:
            raise errors.elbv2.OperationNotPermittedException(
                f"Default rule '{row.arn}' cannot be deleted")
        lb_store.delete_rule(conn, row.arn)
        lb_store.bump_generation(conn)
    return {}


@handlers.operation("DescribeRules")
def describe_rules(ctx: RequestContext, params: dict) -> dict:
    listener_arn, wanted = params.get("ListenerArn"), params.get("RuleArns")
    if bool(listener_arn) == bool(wanted):
        raise ValidationError("Specify either rule ARNs or a listener ARN")
    limit = page_size(params)
    with ctx.store.read() as conn:
        if wanted:
            rows = lb_store.rules_by_arns(conn, ctx.region, ctx.account_id, wanted)
            missing = set(wanted) - {r.arn for r in rows}
            if missing:
                raise errors.elbv2.RuleNotFoundException(
                    f"One or more rules not found: {sorted(missing)}")
            by_arn = {r.arn: r for r in rows}
            return {"Rules": [by_arn[a].doc for a in dict.fromkeys(wanted)]}
        listener(ctx, conn, listener_arn)
        rows = lb_store.rules_of(conn, listener_arn)
    # Rules are few (at most 101 a listener): page by position in priority order.
    start = decode_token(params.get("Marker"), "DescribeRules", int, error=ValidationError) or 0
    more = {"NextMarker": encode_token("DescribeRules", start + limit)} \
        if start + limit < len(rows) else {}
    return {"Rules": [r.doc for r in rows[start:start + limit]], **more}


@handlers.operation("SetRulePriorities")
def set_rule_priorities(ctx: RequestContext, params: dict) -> dict:
    changes = params["RulePriorities"]
    if any(not c.get("RuleArn") or c.get("Priority") is None for c in changes):
        raise ValidationError("Each rule priority needs a RuleArn and a Priority")
    priorities = [c["Priority"] for c in changes]
    repeated = sorted({p for p in priorities if priorities.count(p) > 1})
    if repeated:
        raise ValidationError(f"Priority '{repeated[0]}' was specified multiple times")
    with ctx.store.write() as conn:
        rows = [rule(ctx, conn, c["RuleArn"]) for c in changes]
        for row in rows:
            if row.doc["IsDefault"]:
                raise errors.elbv2.OperationNotPermittedException(
                    f"Default rule '{row.arn}' cannot be "
                    "re-prioritized")
        changing = {row.arn for row in rows}
        for row, change in zip(rows, changes):
            holder = lb_store.rule_with_priority(conn, row.listener_arn, change["Priority"])
            if holder is not None and holder.arn not in changing:
                raise _priority_in_use(change["Priority"])
        # Clear the old priorities first, so that rules may swap them.
        for row in rows:
            lb_store.save_rule(conn, row.arn, -row.id, row.doc)
        updated = []
        for row, change in zip(rows, changes):
            doc = {**row.doc, "Priority": str(change["Priority"])}
            lb_store.save_rule(conn, row.arn, change["Priority"], doc)
            updated.append(doc)
        lb_store.bump_generation(conn)
    return {"Rules": updated}
