"""CreateListener, DescribeListeners, ModifyListener and DeleteListener.

A listener's default actions are also its default rule (DescribeRules shows
it last, with priority "default"), which is how the data plane reads them. An HTTPS
listener's certificates and security policy are checked in tls.py.
"""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import lb_rules
from nozama.aws.elbv2 import handlers, tls
from nozama.aws.elbv2.common import (DEFAULT_VPC, arn, listener, load_balancer, marker, new_id,
                                     page_size, paged, put_tags, tags_of_request, target_group)
from nozama.store import listener_certificates
from nozama.store import load_balancers as lb_store

MAX_LISTENERS = 50


def checked_actions(ctx: RequestContext, conn: Connection, load_balancer_arn: str,
                    requested: list[dict]) -> list[dict]:
    """Actions in stored form, with the target groups they forward to checked.

    A load balancer is in its subnets' VPC, and like ALB it refuses a target group of
    another VPC. (One made before Nozama had VPCs takes the VPC of the first target
    group it forwards to.)
    """
    stored = lb_rules.actions(requested)
    lb = lb_store.get(conn, load_balancer_arn)
    vpc = lb.doc["VpcId"]
    for tg_arn in lb_rules.target_group_arns(stored):
        group = target_group(ctx, conn, tg_arn)
        if vpc == DEFAULT_VPC and group.doc.get("VpcId"):
            vpc = lb.doc["VpcId"] = group.doc["VpcId"]
            lb_store.save(conn, load_balancer_arn, lb.doc)
        if group.doc.get("VpcId", vpc) != vpc:
            raise errors.elbv2.InvalidConfigurationRequestException(
                f"Target group '{tg_arn}' is in a different "
                f"VPC than load balancer '{load_balancer_arn}'")
        if any(other != load_balancer_arn for other in lb_store.load_balancers_using(conn, tg_arn)):
            raise errors.elbv2.TargetGroupAssociationLimitException(
                "The following target groups cannot be "
                "associated with more than one load balancer: "
                f"{tg_arn}")
        # An application load balancer forwards HTTP and HTTPS listeners' requests to
        # HTTP and HTTPS target groups alike.
        if group.doc["Protocol"] not in tls.ALB_PROTOCOLS:
            raise errors.elbv2.IncompatibleProtocolsException(
                f"Target group '{tg_arn}' uses protocol "
                f"{group.doc['Protocol']}, which an application load balancer's listeners "
                "cannot forward to")
    return stored


def _check_protocol_and_port(params: dict) -> None:
    if params.get("Protocol"):
        tls.check_protocol(params["Protocol"])
    port = params.get("Port")
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError("Listener port must be between 1 and 65535")


def _default_rule_arn(listener_arn: str, rule_id: str) -> str:
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + f"/{rule_id}"


@handlers.operation("CreateListener")
def create_listener(ctx: RequestContext, params: dict) -> dict:
    _check_protocol_and_port(params)
    if params.get("Port") is None:
        raise ValidationError("A listener port must be specified")
    tags = tags_of_request(params.get("Tags"))
    with ctx.store.write() as conn:
        lb = load_balancer(ctx, conn, params["LoadBalancerArn"])
        actions = checked_actions(ctx, conn, lb.arn, params["DefaultActions"])
        port, protocol = params["Port"], params.get("Protocol") or "HTTP"
        existing = lb_store.listener_on_port(conn, lb.arn, port)
        if existing is not None:
            if _same_listener(ctx, conn, existing.doc, protocol, actions, params):
                return {"Listeners": [existing.doc]}  # the same listener again: idempotent
            raise errors.elbv2.DuplicateListenerException(
                "A listener already exists on this port for this load "
                f"balancer '{lb.arn}'")
        if lb_store.listener_count(conn, lb.arn) >= MAX_LISTENERS:
            raise errors.elbv2.TooManyListenersException(
                f"A load balancer can have at most {MAX_LISTENERS} "
                "listeners")
        lb_path = lb.arn.split(":loadbalancer/", 1)[1]
        listener_arn = arn(ctx, f"listener/{lb_path}/{new_id()}")
        doc = {"ListenerArn": listener_arn, "LoadBalancerArn": lb.arn, "Port": port,
               "Protocol": protocol, "DefaultActions": actions}
        default = tls.settings(ctx, conn, protocol, params, doc)
        lb_store.create_listener(conn, ctx.region, ctx.account_id, lb.arn, listener_arn, port, doc)
        if default:
            listener_certificates.set_default(conn, listener_arn, lb.arn, default)
        rule_arn = _default_rule_arn(listener_arn, new_id())
        lb_store.create_rule(conn, ctx.region, ctx.account_id, listener_arn, rule_arn, None, {
            "RuleArn": rule_arn, "Priority": "default", "Conditions": [], "Actions": actions,
            "IsDefault": True})
        lb_store.set_uses(conn, listener_arn, lb.arn, lb_rules.target_group_arns(actions))
        put_tags(conn, listener_arn, tags)
        lb_store.bump_generation(conn)
    return {"Listeners": [doc]}


