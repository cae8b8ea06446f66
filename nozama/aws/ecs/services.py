"""CreateService, UpdateService, DeleteService, DescribeServices, ListServices.

These only record what the user wants (the service and its deployments); the
service controller (controllers/services.py) makes the tasks match.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Row

from nozama.kernel.context import RequestContext
from nozama.kernel import errors
from nozama.controllers import traffic_shift
from nozama.controllers.deployment_records import new_deployment, supersede
from nozama.controllers.notify import wake_controller
from nozama.model import arns, lb_rules
from nozama.model.deployment_state import DeploymentState
from nozama.scheduler.feasibility import parse_constraints
from nozama.scheduler.rank import parse_strategies
from nozama.aws.ecs.networking import check_awsvpc
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import find_cluster, page_size, tags_from_request, tags_of
from nozama.aws.ecs.task_definitions import find as find_task_definition
from nozama.store import alarms as alarm_store
from nozama.store import load_balancers as lb_store
from nozama.store import services as service_store
from nozama.store import tags as tag_store
from nozama.store import target_groups as target_group_store
from nozama.store.pagination import decode_token, page

_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200, "minimumHealthyPercent": 100,
    "alarms": {"alarmNames": [], "enable": False, "rollback": False},
}
# ECS's defaults for a DAEMON service: a task is stopped before its replacement starts
# on the same instance, and all of them may be replaced at once.
DAEMON_DEPLOYMENT_CONFIGURATION = {**DEFAULT_DEPLOYMENT_CONFIGURATION,
                                   "maximumPercent": 100, "minimumHealthyPercent": 0}


def describe(conn: Connection, row: Row, with_tags: bool = False) -> dict:
    doc = row.doc
    service = dict(doc)
    service["deployments"] = [dict(d) for d in doc["deployments"]]
    service.update(status=row.status, desiredCount=row.desired_count,
                   runningCount=sum(d.get("runningCount", 0) for d in doc["deployments"]),
                   pendingCount=sum(d.get("pendingCount", 0) for d in doc["deployments"]))
    service["events"] = list(reversed(doc.get("events", [])))[:100]
    # A service created before Nozama knew the parameter never had it: ECS says DISABLED.
    service.setdefault("availabilityZoneRebalancing", "DISABLED")
    if with_tags:
        service["tags"] = tags_of(conn, row.arn)
    return service


def _configuration(given: dict | None, current: dict | None = None,
                   strategy: str = "REPLICA") -> dict:
    defaults = DAEMON_DEPLOYMENT_CONFIGURATION if strategy == "DAEMON" else \
        DEFAULT_DEPLOYMENT_CONFIGURATION
    merged = {**defaults, **(current or {}), **(given or {})}
    low, high = merged["minimumHealthyPercent"], merged["maximumPercent"]
    if low < 0 or high < 0:
        raise errors.ecs.InvalidParameterException(
            "minimumHealthyPercent and maximumPercent can't be "
            "negative.")
    if low > high:
        raise errors.ecs.InvalidParameterException(
            "minimumHealthyPercent must be less than or equal to maximumPercent.")
    _check_shift_configuration(merged)
    bake = merged.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= bake <= MAX_BAKE_MINUTES:
        raise errors.ecs.InvalidParameterException(
            f"bakeTimeInMinutes must be between 0 and {MAX_BAKE_MINUTES}.")
    alarms = merged["alarms"]
    if alarms.get("enable") and not alarms.get("alarmNames"):
        raise errors.ecs.InvalidParameterException("alarmNames must name at least one alarm when "
                                        "deployment alarms are enabled.")
    return merged


MAX_BAKE_MINUTES = 1440


def _check_shift_configuration(configuration: dict) -> None:
    canary = configuration.get("canaryConfiguration") or {}
    if canary.get("canaryPercent") is not None and not 0 < canary["canaryPercent"] <= 100:
        raise errors.ecs.InvalidParameterException(
            "canaryPercent must be greater than 0 and at most 100.")
    linear = configuration.get("linearConfiguration") or {}
    if linear.get("stepPercent") is not None and not 0 < linear["stepPercent"] <= 100:
        raise errors.ecs.InvalidParameterException(
            "stepPercent must be greater than 0 and at most 100.")
    for bake in (canary.get("canaryBakeTimeInMinutes"), linear.get("stepBakeTimeInMinutes")):
        if bake is not None and not 0 <= bake <= MAX_BAKE_MINUTES:
            raise errors.ecs.InvalidParameterException(
                f"Bake times must be between 0 and {MAX_BAKE_MINUTES} minutes.")
    for hook in configuration.get("lifecycleHooks") or []:
        if not hook.get("lifecycleStages"):
            raise errors.ecs.InvalidParameterException("A lifecycle hook needs lifecycleStages.")
        target = hook.get("hookTargetArn") or ""
        if hook.get("targetType") == "AWS_LAMBDA" and not target.startswith(
                ("http://", "https://")):
            raise errors.ecs.InvalidParameterException(
                "Nozama calls lifecycle hooks over HTTP: give an http(s) URL as hookTargetArn "
                "(Lambda functions as hooks are not supported yet).")
        if hook.get("targetType") not in ("AWS_LAMBDA", "PAUSE"):
            raise errors.ecs.InvalidParameterException(
                "A lifecycle hook's targetType must be AWS_LAMBDA "
                "or PAUSE.")


def _check_alarms(ctx: RequestContext, conn: Connection, configuration: dict) -> None:
    """The alarms a deployment watches must exist (in CloudWatch, here the same store)."""
    names = configuration["alarms"].get("alarmNames") or []
    found = {r.name for r in alarm_store.search(conn, ctx.region, ctx.account_id, names=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise errors.ecs.InvalidParameterException(
            f"The CloudWatch alarm(s) {', '.join(missing)} do not exist.")


def _check_placement(params: dict, name: str) -> None:
    """Refuse constraints and strategies the scheduler can't read, before they are stored."""
    if params.get("placementConstraints") is not None:
        parse_constraints(params["placementConstraints"], f"service:{name}")
    if params.get("placementStrategy"):
        parse_strategies(params["placementStrategy"], service=True)


