"""CreateCluster, DescribeClusters, ListClusters, UpdateCluster(Settings), DeleteCluster."""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ServiceError
from nozama.model import arns
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import (CLUSTER_NAME, DEFAULT_CLUSTER, cluster_name,
                                        find_cluster, new_cluster_doc, page_size, tags_from_request,
                                        tags_of)
from nozama.store import clusters as cluster_store
from nozama.store import services as service_store
from nozama.store import tags as tag_store
from nozama.store import tasks as task_store
from nozama.store.pagination import decode_token, page

CONTAINER_INSIGHTS = ("enabled", "disabled", "enhanced")


def describe(conn: Connection, row: Row, include: list[str] | None = None,
             settings: bool = True) -> dict:
    """The Cluster shape from a row of clusters.get_described."""
    include = include or []
    doc = row.doc
    cluster = {
        "clusterArn": row.arn,
        "clusterName": row.name,
        "status": row.status,
        "registeredContainerInstancesCount": row.registered_count,
        "runningTasksCount": row.running_count,
        "pendingTasksCount": row.pending_count,
        "activeServicesCount": row.active_services_count,
        "statistics": [],
        "capacityProviders": doc.get("capacityProviders", []),
        "defaultCapacityProviderStrategy": doc.get("defaultCapacityProviderStrategy", []),
    }
    if settings or "SETTINGS" in include:
        cluster["settings"] = doc.get("settings", [])
    if doc.get("configuration") and (settings or "CONFIGURATIONS" in include):
        cluster["configuration"] = doc["configuration"]
    if doc.get("serviceConnectDefaults"):
        cluster["serviceConnectDefaults"] = doc["serviceConnectDefaults"]
    if "STATISTICS" in include:
        cluster["statistics"] = _statistics(cluster)
    if "TAGS" in include or settings:
        cluster["tags"] = tags_of(conn, row.arn)
    return cluster


def _described(ctx: RequestContext, conn: Connection, name: str) -> dict:
    return describe(conn, cluster_store.get_described(conn, ctx.region, ctx.account_id, name))


def _statistics(cluster: dict) -> list[dict]:
    # ECS reports per-launch-type counts; Nozama runs EC2 (and EXTERNAL) tasks only.
    values = {"runningEC2TasksCount": cluster["runningTasksCount"],
              "pendingEC2TasksCount": cluster["pendingTasksCount"],
              "activeEC2ServiceCount": cluster["activeServicesCount"],
              "drainingEC2ServiceCount": 0,
              "runningFargateTasksCount": 0, "pendingFargateTasksCount": 0,
              "activeFargateServiceCount": 0, "drainingFargateServiceCount": 0}
    return [{"name": k, "value": str(v)} for k, v in values.items()]


def _check_settings(settings: list[dict] | None) -> None:
    for setting in settings or []:
        if setting.get("name") != "containerInsights":
            raise errors.ecs.InvalidParameterException(
                "Each setting needs a name: containerInsights.")
        if setting.get("value") not in CONTAINER_INSIGHTS:
            raise errors.ecs.InvalidParameterException(
                f"The value '{setting.get('value')}' is not valid for the setting "
                f"'{setting.get('name')}'. Valid values: {', '.join(CONTAINER_INSIGHTS)}.")


def _merge_settings(current: list[dict], changes: list[dict]) -> list[dict]:
    merged = {s["name"]: s["value"] for s in current}
    merged.update({s["name"]: s["value"] for s in changes})
    return [{"name": k, "value": v} for k, v in merged.items()]


