"""RegisterContainerInstance, DeregisterContainerInstance, DescribeContainerInstances,
ListContainerInstances, UpdateContainerInstancesState."""

from __future__ import annotations

import ipaddress
import json
import math
import uuid

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.text import checked_text
from nozama.model import arns, zones
from nozama.model.cluster_query import InstanceFacts, parse_expression
from nozama.aws.ecs import handlers
from nozama.aws.ecs.attributes import check_attribute, check_custom_limit
from nozama.aws.ecs.common import (find_cluster, find_or_create_cluster, page_size,
                                        tags_from_request, tags_of)
from nozama.store import attributes as attribute_store
from nozama.store import clusters as cluster_store
from nozama.store import container_instances as instance_store
from nozama.store import load_balancers as lb_store
from nozama.store import tags as tag_store
from nozama.store.pagination import decode_token, encode_token

LISTED_BY_DEFAULT = ("ACTIVE", "DRAINING")
RESOURCE_TYPES = ("INTEGER", "LONG", "DOUBLE", "STRINGSET")
SETTABLE_STATES = ("ACTIVE", "DRAINING")


def instance_arn(ctx: RequestContext, cluster: Row, reference: str) -> str:
    """The ARN a container instance id or ARN refers to, in `cluster`."""
    if arns.is_arn(reference):
        return reference
    return arns.container_instance_arn(ctx.region, ctx.account_id, cluster.name, reference)


def describe(conn: Connection, row: Row, attributes: dict, with_tags: bool = False) -> dict:
    doc = row.doc
    instance = {
        "containerInstanceArn": row.arn,
        "ec2InstanceId": row.ec2_instance_id,
        "version": row.version,
        "versionInfo": doc.get("versionInfo", {}),
        "remainingResources": doc["remainingResources"],
        "registeredResources": doc["registeredResources"],
        "status": row.status,
        "agentConnected": row.agent_connected,
        "runningTasksCount": row.running_tasks_count,
        "pendingTasksCount": row.pending_tasks_count,
        "attributes": [{"name": n, **({"value": v} if v is not None else {})}
                       for n, v in attributes.items()],
        "registeredAt": row.registered_at,
        "attachments": [],
    }
    for member in ("statusReason", "agentUpdateStatus", "capacityProviderName"):
        if doc.get(member):
            instance[member] = doc[member]
    if with_tags:
        instance["tags"] = tags_of(conn, row.arn)
    return instance


def _identity(params: dict) -> dict:
    text = params.get("instanceIdentityDocument")
    if not text:
        return {}
    try:
        document = json.loads(text)
    except ValueError:
        raise errors.ecs.InvalidParameterException(
            "instanceIdentityDocument is not valid JSON.") from None
    if not isinstance(document, dict):
        raise errors.ecs.InvalidParameterException(
            "instanceIdentityDocument must be a JSON object.")
    for member in ("instanceId", "availabilityZone", "instanceType", "privateIp"):
        value = document.get(member)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 128):
            raise errors.ecs.InvalidParameterException(
                f"instanceIdentityDocument.{member} must be a string of 1 to 128 characters.")
        if value is not None:
            checked_text(value, f"instanceIdentityDocument.{member}")
    if document.get("privateIp") is not None:
        document["privateIp"] = _host_address(document["privateIp"])
    return document