def _check(params: dict, strategy: str) -> None:
    """What CreateService and UpdateService refuse whatever the cluster holds; `strategy`
    is the service's scheduling strategy (UpdateService cannot change it)."""
    if params.get("desiredCount") is not None and params["desiredCount"] < 0:
        raise errors.ecs.InvalidParameterException("desiredCount can't be negative.")
    if params.get("launchType", "EC2") not in ("EC2", "EXTERNAL"):
        raise errors.ecs.InvalidParameterException(
            f"Nozama runs services on EC2 and EXTERNAL instances, not {params['launchType']}.")
    if strategy == "DAEMON":
        _check_daemon(params)
    if params.get("deploymentController", {}).get("type", "ECS") != "ECS":
        raise errors.ecs.InvalidParameterException(
            "Only the ECS deployment controller is supported.")
    if params.get("availabilityZoneRebalancing") == "ENABLED" and (
            strategy == "DAEMON" or _binpacks(params.get("placementStrategy"))):
        # ECS leaves such services out of rebalancing: a daemon runs on every instance
        # already, and binpack packs tasks together on purpose.
        raise errors.ecs.InvalidParameterException(
            "Availability Zone rebalancing is not supported for services that use the "
            "DAEMON scheduling strategy or the binpack placement strategy.")


def _check_daemon(params: dict) -> None:
    """The parameters of REPLICA services that a DAEMON service refuses, with ECS's
    messages: it runs one task on each instance, so there is no count to give, no
    strategy to place by, and no room for a second task on an instance."""
    if params.get("desiredCount") is not None:
        raise errors.ecs.InvalidParameterException(
            "The daemon scheduling strategy does not support a desired count for services. "
            "Remove the desired count value and try again")
    if params.get("placementStrategy"):
        raise errors.ecs.InvalidParameterException(
            "The daemon scheduling strategy does not support placement strategies. Remove "
            "the placement strategy and try again")
    if params.get("capacityProviderStrategy"):
        raise errors.ecs.InvalidParameterException(
            "Specifying a capacity provider strategy is not supported when you create a "
            "service using the DAEMON scheduling strategy.")
    controller = params.get("deploymentController", {}).get("type", "ECS")
    if controller != "ECS":
        raise errors.ecs.InvalidParameterException(
            f"The daemon scheduling strategy does not support the {controller} deployment "
            "controller. Use the ECS deployment controller and try again")
    configuration = params.get("deploymentConfiguration") or {}
    if (configuration.get("maximumPercent") or 0) > 100:
        raise errors.ecs.InvalidParameterException(
            "The daemon scheduling strategy does not support values above 100 for "
            "maximumPercent on a deployment configuration. Change the maximumPercent value "
            "to 100, and try again")
    if configuration.get("strategy", "ROLLING") != "ROLLING":
        raise errors.ecs.InvalidParameterException(
            f"The daemon scheduling strategy does not support the {configuration['strategy']} "
            "deployment strategy. Use the ROLLING deployment strategy and try again")