@handlers.operation("CreateCluster")
def create_cluster(ctx: RequestContext, params: dict) -> dict:
    name = params.get("clusterName") or DEFAULT_CLUSTER
    if not CLUSTER_NAME.fullmatch(name):
        raise errors.ecs.InvalidParameterException(
            "Cluster name must be 1 to 255 letters (uppercase and lowercase), numbers, "
            "hyphens, and underscores.")
    _check_settings(params.get("settings"))
    new_tags = tags_from_request(params.get("tags"))
    arn = arns.cluster_arn(ctx.region, ctx.account_id, name)
    with ctx.store.write() as conn:
        row = cluster_store.get(conn, ctx.region, ctx.account_id, name)
        if row is None:
            cluster_store.create(conn, ctx.region, ctx.account_id, name, arn, ctx.clock.now(),
                                 new_cluster_doc(ctx, conn, params))
        elif row.status != "ACTIVE":
            # Creating a deleted cluster again brings it back under the same ARN.
            cluster_store.save(conn, arn, "ACTIVE", new_cluster_doc(ctx, conn, params))
            tag_store.remove_all(conn, arn)
        tag_store.put(conn, arn, new_tags)
        return {"cluster": _described(ctx, conn, name)}


@handlers.operation("DescribeClusters")
def describe_clusters(ctx: RequestContext, params: dict) -> dict:
    references = params.get("clusters") or [DEFAULT_CLUSTER]
    if len(references) > 100:
        raise errors.ecs.InvalidParameterException("clusters can have at most 100 items.")
    found, failures = [], []
    with ctx.store.read() as conn:
        for reference in references:
            try:
                name = cluster_name(ctx, reference)
            except ServiceError:
                name = None
            row = (cluster_store.get_described(conn, ctx.region, ctx.account_id, name)
                   if name else None)
            if row is None:
                failures.append({"arn": _failure_arn(ctx, reference), "reason": "MISSING"})
            else:
                found.append(describe(conn, row, params.get("include"), settings=False))
    return {"clusters": found, "failures": failures}


def _failure_arn(ctx: RequestContext, reference: str) -> str:
    if arns.is_arn(reference):
        return reference
    return arns.cluster_arn(ctx.region, ctx.account_id, reference)


@handlers.operation("ListClusters")
def list_clusters(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params)
    after = decode_token(params.get("nextToken"), "ListClusters", str,
                         error=errors.ecs.InvalidParameterException)
    with ctx.store.read() as conn:
        found = cluster_store.list_active_arns(conn, ctx.region, ctx.account_id, after, limit + 1)
    items, token = page(found, limit, "ListClusters", key=lambda arn: arn)
    return {"clusterArns": items, **({"nextToken": token} if token else {})}


@handlers.operation("UpdateCluster")
def update_cluster(ctx: RequestContext, params: dict) -> dict:
    _check_settings(params.get("settings"))
    with ctx.store.write() as conn:
        row = find_cluster(ctx, conn, params["cluster"], lock=True)
        doc = dict(row.doc)
        if "settings" in params:
            doc["settings"] = _merge_settings(doc.get("settings", []), params["settings"])
        for member in ("configuration", "serviceConnectDefaults"):
            if member in params:
                doc[member] = params[member]
        cluster_store.save(conn, row.arn, row.status, doc)
        return {"cluster": _described(ctx, conn, row.name)}


@handlers.operation("UpdateClusterSettings")
def update_cluster_settings(ctx: RequestContext, params: dict) -> dict:
    return update_cluster(ctx, {"cluster": params["cluster"], "settings": params["settings"]})


@handlers.operation("DeleteCluster")
def delete_cluster(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = find_cluster(ctx, conn, params["cluster"], lock=True)
        live = task_store.count_in_cluster(conn, row.arn)
        if sum(n for status, n in live.items() if status != "STOPPED"):
            raise errors.ecs.ClusterContainsTasksException(
                "The Cluster cannot be deleted while Tasks are active.")
        if service_store.count_active(conn, row.arn):
            raise errors.ecs.ClusterContainsServicesException(
                "The Cluster cannot be deleted while Services are active.")
        if cluster_store.registered_instance_count(conn, row.arn):
            raise errors.ecs.ClusterContainsContainerInstancesException(
                "The Cluster cannot be deleted while Container Instances are active or draining.")
        cluster_store.save(conn, row.arn, "INACTIVE", row.doc)
        return {"cluster": _described(ctx, conn, row.name)}
