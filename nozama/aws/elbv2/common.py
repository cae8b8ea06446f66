"""What the ELBv2 operations share: ARNs, names, lookups, pages and tags."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import arns, lb_attributes
from nozama.aws import tagging
from nozama.aws.tagging import MAX_TAGS
from nozama.store import load_balancers as lb_store
from nozama.store import tags as tag_store
from nozama.store import target_groups as tg_store
from nozama.store.pagination import decode_token, encode_token


SERVICE = "elasticloadbalancing"
# The VpcId of load balancers made before Nozama had VPCs (aws/ec2/): such a load balancer
# takes the VPC of the first target group it forwards to (listeners.py).
DEFAULT_VPC = "vpc-00000000000000000"
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")


def new_id() -> str:
    return secrets.token_hex(8)


def arn(ctx: RequestContext, resource: str) -> str:
    return arns.arn(SERVICE, ctx.region, ctx.account_id, resource)


def check_name(name: str, kind: str) -> None:
    """ELB's naming rule: at most 32 alphanumerics or hyphens, no hyphen at either end."""
    if len(name) > 32:
        raise ValidationError(f"{kind} name cannot be longer than 32 characters")
    if not _NAME.fullmatch(name):
        raise ValidationError(f"{kind} name '{name}' can only contain characters that are "
                              "alphanumeric characters or hyphens(-), and must not begin or "
                              "end with a hyphen")


def here(ctx: RequestContext, row) -> bool:
    """Whether a stored ELB resource exists in the caller's region and account."""
    return row is not None and (row.region, row.account) == (ctx.region, ctx.account_id)


def _found(ctx: RequestContext, row, not_found: errors.ServiceError):
    if not here(ctx, row):
        raise not_found
    return row


def load_balancer(ctx: RequestContext, conn: Connection, reference: str):
    return _found(ctx, lb_store.get(conn, reference), errors.elbv2.LoadBalancerNotFoundException(
        f"Load balancer '{reference}' not found"))


def target_group(ctx: RequestContext, conn: Connection, reference: str):
    return _found(ctx, tg_store.get(conn, reference), errors.elbv2.TargetGroupNotFoundException(
        f"Target group '{reference}' not found"))


def listener(ctx: RequestContext, conn: Connection, reference: str):
    return _found(ctx, lb_store.listener(conn, reference),
                  errors.elbv2.ListenerNotFoundException(f"Listener '{reference}' not found"))


def rule(ctx: RequestContext, conn: Connection, reference: str):
    return _found(ctx, lb_store.rule(conn, reference),
                  errors.elbv2.RuleNotFoundException(f"Rule '{reference}' not found"))


# ---------------------------------------------------------------- attributes

def attributes_of(ctx: RequestContext, find, arn_: str) -> dict:
    """Describe{LoadBalancer,TargetGroup}Attributes of the resource `find` finds."""
    with ctx.store.read() as conn:
        row = find(ctx, conn, arn_)
    return {"Attributes": lb_attributes.as_list(row.doc["Attributes"])}


def modify_attributes(ctx: RequestContext, find, save, arn_: str, known: dict,
                      changes: list[dict], kind: str, check=None) -> dict:
    """Modify{LoadBalancer,TargetGroup}Attributes: validate (each value, then `check`
    on the whole), store, tell the data plane."""
    with ctx.store.write() as conn:
        row = find(ctx, conn, arn_)
        attributes = lb_attributes.merged(known, row.doc["Attributes"], changes, kind)
        if check is not None:
            check(attributes)
        save(conn, row.arn, {**row.doc, "Attributes": attributes})
        lb_store.bump_generation(conn)
    return {"Attributes": lb_attributes.as_list(attributes)}


# ---------------------------------------------------------------- pages

def page_size(params: dict, default: int = 400) -> int:
    return params.get("PageSize") or default


def marker(params: dict, listing: str) -> str:
    """Where a Marker says the page starts: after this ARN ("" for the first page)."""
    return decode_token(params.get("Marker"), listing, str, error=ValidationError) or ""


def paged(rows: list, limit: int, listing: str) -> tuple[list, dict]:
    """One page of rows fetched with limit + 1, and the NextMarker member if more follow."""
    if len(rows) <= limit:
        return rows, {}
    rows = rows[:limit]
    return rows, {"NextMarker": encode_token(listing, rows[-1].arn)}


def names_or_arns(params: dict, arns_key: str, names_key: str) -> None:
    if params.get(arns_key) and params.get(names_key):
        raise ValidationError(f"{arns_key} and {names_key} cannot be used together")


# ---------------------------------------------------------------- tags

def tags_of_request(tags: list[dict] | None) -> dict[str, str]:
    tags = tags or []
    keys = [t["Key"] for t in tags]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise errors.elbv2.DuplicateTagKeysException(f"Tag key '{duplicates[0]}' is duplicated")
    for key in keys:
        if tagging.reserved(key):
            raise ValidationError("Tag keys starting with 'aws:' are reserved for AWS use")
    if len(tags) > MAX_TAGS:
        raise errors.elbv2.TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags")
    return tagging.from_pairs(tags)


def put_tags(conn: Connection, resource_arn: str, tags: dict[str, str]) -> None:
    tagging.add(conn, resource_arn, tags,
                errors.elbv2.TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags"))


def tag_list(conn: Connection, resource_arn: str) -> list[dict]:
    return tagging.as_pairs(tag_store.get(conn, resource_arn))


def resource(ctx: RequestContext, conn: Connection, resource_arn: str) -> None:
    """Raise the right NotFound error unless `resource_arn` is an ELB resource here."""
    parsed = arns.parse(resource_arn)
    kind = parsed.resource_type if parsed and parsed.service == SERVICE else ""
    finders = {"loadbalancer": load_balancer, "targetgroup": target_group,
               "listener": listener, "listener-rule": rule}
    if kind not in finders:
        raise ValidationError(f"'{resource_arn}' is not a valid load balancer, target group, "
                              "listener or rule ARN")
    finders[kind](ctx, conn, resource_arn)