def _binpacks(strategies: list[dict] | None) -> bool:
    return any(s.get("type") == "binpack" for s in strategies or [])


def _az_rebalancing(params: dict, strategy: str) -> str:
    """A new service's availabilityZoneRebalancing: as given, else ENABLED for the
    services ECS rebalances (since 2025 its default for new services), DISABLED for
    the others."""
    given = params.get("availabilityZoneRebalancing")
    if given is not None:
        return given
    if strategy == "DAEMON" or _binpacks(params.get("placementStrategy")):
        return "DISABLED"
    return "ENABLED"


MAX_LOAD_BALANCERS = 5


def _check_load_balancers(ctx: RequestContext, conn: Connection, load_balancers: list[dict],
                          definition: Row, strategy: str = "ROLLING",
                          service_arn: str = "") -> None:
    """Refuse the service's loadBalancers as ECS does: each names an application load
    balancer's target group, attached to a load balancer, of the target type the task's
    network mode needs, and a container port the task definition maps."""
    if len(load_balancers) > MAX_LOAD_BALANCERS:
        raise errors.ecs.InvalidParameterException(
            f"A service can have at most {MAX_LOAD_BALANCERS} load balancers.")
    containers = {c["name"]: c for c in definition.doc["containerDefinitions"]}
    awsvpc = definition.doc.get("networkMode") == "awsvpc"
    for entry in load_balancers:
        if entry.get("loadBalancerName") or not entry.get("targetGroupArn"):
            raise errors.ecs.InvalidParameterException(
                "Classic Load Balancers are not supported: give "
                "the targetGroupArn of a target group.")
        name, port = entry.get("containerName"), entry.get("containerPort")
        if not name or port is None:
            raise errors.ecs.InvalidParameterException(
                "containerName and containerPort are required "
                "for a load balancer.")
        group = target_group_store.get(conn, entry["targetGroupArn"])
        if group is None or (group.region, group.account) != (ctx.region, ctx.account_id):
            raise errors.ecs.InvalidParameterException(
                f"Unable to find the target group {entry['targetGroupArn']}.")
        if not lb_store.load_balancers_using(conn, group.arn):
            raise errors.ecs.InvalidParameterException(
                f"The target group with targetGroupArn {group.arn} does not have an "
                "associated load balancer.")
        wanted = "ip" if awsvpc else "instance"
        if group.doc["TargetType"] != wanted:
            raise errors.ecs.InvalidParameterException(
                f"The provided target group {group.arn} has target type "
                f"{group.doc['TargetType']}, which is incompatible with the "
                f"{definition.doc.get('networkMode', 'bridge')} network mode specified in "
                "the task definition.")
        if name not in containers:
            raise errors.ecs.InvalidParameterException(
                f"The container {name} does not exist in the task definition.")
        if not any(m.get("containerPort") == port
                   for m in containers[name].get("portMappings", [])):
            raise errors.ecs.InvalidParameterException(
                f"The container {name} did not have a container port {port} defined.")
        if strategy in traffic_shift.STRATEGIES:
            _check_advanced_configuration(ctx, conn, entry, group, strategy, service_arn)
    if strategy in traffic_shift.STRATEGIES and not load_balancers:
        raise errors.ecs.InvalidParameterException(
            f"The {strategy} deployment strategy needs a load balancer with an "
            "advancedConfiguration (alternateTargetGroupArn, productionListenerRule).")


