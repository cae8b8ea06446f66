"""CreateTargetGroup, ModifyTargetGroup, DescribeTargetGroups, DeleteTargetGroup and
the target group attributes."""

from __future__ import annotations

import re

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import lb_attributes
from nozama.aws.elbv2 import handlers, networking
from nozama.aws.elbv2.common import (arn, attributes_of, modify_attributes, check_name,
                                     load_balancer, marker, names_or_arns, new_id, page_size, paged,
                                     here, put_tags, tags_of_request, target_group)
from nozama.store import load_balancers as lb_store
from nozama.store import target_groups as tg_store

# ALB's health check defaults; HealthCheckProtocol defaults to the group's Protocol.
HEALTH_CHECK_DEFAULTS = {"HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
                         "HealthCheckEnabled": True, "HealthCheckPath": "/",
                         "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5,
                         "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2,
                         "Matcher": {"HttpCode": "200"}}
HEALTH_CHECK_KEYS = tuple(HEALTH_CHECK_DEFAULTS)
_CODES = re.compile(r"\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*")


def _check_health_check(doc: dict) -> None:
    interval, timeout = doc["HealthCheckIntervalSeconds"], doc["HealthCheckTimeoutSeconds"]
    if not 5 <= interval <= 300:
        raise ValidationError("Health check interval must be between 5 and 300 seconds")
    if not 2 <= timeout <= 120:
        raise ValidationError("Health check timeout must be between 2 and 120 seconds")
    if timeout >= interval:
        raise ValidationError(f"Health check timeout '{timeout}' must be smaller than the "
                              f"interval '{interval}'")
    for key in ("HealthyThresholdCount", "UnhealthyThresholdCount"):
        if not 2 <= doc[key] <= 10:
            raise ValidationError(f"{key} must be between 2 and 10")
    if doc["HealthCheckProtocol"] not in ("HTTP", "HTTPS"):
        raise errors.elbv2.UnsupportedProtocolException(
            f"Health check protocol '{doc['HealthCheckProtocol']}' is not supported by an "
            "application load balancer's target groups: use HTTP or HTTPS")
    port = doc["HealthCheckPort"]
    if port != "traffic-port" and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValidationError(f"Health check port '{port}' must be 'traffic-port' or from 1 "
                              "to 65535")
    path = doc["HealthCheckPath"]
    if not path.startswith("/") or len(path) > 1024:
        raise ValidationError("Health check path must begin with '/' and be at most 1024 "
                              "characters")
    codes = (doc.get("Matcher") or {}).get("HttpCode", "")
    if not _CODES.fullmatch(codes) or any(
            not 200 <= int(c) <= 499 for c in re.split("[,-]", codes)):
        raise ValidationError(f"Health check matcher HTTP code '{codes}' must be values or "
                              "ranges from 200 to 499, e.g. '200,202' or '200-299'")


def _new_doc(ctx: RequestContext, params: dict, tg_arn: str) -> dict:
    target_type = params.get("TargetType", "instance")
    if target_type not in ("instance", "ip"):
        raise ValidationError(f"Target type '{target_type}' is not supported by Nozama's load "
                              "balancer yet")
    for key in ("Protocol", "Port", "VpcId"):
        if params.get(key) is None:
            raise ValidationError(f"{key} is required for target type '{target_type}'")
    if params["Protocol"] not in ("HTTP", "HTTPS"):
        raise errors.elbv2.UnsupportedProtocolException(
            f"Nozama's load balancer supports HTTP and HTTPS target groups, not "
            f"{params['Protocol']}")
    if not 1 <= params["Port"] <= 65535:
        raise ValidationError("Port must be between 1 and 65535")
    doc = {"TargetGroupArn": tg_arn, "TargetGroupName": params["Name"],
           "Protocol": params["Protocol"], "Port": params["Port"], "VpcId": params["VpcId"],
           **{k: params.get(k, default) for k, default in HEALTH_CHECK_DEFAULTS.items()},
           "HealthCheckProtocol": params.get("HealthCheckProtocol", params["Protocol"]),
           "TargetType": target_type,
           "ProtocolVersion": params.get("ProtocolVersion", "HTTP1"),
           "IpAddressType": params.get("IpAddressType", "ipv4"),
           "Attributes": lb_attributes.defaults(lb_attributes.TARGET_GROUP)}
    if doc["ProtocolVersion"] != "HTTP1":
        raise errors.elbv2.UnsupportedProtocolException(
            "Nozama's load balancer speaks HTTP/1.1 to targets")
    _check_health_check(doc)
    return doc


