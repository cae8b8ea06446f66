"""RegisterTargets, DeregisterTargets and DescribeTargetHealth.

A target's state here is what the API decided (registered, or draining until
a deadline); its health is what the data plane's checks observed, stored on
the same row. A target of a group no listener forwards to is `unused`.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.aws.elbv2 import handlers
from nozama.aws.elbv2.common import target_group
from nozama.store import container_instances as instance_store
from nozama.store import load_balancers as lb_store
from nozama.store import target_groups as tg_store

MAX_TARGETS = 1000
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")

NOT_IN_USE = ("unused", "Target.NotInUse",
              "Target group is not configured to receive traffic from the load balancer")
NOT_REGISTERED = ("unused", "Target.NotRegistered", "Target is not registered to the target group")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
REGISTERING = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")


def _targets(group, requested: list[dict]) -> list[tuple[str, int, str | None]]:
    found = []
    for target in requested:
        target_id, port = target["Id"], target.get("Port", group.doc["Port"])
        if not 1 <= port <= 65535:
            raise ValidationError(f"Port '{port}' of target '{target_id}' must be between 1 "
                                  "and 65535")
        found.append((target_id, port, target.get("AvailabilityZone")))
    return found


def _check_ids(ctx: RequestContext, conn, group, targets) -> None:
    if group.doc["TargetType"] == "ip":
        bad = []
        for target_id, _, _ in targets:
            try:
                ipaddress.ip_address(target_id)
            except ValueError:
                bad.append(target_id)
        if bad:
            raise ValidationError(f"The IP address '{bad[0]}' is not a valid IP address")
        return
    unknown = [t for t, _, _ in targets if not _INSTANCE_ID.fullmatch(t)
               or instance_store.by_ec2_instance_id(conn, ctx.region, ctx.account_id, t) is None]
    if unknown:
        raise errors.elbv2.InvalidTargetException("The following targets are not valid instances: "
                                                  + ", ".join(f"'{t}'" for t in unknown))


def _purge_drained(conn, group_arn: str, now) -> None:
    for row in tg_store.targets(conn, group_arn):
        if row.state == "draining" and row.drain_ends_at is not None and row.drain_ends_at <= now:
            tg_store.remove_target(conn, row.id)


@handlers.operation("RegisterTargets")
def register_targets(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        group = target_group(ctx, conn, params["TargetGroupArn"])
        targets = _targets(group, params["Targets"])
        _check_ids(ctx, conn, group, targets)
        now = ctx.clock.now()
        _purge_drained(conn, group.arn, now)
        for target_id, port, zone in targets:
            row = tg_store.target(conn, group.arn, target_id, port)
            if row is None:
                tg_store.add_target(conn, group.arn, target_id, port, zone, now, *REGISTERING)
            elif row.state == "draining":
                # Registered again while draining: it takes traffic again, once healthy.
                tg_store.update_target(conn, row.id, state="registered", drain_ends_at=None,
                                       registered_at=now, health_state=REGISTERING[0],
                                       health_reason=REGISTERING[1],
                                       health_description=REGISTERING[2])
        if len(tg_store.targets(conn, group.arn)) > MAX_TARGETS:
            raise errors.elbv2.TooManyTargetsException(
                f"A target group can have at most {MAX_TARGETS} targets")
        lb_store.bump_generation(conn)
    return {}


@handlers.operation("DeregisterTargets")
def deregister_targets(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        group = target_group(ctx, conn, params["TargetGroupArn"])
        targets = _targets(group, params["Targets"])
        rows = [tg_store.target(conn, group.arn, target_id, port) for target_id, port, _ in targets]
        missing = [t for t, row in zip(targets, rows) if row is None]
        if missing:
            raise errors.elbv2.InvalidTargetException(
                "The following targets are not registered in target group "
                f"'{group.arn}': " + ", ".join(f"'{t[0]}'" for t in missing))
        delay = int(group.doc["Attributes"]["deregistration_delay.timeout_seconds"])
        in_use = tg_store.in_use(conn, group.arn)
        until = ctx.clock.now() + timedelta(seconds=delay)
        for row in rows:
            if not in_use or delay == 0:
                tg_store.remove_target(conn, row.id)
            elif row.state != "draining":
                tg_store.update_target(conn, row.id, state="draining", drain_ends_at=until)
        lb_store.bump_generation(conn)
    return {}


@handlers.operation("DescribeTargetHealth")
def describe_target_health(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        group = target_group(ctx, conn, params["TargetGroupArn"])
        now = ctx.clock.now()
        rows = [r for r in tg_store.targets(conn, group.arn)
                if not (r.state == "draining" and r.drain_ends_at and r.drain_ends_at <= now)]
        in_use = tg_store.in_use(conn, group.arn)
    by_key = {(r.target_id, r.port): r for r in rows}
    if params.get("Targets"):
        wanted = [(t, p) for t, p, _ in _targets(group, params["Targets"])]
    else:
        wanted = list(by_key)
    return {"TargetHealthDescriptions": [
        _health(group, target_id, port, by_key.get((target_id, port)), in_use)
        for target_id, port in wanted]}


def _health(group, target_id: str, port: int, row, in_use: bool) -> dict:
    target = {"Id": target_id, "Port": port}
    if row is not None and row.availability_zone:
        target["AvailabilityZone"] = row.availability_zone
    check_port = group.doc["HealthCheckPort"]
    if row is None:
        state = NOT_REGISTERED
    elif row.state == "draining":
        state = DRAINING
    elif not in_use:
        state = NOT_IN_USE
    else:
        state = (row.health_state, row.health_reason, row.health_description)
    health = {"State": state[0]}
    if state[1]:
        health["Reason"] = state[1]
    if state[2]:
        health["Description"] = state[2]
    return {"Target": target, "TargetHealth": health,
            "HealthCheckPort": str(port) if check_port == "traffic-port" else check_port}
