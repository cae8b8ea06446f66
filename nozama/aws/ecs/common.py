"""What ECS operations share: finding clusters, tags, include flags."""

from __future__ import annotations

import re

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import account_settings, arns
from nozama.aws import tagging
from nozama.aws.tagging import MAX_TAGS
from nozama.store import account_settings as setting_store
from nozama.store import clusters as cluster_store
from nozama.store import tags as tag_store

DEFAULT_CLUSTER = "default"
CLUSTER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def cluster_name(ctx: RequestContext, reference: str | None) -> str:
    """The cluster name a `cluster` parameter (name, ARN or nothing) refers to."""
    if not reference:
        return DEFAULT_CLUSTER
    if arns.is_arn(reference):
        parsed = arns.parse(reference)
        if parsed is None or parsed.resource_type != "cluster" or not parsed.resource_path:
            raise errors.ecs.InvalidParameterException(f"Invalid cluster ARN: {reference}")
        if parsed.region != ctx.region or parsed.account != ctx.account_id:
            raise errors.ecs.ClusterNotFoundException("Cluster not found.")
        return parsed.resource_path
    if not CLUSTER_NAME.fullmatch(reference):
        raise errors.ecs.ClusterNotFoundException("Cluster not found.")
    return reference


def find_cluster(ctx: RequestContext, conn: Connection, reference: str | None,
                 lock: bool = False) -> Row:
    """The ACTIVE cluster a parameter refers to, or ClusterNotFoundException. With lock,
    the cluster stays locked until the transaction ends (store/clusters.py `lock`): what
    a write that rewrites the cluster's services, tasks or instances takes first."""
    row = cluster_store.get(conn, ctx.region, ctx.account_id, cluster_name(ctx, reference))
    if row is None or row.status != "ACTIVE":
        raise errors.ecs.ClusterNotFoundException("Cluster not found.")
    if lock:
        cluster_store.lock(conn, row.arn)
    return row


def find_or_create_cluster(ctx: RequestContext, conn: Connection, reference: str | None) -> Row:
    """Like find_cluster, but the `default` cluster is created on first use (as the ECS
    agent and RunTask do when no cluster is given)."""
    if cluster_name(ctx, reference) == DEFAULT_CLUSTER:
        row = cluster_store.get(conn, ctx.region, ctx.account_id, DEFAULT_CLUSTER)
        if row is None:
            cluster_store.create(conn, ctx.region, ctx.account_id, DEFAULT_CLUSTER,
                                 arns.cluster_arn(ctx.region, ctx.account_id, DEFAULT_CLUSTER),
                                 ctx.clock.now(), new_cluster_doc(ctx, conn, {}))
        elif row.status != "ACTIVE":
            cluster_store.save(conn, row.arn, "ACTIVE", new_cluster_doc(ctx, conn, {}))
    return find_cluster(ctx, conn, reference)


def new_cluster_doc(ctx: RequestContext, conn: Connection, params: dict) -> dict:
    """A new cluster's document. A cluster that sets no containerInsights takes the
    caller's effective account setting (PutAccountSetting[Default]), as ECS does."""
    return {
        "settings": params.get("settings") or [
            {"name": "containerInsights", "value": _account_container_insights(ctx, conn)}],
        "configuration": params.get("configuration"),
        "serviceConnectDefaults": params.get("serviceConnectDefaults"),
        "capacityProviders": params.get("capacityProviders", []),
        "defaultCapacityProviderStrategy": params.get("defaultCapacityProviderStrategy", []),
    }


def _account_container_insights(ctx: RequestContext, conn: Connection) -> str:
    # Nozama acts for the root user (it does not tell IAM users apart yet).
    root = account_settings.root_arn(ctx.account_id)
    explicit = setting_store.of_principals(conn, ctx.region, ctx.account_id, [root])
    return account_settings.effective("containerInsights", root, ctx.account_id,
                                      explicit).value


def tags_from_request(tags: list[dict] | None) -> dict[str, str]:
    """ECS's tag list as a dict, with ECS's rules checked."""
    found: dict[str, str] = {}
    for tag in tags or []:
        key, value = tag.get("key"), tag.get("value", "")
        if key is None:
            raise errors.ecs.InvalidParameterException("Tag key must not be null.")
        if tagging.reserved(key):
            raise errors.ecs.InvalidParameterException(
                "Tag keys that begin with 'aws:' are reserved for AWS use.")
        found[key] = value
    if len(found) > MAX_TAGS:
        raise errors.ecs.InvalidParameterException(f"A resource can have at most {MAX_TAGS} tags.")
    return found


def tag_list(tags: dict[str, str]) -> list[dict]:
    return tagging.as_pairs(tags, "key", "value")


def tags_of(conn: Connection, arn: str) -> list[dict]:
    return tag_list(tag_store.get(conn, arn))


def page_size(params: dict, default: int = 100, maximum: int = 100) -> int:
    size = params.get("maxResults")
    if size is None:
        return default
    if not 1 <= size <= maximum:
        raise errors.ecs.InvalidParameterException(f"maxResults must be between 1 and {maximum}.")
    return size
