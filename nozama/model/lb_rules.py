"""Listener rules of an application load balancer: their actions and conditions.

`actions` and `conditions` check what a request asks for against ALB's rules
and return them in the form DescribeListeners/DescribeRules show (ALB fills
in ForwardConfig for a plain TargetGroupArn, and Values next to the
PathPatternConfig/HostHeaderConfig they mirror). The data plane evaluates
the stored form.
"""

from __future__ import annotations

import ipaddress
import re

from nozama.kernel.errors import ValidationError

MAX_TARGET_GROUPS_PER_ACTION = 5
MAX_CONDITION_VALUES = 5
MAX_WEIGHT = 999
TERMINAL_ACTIONS = ("forward", "redirect", "fixed-response")
CONDITION_FIELDS = ("http-header", "http-request-method", "host-header", "path-pattern",
                    "query-string", "source-ip")
# Fields a rule may have at most once (http-header and query-string may repeat).
SINGLE_FIELDS = ("http-request-method", "host-header", "path-pattern", "source-ip")
FIXED_RESPONSE_TYPES = ("text/plain", "text/css", "text/html", "application/javascript",
                        "application/json")

_PATH = re.compile(r"[A-Za-z0-9_\-.$/~\"'@:+&*?;%=,!()\[\]{}|^<>` ]{1,128}")
_HOST = re.compile(r"[A-Za-z0-9\-.*?]{1,128}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,40}")
_METHOD = re.compile(r"[A-Z_\-]{1,40}")
_STATUS = re.compile(r"[245]\d\d")


# ---------------------------------------------------------------- actions

def actions(requested: list[dict]) -> list[dict]:
    """Validated actions in their stored form. Target groups are checked by the caller
    (`target_group_arns` lists those the actions use)."""
    if not requested:
        raise ValidationError("At least one action must be specified")
    terminal = [a for a in requested if a.get("Type") in TERMINAL_ACTIONS]
    unsupported = [a["Type"] for a in requested if a.get("Type") not in TERMINAL_ACTIONS]
    if unsupported:
        raise ValidationError(f"Action type '{unsupported[0]}' is not supported by Nozama's "
                              "load balancer")
    if len(terminal) != 1:
        raise ValidationError("A listener or rule must have exactly one forward, redirect or "
                              "fixed-response action")
    action = requested[0]
    stored = {"Type": action["Type"]}
    if "Order" in action:
        stored["Order"] = action["Order"]
    if action["Type"] == "forward":
        stored.update(_forward(action))
    elif action["Type"] == "redirect":
        stored["RedirectConfig"] = _redirect(action.get("RedirectConfig"))
    else:
        stored["FixedResponseConfig"] = _fixed_response(action.get("FixedResponseConfig"))
    return [stored]


def target_group_arns(stored_actions: list[dict]) -> list[str]:
    return [tg["TargetGroupArn"] for a in stored_actions if a["Type"] == "forward"
            for tg in a["ForwardConfig"]["TargetGroups"]]


def _forward(action: dict) -> dict:
    single = action.get("TargetGroupArn")
    config = action.get("ForwardConfig")
    if config is None:
        if not single:
            raise ValidationError("A forward action must specify a TargetGroupArn or a "
                                  "ForwardConfig")
        groups = [{"TargetGroupArn": single, "Weight": 1}]
        stickiness = {"Enabled": False}
    else:
        groups = [{"TargetGroupArn": g.get("TargetGroupArn", ""), "Weight": g.get("Weight", 1)}
                  for g in config.get("TargetGroups") or []]
        if not groups:
            raise ValidationError("A forward action's ForwardConfig must list at least one "
                                  "target group")
        if len(groups) > MAX_TARGET_GROUPS_PER_ACTION:
            raise ValidationError(f"A forward action can have at most "
                                  f"{MAX_TARGET_GROUPS_PER_ACTION} target groups")
        arns = [g["TargetGroupArn"] for g in groups]
        if not all(arns):
            raise ValidationError("Each target group of a ForwardConfig needs a TargetGroupArn")
        if len(set(arns)) != len(arns):
            raise ValidationError("A target group can appear only once in a forward action")
        for group in groups:
            if not 0 <= group["Weight"] <= MAX_WEIGHT:
                raise ValidationError(f"Target group weight '{group['Weight']}' must be between "
                                      f"0 and {MAX_WEIGHT}")
        if single and (len(groups) != 1 or groups[0]["TargetGroupArn"] != single):
            raise ValidationError("TargetGroupArn and ForwardConfig can both be given only "
                                  "when they name the same single target group")
        stickiness = _stickiness(config.get("TargetGroupStickinessConfig") or {})
    stored = {"ForwardConfig": {"TargetGroups": groups,
                                "TargetGroupStickinessConfig": stickiness}}
    if len(groups) == 1:
        stored["TargetGroupArn"] = groups[0]["TargetGroupArn"]
    return stored