def _same_listener(ctx: RequestContext, conn: Connection, existing: dict, protocol: str,
                   actions: list[dict], params: dict) -> bool:
    asked = {"Protocol": protocol, "DefaultActions": actions}
    tls.settings(ctx, conn, protocol, params, asked)
    return all(existing.get(k) == asked.get(k) for k in ("Protocol", "DefaultActions",
                                                           "Certificates", "SslPolicy"))


@handlers.operation("DescribeListeners")
def describe_listeners(ctx: RequestContext, params: dict) -> dict:
    lb_arn, wanted = params.get("LoadBalancerArn"), params.get("ListenerArns")
    if bool(lb_arn) == bool(wanted):
        raise ValidationError("Specify either listener ARNs or a load balancer ARN")
    limit = page_size(params)
    with ctx.store.read() as conn:
        if wanted:
            rows = lb_store.listeners_by_arns(conn, ctx.region, ctx.account_id, wanted)
            missing = set(wanted) - {r.arn for r in rows}
            if missing:
                raise errors.elbv2.ListenerNotFoundException(
                    f"One or more listeners not found: {sorted(missing)}")
            return {"Listeners": [r.doc for r in rows]}
        load_balancer(ctx, conn, lb_arn)
        rows = lb_store.listeners_of(conn, lb_arn, marker(params, "DescribeListeners"), limit + 1)
    rows, more = paged(rows, limit, "DescribeListeners")
    return {"Listeners": [r.doc for r in rows], **more}


@handlers.operation("ModifyListener")
def modify_listener(ctx: RequestContext, params: dict) -> dict:
    _check_protocol_and_port(params)
    with ctx.store.write() as conn:
        row = listener(ctx, conn, params["ListenerArn"])
        doc = dict(row.doc)
        port = params.get("Port", row.port)
        if port != row.port and lb_store.listener_on_port(conn, row.load_balancer_arn, port):
            raise errors.elbv2.DuplicateListenerException(
                "A listener already exists on this port for this load "
                f"balancer '{row.load_balancer_arn}'")
        doc["Port"] = port
        doc["Protocol"] = params.get("Protocol") or doc["Protocol"]
        default = tls.settings(ctx, conn, doc["Protocol"], params, doc)
        if default is None:
            listener_certificates.remove_all(conn, row.arn)
        elif default != (row.doc.get("Certificates") or [{}])[0].get("CertificateArn"):
            # A new default certificate: the former one leaves the listener.
            listener_certificates.set_default(conn, row.arn, row.load_balancer_arn, default)
        if params.get("DefaultActions"):
            doc["DefaultActions"] = checked_actions(ctx, conn, row.load_balancer_arn,
                                                    params["DefaultActions"])
            # The default actions are the listener's default rule's.
            lb_store.replace_rule_actions(conn, lb_store.rules_of(conn, row.arn)[-1],
                                          doc["DefaultActions"])
        lb_store.save_listener(conn, row.arn, port, doc)
        lb_store.bump_generation(conn)
    return {"Listeners": [doc]}


@handlers.operation("DeleteListener")
def delete_listener(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = listener(ctx, conn, params["ListenerArn"])
        lb_store.delete_listener(conn, row.arn)
        lb_store.bump_generation(conn)
    return {}