def _check_advanced_configuration(ctx: RequestContext, conn: Connection, entry: dict,
                                  group: Row, strategy: str, service_arn: str) -> None:
    """What a traffic-shifted deployment needs: an alternate target group like the primary
    one and used by no other service, and the listener rules it rewrites."""
    advanced = entry.get("advancedConfiguration") or {}
    alternate_arn, production = advanced.get("alternateTargetGroupArn"), \
        advanced.get("productionListenerRule")
    if not alternate_arn or not production:
        raise errors.ecs.InvalidParameterException(
            f"The {strategy} deployment strategy needs advancedConfiguration with "
            "alternateTargetGroupArn and productionListenerRule for each load balancer.")
    alternate = target_group_store.get(conn, alternate_arn)
    if alternate is None or (alternate.region, alternate.account) != (ctx.region,
                                                                        ctx.account_id):
        raise errors.ecs.InvalidParameterException(
            f"Unable to find the target group {alternate_arn}.")
    if alternate.arn == group.arn:
        raise errors.ecs.InvalidParameterException(
            "alternateTargetGroupArn must differ from targetGroupArn.")
    if alternate.doc["TargetType"] != group.doc["TargetType"]:
        raise errors.ecs.InvalidParameterException(
            f"The alternate target group {alternate.arn} has target type "
            f"{alternate.doc['TargetType']}, not {group.doc['TargetType']}.")
    for other in service_store.live(conn):
        if other.arn == service_arn or (other.region, other.account) != (ctx.region,
                                                                          ctx.account_id):
            continue
        used = {arn for e in other.doc.get("loadBalancers", []) for arn in (
            e.get("targetGroupArn"), (e.get("advancedConfiguration") or {}).get(
                "alternateTargetGroupArn")) if arn}
        if used & {alternate.arn, group.arn}:
            raise errors.ecs.InvalidParameterException(
                f"The target group {alternate.arn if alternate.arn in used else group.arn} "
                f"is already used by the service {other.name}.")
    for role in ("productionListenerRule", "testListenerRule"):
        rule_arn = advanced.get(role)
        if rule_arn is None:
            continue
        rule = lb_store.rule(conn, rule_arn)
        if rule is None or (rule.region, rule.account) != (ctx.region, ctx.account_id):
            raise errors.ecs.InvalidParameterException(
                f"Unable to find the listener rule {rule_arn}.")
        if role == "productionListenerRule" and group.arn not in \
                lb_rules.target_group_arns(rule.doc["Actions"]):
            raise errors.ecs.InvalidParameterException(
                f"The production listener rule {rule_arn} does not forward to the target "
                f"group {group.arn}.")


def service_linked_role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"


def _role_arn(ctx: RequestContext, params: dict, definition: Row) -> str:
    """The service's roleArn: the role given (a name, a /path/name or an ARN), else the
    ECS service-linked role, which ECS shows on services that name none."""
    role = params.get("role")
    if not role:
        return service_linked_role_arn(ctx.account_id)
    if not params.get("loadBalancers"):
        raise errors.ecs.InvalidParameterException(
            "The role parameter is only permitted with loadBalancers: a service without "
            "a load balancer does not use a role.")
    if definition.doc.get("networkMode") == "awsvpc":
        raise errors.ecs.InvalidParameterException(
            "The role parameter is not permitted when the task definition uses the awsvpc "
            "network mode: the service-linked role is used.")
    if arns.is_arn(role):
        return role
    return f"arn:aws:iam::{ctx.account_id}:role/{role.lstrip('/')}"


def _active_definition(ctx: RequestContext, conn: Connection, reference: str) -> Row:
    definition = find_task_definition(ctx, conn, reference)
    if definition.status != "ACTIVE":
        raise errors.ecs.ClientException("TaskDefinition is inactive")
    return definition


def find_service(ctx: RequestContext, conn: Connection, cluster: Row, reference: str,
                 lock: bool = False) -> Row:
    """The service; with lock, locked until the transaction ends (lock its cluster first)."""
    name = arns.name_of(reference)
    row = service_store.find(conn, cluster.arn, name, lock=lock)
    if row is None:
        raise errors.ecs.ServiceNotFoundException("Service not found.")
    return row