def describe(conn, row) -> dict:
    doc = {k: v for k, v in row.doc.items() if k != "Attributes"}
    doc["LoadBalancerArns"] = lb_store.load_balancers_using(conn, row.arn)
    return doc


@handlers.operation("CreateTargetGroup")
def create_target_group(ctx: RequestContext, params: dict) -> dict:
    name = params["Name"]
    check_name(name, "Target group")
    tags = tags_of_request(params.get("Tags"))
    if params.get("VpcId") is not None:
        networking.check_vpc(ctx, params["VpcId"])  # before the write: it may make the default
    with ctx.store.write() as conn:
        tg_arn = arn(ctx, f"targetgroup/{name}/{new_id()}")
        doc = _new_doc(ctx, params, tg_arn)
        existing = tg_store.by_name(conn, ctx.region, ctx.account_id, name)
        if existing is not None:
            mine = {k: v for k, v in existing.doc.items() if k not in ("TargetGroupArn",
                                                                       "Attributes")}
            if mine == {k: v for k, v in doc.items() if k not in ("TargetGroupArn",
                                                                  "Attributes")}:
                return {"TargetGroups": [describe(conn, existing)]}
            raise errors.elbv2.DuplicateTargetGroupNameException(
                f"A target group with the same name '{name}' exists, "
                "but with different settings")
        tg_store.create(conn, ctx.region, ctx.account_id, name, tg_arn, ctx.clock.now(), doc)
        put_tags(conn, tg_arn, tags)
        return {"TargetGroups": [describe(conn, tg_store.get(conn, tg_arn))]}


@handlers.operation("ModifyTargetGroup")
def modify_target_group(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = target_group(ctx, conn, params["TargetGroupArn"])
        doc = dict(row.doc)
        for key in HEALTH_CHECK_KEYS:
            if params.get(key) is not None:
                doc[key] = params[key]
        _check_health_check(doc)
        tg_store.save(conn, row.arn, doc)
        lb_store.bump_generation(conn)
        return {"TargetGroups": [describe(conn, tg_store.get(conn, row.arn))]}


@handlers.operation("DescribeTargetGroups")
def describe_target_groups(ctx: RequestContext, params: dict) -> dict:
    names_or_arns(params, "TargetGroupArns", "Names")
    limit = page_size(params)
    with ctx.store.read() as conn:
        wanted = params.get("TargetGroupArns") or params.get("Names")
        if wanted:
            if params.get("TargetGroupArns"):
                rows = tg_store.by_arns(conn, ctx.region, ctx.account_id, wanted)
                found = {r.arn for r in rows}
            else:
                rows = tg_store.by_names(conn, ctx.region, ctx.account_id, wanted)
                found = {r.name for r in rows}
            missing = [w for w in wanted if w not in found]
            if missing:
                raise errors.elbv2.TargetGroupNotFoundException(
                    f"One or more target groups not found: {missing}")
            return {"TargetGroups": [describe(conn, r) for r in rows]}
        lb_arn = params.get("LoadBalancerArn")
        if lb_arn:
            load_balancer(ctx, conn, lb_arn)
        rows = tg_store.page(conn, ctx.region, ctx.account_id,
                             marker(params, "DescribeTargetGroups"), limit + 1, lb_arn)
        rows, more = paged(rows, limit, "DescribeTargetGroups")
        return {"TargetGroups": [describe(conn, r) for r in rows], **more}


@handlers.operation("DeleteTargetGroup")
def delete_target_group(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = tg_store.get(conn, params["TargetGroupArn"])
        if not here(ctx, row):
            return {}  # deleting what is not there succeeds, as in ELB
        if tg_store.in_use(conn, row.arn):
            raise errors.elbv2.ResourceInUseException(
                f"Target group '{row.arn}' is currently in use by a listener "
                "or a rule")
        tg_store.delete(conn, row.arn)
        lb_store.bump_generation(conn)
    return {}


@handlers.operation("DescribeTargetGroupAttributes")
def describe_target_group_attributes(ctx: RequestContext, params: dict) -> dict:
    return attributes_of(ctx, target_group, params["TargetGroupArn"])


@handlers.operation("ModifyTargetGroupAttributes")
def modify_target_group_attributes(ctx: RequestContext, params: dict) -> dict:
    return modify_attributes(ctx, target_group, tg_store.save, params["TargetGroupArn"],
                             lb_attributes.TARGET_GROUP, params["Attributes"], "Target group",
                             lb_attributes.check_target_group)