def _host_address(text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise errors.ecs.InvalidParameterException(
            f"instanceIdentityDocument.privateIp {text!r} is not an IP address.") from None
    if address.is_unspecified or address.is_multicast:
        raise errors.ecs.InvalidParameterException(
            f"instanceIdentityDocument.privateIp {text} is not a host's address.")
    return str(address)


def _check_address(conn: Connection, address: str | None, arn: str | None) -> None:
    """One host, one address: a second instance at an address would take the first's
    traffic. Loopback addresses are exempt: agents that share one machine (`nozama up`)
    share its loopback too."""
    if address is None or ipaddress.ip_address(address).is_loopback:
        return
    for holder in instance_store.by_address(conn, address):
        if holder.arn != arn:
            raise errors.ecs.InvalidParameterException(
                f"Address {address} is already registered by container instance "
                f"{holder.arn} ({holder.ec2_instance_id}); deregister it first, or give this "
                "host's agent its own address.")


def _check_zone(ctx: RequestContext, attributes: dict[str, str | None]) -> None:
    zone = attributes.get("ecs.availability-zone")
    if zone is not None and zones.refusal(zone, ctx.region):
        raise errors.ecs.InvalidParameterException(zones.refusal(zone, ctx.region))


def _resources(params: dict) -> list[dict]:
    resources = params.get("totalResources") or []
    for resource in resources:
        if not resource.get("name") or resource.get("type") not in RESOURCE_TYPES:
            raise errors.ecs.InvalidParameterException(
                "Each resource in totalResources needs a name and a type "
                f"({', '.join(RESOURCE_TYPES)}).")
        value = resource.get("doubleValue")
        if value is not None and not math.isfinite(value):
            raise errors.ecs.InvalidParameterException(
                f"Resource {resource['name']} must be a finite "
                "number.")
    names = [r["name"] for r in resources]
    if len(names) != len(set(names)):
        raise errors.ecs.InvalidParameterException(
            "totalResources names a resource more than once.")
    for resource in resources:
        if resource.get("type") in ("INTEGER", "LONG", "DOUBLE") and \
                resource.get(f"{resource['type'].lower()}Value", 0) < 0:
            raise errors.ecs.InvalidParameterException(
                f"Resource {resource['name']} cannot be negative.")
    return resources


def _standard_attributes(identity: dict) -> dict[str, str]:
    found = {}
    if identity.get("availabilityZone"):
        found["ecs.availability-zone"] = identity["availabilityZone"]
    if identity.get("instanceType"):
        found["ecs.instance-type"] = identity["instanceType"]
    return found


@handlers.operation("RegisterContainerInstance")
def register_container_instance(ctx: RequestContext, params: dict) -> dict:
    identity = _identity(params)
    resources = _resources(params)
    given = {a["name"]: a.get("value") for a in params.get("attributes") or []}
    attributes = {**_standard_attributes(identity), **given}
    _check_zone(ctx, attributes)
    address = identity.get("privateIp")
    new_tags = tags_from_request(params.get("tags"))
    with ctx.store.write() as conn:
        cluster = find_or_create_cluster(ctx, conn, params.get("cluster"))
        # Locked: a re-registration rewrites the instance's resources, which placement
        # reads.
        cluster_store.lock(conn, cluster.arn)
        ec2_id = identity.get("instanceId")
        existing = None
        if params.get("containerInstanceArn"):
            named = instance_arn(ctx, cluster, params["containerInstanceArn"])
            existing = instance_store.get(conn, named)
            if existing is None or existing.cluster_arn != cluster.arn:
                raise errors.ecs.InvalidParameterException(
                    "The referenced container instance is not "
                    "registered in this cluster.")
            if existing.status == "INACTIVE":
                existing = None  # deregistered for good: the host registers anew
        elif ec2_id:
            existing = instance_store.find_by_ec2_instance(conn, cluster.arn, ec2_id)
        _check_address(conn, address, existing.arn if existing is not None else None)
        doc = {"versionInfo": params.get("versionInfo", {}),
               "registeredResources": resources, "remainingResources": resources,
               "platformDevices": params.get("platformDevices", [])}
        if existing is not None:
            # Re-registration of the same host keeps its ARN (as the ECS agent expects).
            arn = existing.arn
            instance_store.save(conn, arn, doc={**existing.doc, **doc}, status="ACTIVE",
                                address=address)
            if existing.address != address:
                lb_store.bump_generation(conn)   # its targets are reached at the new one
        else:
            instance_id = uuid.uuid4().hex
            arn = arns.container_instance_arn(ctx.region, ctx.account_id, cluster.name,
                                              instance_id)
            instance_store.create(conn, region=ctx.region, account=ctx.account_id,
                                  cluster_arn=cluster.arn, arn=arn,
                                  ec2_instance_id=ec2_id or f"i-{instance_id[:17]}",
                                  status="ACTIVE", agent_connected=False, running_tasks_count=0,
                                  pending_tasks_count=0,
                                  registered_at=ctx.clock.now(), version=1, doc=doc,
                                  address=address)
        for name, value in attributes.items():
            check_attribute(name, value)
        check_custom_limit(conn, cluster.arn, arn, attributes)
        attribute_store.put(conn, cluster.arn, "container-instance", arn, attributes)
        tag_store.put(conn, arn, new_tags)
        row = instance_store.get(conn, arn)
        found = attribute_store.of_targets(conn, cluster.arn, [arn])[arn]
        return {"containerInstance": describe(conn, row, found, with_tags=True)}


@handlers.operation("DeregisterContainerInstance")
def deregister_container_instance(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"), lock=True)
        row = instance_store.get(conn, instance_arn(ctx, cluster, params["containerInstance"]),
                                 lock=True)
        if row is None or row.cluster_arn != cluster.arn:
            raise errors.ecs.InvalidParameterException("The referenced container instance is not "
                                                       "registered in this cluster.")
        if row.running_tasks_count and not params.get("force"):
            raise errors.ecs.InvalidParameterException(
                "Found running tasks on the instance; use force to deregister it.")
        instance_store.save(conn, row.arn, status="INACTIVE", agent_connected=False)
        found = attribute_store.of_targets(conn, cluster.arn, [row.arn])[row.arn]
        return {"containerInstance": describe(conn, instance_store.get(conn, row.arn), found)}


@handlers.operation("DescribeContainerInstances")
def describe_container_instances(ctx: RequestContext, params: dict) -> dict:
    references = params["containerInstances"]
    if not 1 <= len(references) <= 100:
        raise errors.ecs.InvalidParameterException(
            "containerInstances must have between 1 and 100 items.")
    with_tags = "TAGS" in (params.get("include") or [])
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        wanted = [instance_arn(ctx, cluster, r) for r in references]
        rows = {r.arn: r for r in instance_store.get_many(conn, cluster.arn, wanted)}
        attributes = attribute_store.of_targets(conn, cluster.arn, list(rows))
        found, failures = [], []
        for arn in dict.fromkeys(wanted):
            if arn in rows:
                found.append(describe(conn, rows[arn], attributes[arn], with_tags))
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
    return {"containerInstances": found, "failures": failures}


def facts(row: Row, attributes: dict) -> InstanceFacts:
    return InstanceFacts(
        attributes=attributes, ec2_instance_id=row.ec2_instance_id,
        registered_at=row.registered_at, running_tasks_count=row.running_tasks_count,
        agent_connected=row.agent_connected,
        agent_version=row.doc.get("versionInfo", {}).get("agentVersion"),
        task_groups=frozenset())


@handlers.operation("ListContainerInstances")
def list_container_instances(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params)
    query = parse_expression(params["filter"]) if params.get("filter") else None
    statuses = (params["status"],) if params.get("status") else LISTED_BY_DEFAULT
    after = decode_token(params.get("nextToken"), "ListContainerInstances", str,
                         error=errors.ecs.InvalidParameterException)
    found: list[str] = []
    more = False
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        # Scan in ARN order, filtering as we go, until a page and one more are found.
        while not more:
            rows = instance_store.scan(conn, cluster.arn, statuses, after, batch=500)
            if not rows:
                break
            attributes = attribute_store.of_targets(conn, cluster.arn, [r.arn for r in rows]) \
                if query else {}
            for row in rows:
                if query is None or query.matches(facts(row, attributes[row.arn])):
                    if len(found) == limit:
                        more = True
                        break
                    found.append(row.arn)
            after = rows[-1].arn
    result = {"containerInstanceArns": found}
    if more:
        result["nextToken"] = encode_token("ListContainerInstances", found[-1])
    return result


@handlers.operation("UpdateContainerInstancesState")
def update_container_instances_state(ctx: RequestContext, params: dict) -> dict:
    status = params["status"]
    if status not in SETTABLE_STATES:
        raise errors.ecs.InvalidParameterException(
            "Container instances status can only be set to ACTIVE or DRAINING.")
    references = params["containerInstances"]
    if not 1 <= len(references) <= 10:
        raise errors.ecs.InvalidParameterException(
            "containerInstances must have between 1 and 10 items.")
    with ctx.store.write() as conn:
        # Locked: placement must not pick an instance being drained meanwhile.
        cluster = find_cluster(ctx, conn, params.get("cluster"), lock=True)
        updated, failures = [], []
        for arn in dict.fromkeys(instance_arn(ctx, cluster, r) for r in references):
            row = instance_store.get(conn, arn, lock=True)
            if row is None or row.cluster_arn != cluster.arn or row.status == "INACTIVE":
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            if row.status != status:
                instance_store.save(conn, arn, status=status)
            attributes = attribute_store.of_targets(conn, cluster.arn, [arn])[arn]
            updated.append(describe(conn, instance_store.get(conn, arn), attributes))
    return {"containerInstances": updated, "failures": failures}