@handlers.operation("CreateService")
def create_service(ctx: RequestContext, params: dict) -> dict:
    strategy = params.get("schedulingStrategy") or "REPLICA"
    _check(params, strategy)
    check_awsvpc(ctx, params)
    name = params["serviceName"]
    if not _NAME.fullmatch(name):
        raise errors.ecs.InvalidParameterException("serviceName must be 1 to 255 letters, numbers, "
                                        "hyphens and underscores.")
    if params.get("desiredCount") is None and strategy == "REPLICA":
        raise errors.ecs.InvalidParameterException(
            "desiredCount is required for a REPLICA service.")
    # A daemon's count is its instances': the controller sets it on its first pass.
    desired_count = params.get("desiredCount") or 0
    if not params.get("taskDefinition"):
        raise errors.ecs.InvalidParameterException("taskDefinition is required.")
    configuration = _configuration(params.get("deploymentConfiguration"), None, strategy)
    _check_placement(params, name)
    new_tags = tags_from_request(params.get("tags"))
    with ctx.store.write() as conn:
        # Locked: a second CreateService of the name, on another server, waits and then
        # finds this one.
        cluster = find_cluster(ctx, conn, params.get("cluster"), lock=True)
        existing = service_store.find(conn, cluster.arn, name, lock=True)
        if existing is not None and existing.status != "INACTIVE":
            raise errors.ecs.InvalidParameterException("Creation of service was not idempotent.")
        definition = _active_definition(ctx, conn, params["taskDefinition"])
        arn = arns.arn("ecs", ctx.region, ctx.account_id, f"service/{cluster.name}/{name}")
        _check_load_balancers(ctx, conn, params.get("loadBalancers", []), definition,
                              configuration.get("strategy", "ROLLING"), arn)
        _check_alarms(ctx, conn, configuration)
        role_arn = _role_arn(ctx, params, definition)
        now = ctx.clock.now()
        doc = {
            "serviceArn": arn, "serviceName": name, "clusterArn": cluster.arn,
            "loadBalancers": params.get("loadBalancers", []), "serviceRegistries": [],
            "launchType": params.get("launchType", "EC2"),
            "taskDefinition": definition.arn, "deploymentConfiguration": configuration,
            "deployments": [], "events": [], "createdAt": now.timestamp(),
            "placementConstraints": params.get("placementConstraints", []),
            "placementStrategy": params.get("placementStrategy", []),
            "schedulingStrategy": strategy, "deploymentController": {"type": "ECS"},
            "availabilityZoneRebalancing": _az_rebalancing(params, strategy),
            "createdBy": f"arn:aws:iam::{ctx.account_id}:root",
            "enableECSManagedTags": params.get("enableECSManagedTags", False),
            "propagateTags": params.get("propagateTags", "NONE"),
            "enableExecuteCommand": False, "roleArn": role_arn,
        }
        if params.get("healthCheckGracePeriodSeconds") is not None:
            doc["healthCheckGracePeriodSeconds"] = params["healthCheckGracePeriodSeconds"]
        state = DeploymentState()
        deployment, rollout = new_deployment(doc, state, definition.arn, desired_count, now)
        doc["deployments"].append(deployment)
        if traffic_shift.uses_traffic_shift(configuration):
            traffic_shift.start(rollout, None, doc["loadBalancers"])
        state.record(doc["deployments"])
        if existing is not None:  # a deleted service's name (and ARN) is used again
            tag_store.remove_all(conn, arn)
            service_store.save(conn, arn, status="ACTIVE", desired_count=desired_count,
                       created_at=now, doc=doc, deployment_state=state.to_json())
        else:
            service_store.create(conn, ctx.region, ctx.account_id, cluster.arn, arn, name,
                         desired_count, now, doc, state.to_json())
        tag_store.put(conn, arn, new_tags)
        result = {"service": describe(conn, service_store.find(conn, cluster.arn, name), True)}
    wake_controller(ctx.wakeups)
    return result