def _stickiness(config: dict) -> dict:
    if not config.get("Enabled"):
        return {"Enabled": False}
    duration = config.get("DurationSeconds")
    if duration is None or not 1 <= duration <= 604800:
        raise ValidationError("Target group stickiness duration must be between 1 and 604800 "
                              "seconds")
    return {"Enabled": True, "DurationSeconds": duration}


def _redirect(config: dict | None) -> dict:
    if not config or not config.get("StatusCode"):
        raise ValidationError("A redirect action must have a RedirectConfig with a StatusCode")
    stored = {"Protocol": config.get("Protocol", "#{protocol}"),
              "Port": config.get("Port", "#{port}"), "Host": config.get("Host", "#{host}"),
              "Path": config.get("Path", "/#{path}"), "Query": config.get("Query", "#{query}"),
              "StatusCode": config["StatusCode"]}
    if stored["Protocol"] not in ("HTTP", "HTTPS", "#{protocol}"):
        raise ValidationError("Redirect protocol must be HTTP, HTTPS or #{protocol}")
    port = stored["Port"]
    if port != "#{port}" and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValidationError(f"Redirect port '{port}' must be #{{port}} or from 1 to 65535")
    if not stored["Path"].startswith("/") or len(stored["Path"]) > 128:
        raise ValidationError("Redirect path must start with '/' and be at most 128 "
                              "characters")
    if not stored["Host"] or len(stored["Host"]) > 128 or len(stored["Query"]) > 128:
        raise ValidationError("Redirect host and query must be at most 128 characters")
    if any(ord(c) < 32 or ord(c) == 127 for key in ("Host", "Path", "Query")
           for c in stored[key]):
        raise ValidationError("Redirect host, path and query must not contain control "
                              "characters")
    return stored


def _fixed_response(config: dict | None) -> dict:
    if not config or not config.get("StatusCode"):
        raise ValidationError("A fixed-response action must have a FixedResponseConfig with a "
                              "StatusCode")
    if not _STATUS.fullmatch(config["StatusCode"]):
        raise ValidationError(f"Fixed response status code '{config['StatusCode']}' must be "
                              "a 2XX, 4XX or 5XX code")
    stored = {"StatusCode": config["StatusCode"]}
    if config.get("ContentType") is not None:
        if config["ContentType"] not in FIXED_RESPONSE_TYPES:
            raise ValidationError(f"Fixed response content type must be one of "
                                  f"{', '.join(FIXED_RESPONSE_TYPES)}")
        stored["ContentType"] = config["ContentType"]
    if config.get("MessageBody") is not None:
        if len(config["MessageBody"]) > 1024:
            raise ValidationError("Fixed response message body must be at most 1024 "
                                  "characters")
        stored["MessageBody"] = config["MessageBody"]
    return stored


# ---------------------------------------------------------------- conditions

