"""PutAttributes, ListAttributes, DeleteAttributes: attributes of container instances."""

from __future__ import annotations

import re

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import find_cluster, page_size
from nozama.store import attributes as attribute_store
from nozama.store import container_instances as instance_store
from nozama.store.pagination import decode_token, page

TARGET_TYPE = "container-instance"
MAX_CUSTOM = 10
_NAME = re.compile(r"[A-Za-z0-9_./\\-]{1,128}")
_VALUE = re.compile(r"[A-Za-z0-9_.@/\\: -]{1,128}")
# Attributes under these prefixes are the agent's own, not the 10 custom ones.
_STANDARD_PREFIXES = ("ecs.", "com.amazonaws.ecs.")


def check_attribute(name: str, value: str | None) -> None:
    if not _NAME.fullmatch(name):
        raise errors.ecs.InvalidParameterException(
            f"Attribute name '{name}' is invalid: use up to 128 letters, numbers, hyphens, "
            "underscores, periods, forward slashes and back slashes.")
    if value is not None and (not _VALUE.fullmatch(value) or value != value.strip()):
        raise errors.ecs.InvalidParameterException(
            f"Attribute value '{value}' of '{name}' is invalid: use up to 128 letters, numbers, "
            "hyphens, underscores, periods, at signs, slashes, colons and spaces, not starting "
            "or ending with a space.")


def check_custom_limit(conn: Connection, cluster_arn: str, target: str, new: dict) -> None:
    current = attribute_store.of_targets(conn, cluster_arn, [target])[target]
    custom = {n for n in {**current, **new} if not n.startswith(_STANDARD_PREFIXES)}
    if len(custom) > MAX_CUSTOM:
        raise errors.ecs.AttributeLimitExceededException(
            f"You can apply up to {MAX_CUSTOM} custom attributes per resource.")


def _targets(ctx: RequestContext, conn: Connection, cluster, attributes: list[dict]) -> dict:
    """{target ARN: {name: value}} for a request's attributes, checking each target."""
    grouped: dict[str, dict] = {}
    for attribute in attributes:
        if attribute.get("targetType", TARGET_TYPE) != TARGET_TYPE:
            raise errors.ecs.InvalidParameterException("targetType must be container-instance.")
        target = attribute.get("targetId")
        if not target:
            raise errors.ecs.InvalidParameterException(
                "targetId must be specified for each attribute.")
        if not arns.is_arn(target):
            target = arns.container_instance_arn(ctx.region, ctx.account_id, cluster.name, target)
        row = instance_store.get(conn, target)
        if row is None or row.cluster_arn != cluster.arn or row.status == "INACTIVE":
            raise errors.ecs.TargetNotFoundException(f"Could not find {attribute.get('targetId')}.")
        check_attribute(attribute["name"], attribute.get("value"))
        grouped.setdefault(target, {})[attribute["name"]] = attribute.get("value")
    return grouped


def _listed(name: str, value: str | None, target: str) -> dict:
    item = {"name": name, "targetType": TARGET_TYPE, "targetId": target}
    if value is not None:
        item["value"] = value
    return item


@handlers.operation("PutAttributes")
def put_attributes(ctx: RequestContext, params: dict) -> dict:
    if len(params["attributes"]) > MAX_CUSTOM:
        raise errors.ecs.AttributeLimitExceededException(
            f"You can put at most {MAX_CUSTOM} attributes in one call.")
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        for target, values in _targets(ctx, conn, cluster, params["attributes"]).items():
            check_custom_limit(conn, cluster.arn, target, values)
            attribute_store.put(conn, cluster.arn, TARGET_TYPE, target, values)
    return {"attributes": params["attributes"]}


@handlers.operation("DeleteAttributes")
def delete_attributes(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        for target, values in _targets(ctx, conn, cluster, params["attributes"]).items():
            attribute_store.remove(conn, cluster.arn, target, list(values))
    return {"attributes": params["attributes"]}


@handlers.operation("ListAttributes")
def list_attributes(ctx: RequestContext, params: dict) -> dict:
    if params["targetType"] != TARGET_TYPE:
        raise errors.ecs.InvalidParameterException("targetType must be container-instance.")
    if params.get("attributeValue") is not None and not params.get("attributeName"):
        raise errors.ecs.InvalidParameterException("attributeValue requires attributeName.")
    limit = page_size(params)
    after = decode_token(params.get("nextToken"), "ListAttributes", str, str,
                         error=errors.ecs.InvalidParameterException)
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        rows = attribute_store.search(conn, cluster.arn, TARGET_TYPE, params.get("attributeName"),
                                      params.get("attributeValue"), after, limit + 1)
    items, token = page(rows, limit, "ListAttributes", key=lambda r: [r.target_id, r.name])
    result = {"attributes": [_listed(r.name, r.value, r.target_id) for r in items]}
    if token:
        result["nextToken"] = token
    return result