@handlers.operation("UpdateService")
def update_service(ctx: RequestContext, params: dict) -> dict:
    check_awsvpc(ctx, params)
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"), lock=True)
        row = find_service(ctx, conn, cluster, params["service"], lock=True)
        if row.status != "ACTIVE":
            raise errors.ecs.ServiceNotActiveException("Service was not ACTIVE.")
        scheduling = row.doc.get("schedulingStrategy", "REPLICA")
        _check(params, scheduling)
        if params.get("availabilityZoneRebalancing") == "ENABLED" and \
                "placementStrategy" not in params:
            _check({**params, "placementStrategy": row.doc.get("placementStrategy")},
                   scheduling)
        _check_placement(params, row.name)
        doc = dict(row.doc)
        desired = params.get("desiredCount", row.desired_count)
        redeploy = bool(params.get("forceNewDeployment"))
        if params.get("taskDefinition"):
            definition = _active_definition(ctx, conn, params["taskDefinition"])
            redeploy |= definition.arn != doc["taskDefinition"]
            doc["taskDefinition"] = definition.arn
        if "deploymentConfiguration" in params:
            doc["deploymentConfiguration"] = _configuration(params["deploymentConfiguration"],
                                                            doc["deploymentConfiguration"],
                                                            scheduling)
            _check_alarms(ctx, conn, doc["deploymentConfiguration"])
        for member in ("placementConstraints", "placementStrategy"):
            if member in params and params[member] != doc.get(member):
                doc[member] = params[member]
                redeploy = True
        if params.get("healthCheckGracePeriodSeconds") is not None:
            doc["healthCheckGracePeriodSeconds"] = params["healthCheckGracePeriodSeconds"]
        if params.get("availabilityZoneRebalancing"):
            # As in ECS, this starts no deployment: the controller reads it on its next pass.
            doc["availabilityZoneRebalancing"] = params["availabilityZoneRebalancing"]
        if "loadBalancers" in params:
            doc["loadBalancers"] = params["loadBalancers"]
        strategy = doc["deploymentConfiguration"].get("strategy", "ROLLING")
        if "loadBalancers" in params or params.get("taskDefinition") or \
                "deploymentConfiguration" in params:
            _check_load_balancers(ctx, conn, doc["loadBalancers"], find_task_definition(
                ctx, conn, doc["taskDefinition"]), strategy, row.arn)
        doc["deployments"] = [dict(d) for d in doc["deployments"]]
        state = DeploymentState.from_json(row.deployment_state)
        if redeploy:
            current = state.of(doc["deployments"][0])
            if current.shifting:
                raise errors.ecs.InvalidParameterException(
                    f"The service's deployment {current.id} is shifting traffic: wait for "
                    "it to finish or stop it (StopServiceDeployment) first.")
            supersede(doc, state, ctx.clock.now())
            deployment, rollout = new_deployment(doc, state, doc["taskDefinition"], desired,
                                                 ctx.clock.now())
            doc["deployments"].insert(0, deployment)
            if traffic_shift.uses_traffic_shift(doc["deploymentConfiguration"]):
                traffic_shift.start(rollout, current, doc["loadBalancers"])
            elif current.groups:
                # A rolling update after a blue/green one serves from the target groups
                # production traffic goes to now.
                rollout.groups = current.groups
        doc["deployments"][0]["desiredCount"] = desired
        state.record(doc["deployments"])
        service_store.save(conn, row.arn, desired_count=desired, doc=doc,
                   deployment_state=state.to_json())
        result = {"service": describe(conn, service_store.get(conn, row.arn))}
    wake_controller(ctx.wakeups)
    return result


@handlers.operation("DeleteService")
def delete_service(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"), lock=True)
        row = find_service(ctx, conn, cluster, params["service"], lock=True)
        if row.status == "INACTIVE":
            raise errors.ecs.ServiceNotActiveException("Service was not ACTIVE.")
        # A daemon cannot be scaled to 0 first: ECS deletes it without force.
        if row.desired_count > 0 and not params.get("force") and \
                row.doc.get("schedulingStrategy") != "DAEMON":
            raise errors.ecs.InvalidParameterException(
                "The service cannot be stopped while it is scaled above 0.")
        doc = dict(row.doc)
        doc["deployments"] = [{**d, "desiredCount": 0} for d in doc["deployments"]]
        service_store.save(conn, row.arn, status="DRAINING", desired_count=0, doc=doc)
        result = {"service": describe(conn, service_store.get(conn, row.arn))}
    wake_controller(ctx.wakeups)
    return result


@handlers.operation("DescribeServices")
def describe_services(ctx: RequestContext, params: dict) -> dict:
    references = params["services"]
    if not 1 <= len(references) <= 10:
        raise errors.ecs.InvalidParameterException("services must have between 1 and 10 items.")
    with_tags = "TAGS" in (params.get("include") or [])
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        found, failures = [], []
        for reference in references:
            row = service_store.find(conn, cluster.arn, arns.name_of(reference))
            if row is None:
                arn = reference if arns.is_arn(reference) else arns.arn(
                    "ecs", ctx.region, ctx.account_id, f"service/{cluster.name}/{reference}")
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(describe(conn, row, with_tags))
    return {"services": found, "failures": failures}


@handlers.operation("ListServices")
def list_services(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params, default=10)
    after = decode_token(params.get("nextToken"), "ListServices", str,
                         error=errors.ecs.InvalidParameterException)
    with ctx.store.read() as conn:
        cluster = find_cluster(ctx, conn, params.get("cluster"))
        found = service_store.list_arns(conn, cluster.arn, params.get("launchType"), after,
                                        limit + 1)
    items, token = page(found, limit, "ListServices", key=lambda arn: arn)
    return {"serviceArns": items, **({"nextToken": token} if token else {})}