def conditions(requested: list[dict]) -> list[dict]:
    """Validated conditions in their stored form."""
    stored, seen, total = [], set(), 0
    for condition in requested:
        field = condition.get("Field")
        if field not in CONDITION_FIELDS:
            raise ValidationError(f"Condition field '{field}' must be one of "
                                  f"[{', '.join(CONDITION_FIELDS)}]")
        if condition.get("RegexValues"):
            raise ValidationError("Regular expression conditions are not supported by Nozama's "
                                  "load balancer")
        if field in SINGLE_FIELDS and field in seen:
            raise ValidationError(f"A rule can have only one '{field}' condition")
        seen.add(field)
        normalized, count = _CONDITIONS[field](condition)
        total += count
        stored.append({"Field": field, **normalized})
    if total > MAX_CONDITION_VALUES:
        raise ValidationError(f"A rule can only have '{MAX_CONDITION_VALUES}' condition values")
    return stored


def _values(condition: dict, config_key: str) -> list[str]:
    legacy = condition.get("Values")
    configured = (condition.get(config_key) or {}).get("Values")
    if legacy and configured and legacy != configured:
        raise ValidationError(f"Values and {config_key} must not both be given for a "
                              f"'{condition['Field']}' condition")
    values = configured or legacy or []
    if not values:
        raise ValidationError(f"A '{condition['Field']}' condition needs at least one value")
    return values


def _patterned(config_key: str, pattern: re.Pattern, what: str):
    def check(condition: dict) -> tuple[dict, int]:
        values = _values(condition, config_key)
        for value in values:
            if not pattern.fullmatch(value):
                raise ValidationError(f"Condition value '{value}' is not a valid {what}")
        return {"Values": values, config_key: {"Values": values}}, len(values)
    return check


def _http_header(condition: dict) -> tuple[dict, int]:
    config = condition.get("HttpHeaderConfig") or {}
    name, values = config.get("HttpHeaderName", ""), config.get("Values") or []
    if not _HEADER_NAME.fullmatch(name):
        raise ValidationError(f"HTTP header name '{name}' is not valid")
    if not values or any(len(v) > 128 for v in values):
        raise ValidationError("An http-header condition needs 1 or more values of at most "
                              "128 characters")
    return {"HttpHeaderConfig": {"HttpHeaderName": name, "Values": values}}, len(values)


def _http_request_method(condition: dict) -> tuple[dict, int]:
    values = (condition.get("HttpRequestMethodConfig") or {}).get("Values") or []
    if not values:
        raise ValidationError("An http-request-method condition needs at least one value")
    for value in values:
        if not _METHOD.fullmatch(value):
            raise ValidationError(f"HTTP request method '{value}' is not valid")
    return {"HttpRequestMethodConfig": {"Values": values}}, len(values)


def _query_string(condition: dict) -> tuple[dict, int]:
    pairs = (condition.get("QueryStringConfig") or {}).get("Values") or []
    if not pairs:
        raise ValidationError("A query-string condition needs at least one key/value pair")
    stored = []
    for pair in pairs:
        value = pair.get("Value")
        if not value or len(value) > 128 or len(pair.get("Key") or "") > 128:
            raise ValidationError("A query-string condition's values need a Value, and keys and "
                                  "values are at most 128 characters")
        stored.append({k: pair[k] for k in ("Key", "Value") if pair.get(k) is not None})
    return {"QueryStringConfig": {"Values": stored}}, len(stored)


def _source_ip(condition: dict) -> tuple[dict, int]:
    values = (condition.get("SourceIpConfig") or {}).get("Values") or []
    if not values:
        raise ValidationError("A source-ip condition needs at least one CIDR block")
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError(f"Source IP '{value}' is not a valid CIDR block") from None
        if "/" not in value:
            raise ValidationError(f"Source IP '{value}' must be a CIDR block, e.g. "
                                  "192.0.2.0/24")
    return {"SourceIpConfig": {"Values": values}}, len(values)


_CONDITIONS = {
    "host-header": _patterned("HostHeaderConfig", _HOST, "host name"),
    "path-pattern": _patterned("PathPatternConfig", _PATH, "path pattern"),
    "http-header": _http_header,
    "http-request-method": _http_request_method,
    "query-string": _query_string,
    "source-ip": _source_ip,
}
