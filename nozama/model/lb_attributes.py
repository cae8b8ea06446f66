"""Load balancer and target group attributes: ALB's keys, defaults and allowed values.

Attributes are stored as a {key: value} dict of strings in the resource's doc
and shown as AWS shows them: every known key, defaults included.
"""

from __future__ import annotations

import re
from typing import Callable

from nozama.kernel.errors import ValidationError

Check = Callable[[str], bool]


def _boolean(value: str) -> bool:
    return value in ("true", "false")


def _integer(low: int, high: int) -> Check:
    return lambda value: bool(re.fullmatch(r"\d{1,10}", value)) and low <= int(value) <= high


def _one_of(*choices: str) -> Check:
    return lambda value: value in choices


def _text(value: str) -> bool:
    return len(value) <= 1024


# key: (default, check, what a valid value is)
LOAD_BALANCER: dict[str, tuple[str, Check, str]] = {
    "access_logs.s3.enabled": ("false", _boolean, "true or false"),
    "access_logs.s3.bucket": ("", _text, "a bucket name"),
    "access_logs.s3.prefix": ("", _text, "a prefix"),
    "connection_logs.s3.enabled": ("false", _boolean, "true or false"),
    "connection_logs.s3.bucket": ("", _text, "a bucket name"),
    "connection_logs.s3.prefix": ("", _text, "a prefix"),
    "deletion_protection.enabled": ("false", _boolean, "true or false"),
    "idle_timeout.timeout_seconds": ("60", _integer(1, 4000), "an integer from 1 to 4000"),
    "client_keep_alive.seconds": ("3600", _integer(60, 604800),
                                  "an integer from 60 to 604800"),
    "load_balancing.cross_zone.enabled": ("true", _one_of("true"), "true"),
    "routing.http.desync_mitigation_mode": ("defensive",
                                            _one_of("monitor", "defensive", "strictest"),
                                            "monitor, defensive or strictest"),
    "routing.http.drop_invalid_header_fields.enabled": ("false", _boolean, "true or false"),
    "routing.http.preserve_host_header.enabled": ("false", _boolean, "true or false"),
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": ("false", _boolean,
                                                                 "true or false"),
    "routing.http.xff_client_port.enabled": ("false", _boolean, "true or false"),
    "routing.http.xff_header_processing.mode": ("append", _one_of("append", "preserve",
                                                                  "remove"),
                                                "append, preserve or remove"),
    "routing.http2.enabled": ("true", _boolean, "true or false"),
    "waf.fail_open.enabled": ("false", _boolean, "true or false"),
    "zonal_shift.config.enabled": ("false", _boolean, "true or false"),
}


def _slow_start(value: str) -> bool:
    return _integer(0, 900)(value) and (int(value) == 0 or int(value) >= 30)


TARGET_GROUP: dict[str, tuple[str, Check, str]] = {
    "deregistration_delay.timeout_seconds": ("300", _integer(0, 3600),
                                             "an integer from 0 to 3600"),
    "stickiness.enabled": ("false", _boolean, "true or false"),
    "stickiness.type": ("lb_cookie", _one_of("lb_cookie", "app_cookie"),
                        "lb_cookie or app_cookie"),
    "stickiness.lb_cookie.duration_seconds": ("86400", _integer(1, 604800),
                                              "an integer from 1 to 604800"),
    "stickiness.app_cookie.cookie_name": ("", _text, "a cookie name"),
    "stickiness.app_cookie.duration_seconds": ("86400", _integer(1, 604800),
                                               "an integer from 1 to 604800"),
    "load_balancing.algorithm.type": ("round_robin", _one_of(
        "round_robin", "least_outstanding_requests", "weighted_random"),
        "round_robin, least_outstanding_requests or weighted_random"),
    "load_balancing.algorithm.anomaly_mitigation": ("off", _one_of("on", "off"), "on or off"),
    "load_balancing.cross_zone.enabled": ("use_load_balancer_configuration", _one_of(
        "true", "false", "use_load_balancer_configuration"),
        "true, false or use_load_balancer_configuration"),
    "slow_start.duration_seconds": ("0", _slow_start, "0, or an integer from 30 to 900"),
    "target_group_health.dns_failover.minimum_healthy_targets.count": (
        "1", lambda v: v == "off" or _integer(1, 10000)(v), "off or a positive integer"),
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": (
        "off", lambda v: v == "off" or _integer(1, 100)(v), "off or 1 to 100"),
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": (
        "1", _integer(1, 10000), "a positive integer"),
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": (
        "off", lambda v: v == "off" or _integer(1, 100)(v), "off or 1 to 100"),
}


def check_target_group(attributes: dict[str, str]) -> None:
    """What a target group's attributes must agree on together."""
    if attributes["stickiness.enabled"] == "true" and \
            attributes["stickiness.type"] == "app_cookie":
        name = attributes["stickiness.app_cookie.cookie_name"]
        if not name:
            raise ValidationError("stickiness.app_cookie.cookie_name must be set for "
                                  "app_cookie stickiness")
        if name.upper().startswith("AWSALB"):
            raise ValidationError(f"Cookie name '{name}' is reserved: names starting with "
                                  "AWSALB are the load balancer's own")


def defaults(known: dict[str, tuple[str, Check, str]]) -> dict[str, str]:
    return {key: default for key, (default, _, _) in known.items()}


def merged(known: dict[str, tuple[str, Check, str]], current: dict[str, str],
           changes: list[dict], kind: str) -> dict[str, str]:
    """`current` with `changes` ([{Key, Value}]) applied; ValidationError for a bad one."""
    result = dict(current)
    for change in changes:
        key, value = change.get("Key", ""), change.get("Value", "")
        if key not in known:
            raise ValidationError(f"{kind} attribute key '{key}' is not recognized")
        _, check, allowed = known[key]
        if not check(value):
            raise ValidationError(f"{kind} attribute '{key}' value '{value}' is not valid: "
                                  f"it must be {allowed}")
        result[key] = value
    return result


def as_list(attributes: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in sorted(attributes.items())]
