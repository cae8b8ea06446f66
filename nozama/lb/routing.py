"""Which action a request gets: a listener's rules evaluated as ALB evaluates them.

Rules are tried in priority order and the first whose conditions all match
wins; the default rule matches everything. Within a condition, any of its
values may match. Path patterns and host headers take `*` (any characters)
and `?` (one character); hosts compare case-insensitively, paths do not.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class RequestFacts:
    """What conditions look at in one request."""
    method: str
    path: str
    query: str
    headers: dict[str, str]   # lower-case names
    source_ip: str

    @functools.cached_property
    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    @property
    def host(self) -> str:
        return self.headers.get("host", "").rsplit(":", 1)[0] if not self.headers.get(
            "host", "").startswith("[") else self.headers.get("host", "")


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.I | re.S if ignore_case else re.S)


def _matches(condition: dict, request: RequestFacts) -> bool:
    field = condition["Field"]
    if field == "path-pattern":
        return any(_wildcard(v, False).fullmatch(request.path)
                   for v in condition["PathPatternConfig"]["Values"])
    if field == "host-header":
        return any(_wildcard(v, True).fullmatch(request.host)
                   for v in condition["HostHeaderConfig"]["Values"])
    if field == "http-header":
        config = condition["HttpHeaderConfig"]
        value = request.headers.get(config["HttpHeaderName"].lower())
        return value is not None and any(_wildcard(v, True).fullmatch(value)
                                         for v in config["Values"])
    if field == "http-request-method":
        return request.method in condition["HttpRequestMethodConfig"]["Values"]
    if field == "query-string":
        return any(_query_matches(pair, request.query_pairs)
                   for pair in condition["QueryStringConfig"]["Values"])
    if field == "source-ip":
        return _source_matches(condition["SourceIpConfig"]["Values"], request.source_ip)
    return False


def _query_matches(pair: dict, pairs: list[tuple[str, str]]) -> bool:
    value = _wildcard(pair["Value"], True)
    key = pair.get("Key")
    return any((key is None or k.lower() == key.lower()) and value.fullmatch(v)
               for k, v in pairs)


def _source_matches(cidrs: list[str], source: str) -> bool:
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return False
    return any(address in _network(cidr) for cidr in cidrs)


@functools.lru_cache(maxsize=1024)
def _network(cidr: str):
    return ipaddress.ip_network(cidr, strict=False)


def matching_rule(rules: list[dict], request: RequestFacts) -> dict:
    """The first of `rules` (in priority order, default last) whose conditions all hold."""
    for rule in rules:
        if all(_matches(c, request) for c in rule["Conditions"]):
            return rule
    return rules[-1]


def redirect_location(config: dict, request: RequestFacts, listener_port: int) -> str:
    """The Location of a redirect action, its #{...} placeholders filled in."""
    values = {"protocol": "http", "host": request.host, "port": str(listener_port),
              "path": request.path.lstrip("/"), "query": request.query}

    def fill(text: str) -> str:
        return re.sub(r"#\{(protocol|host|port|path|query)\}", lambda m: values[m.group(1)],
                      text)
    protocol = fill(config["Protocol"]).lower()
    port = fill(config["Port"])
    default = {"http": "80", "https": "443"}.get(protocol)
    authority = fill(config["Host"]) + ("" if port == default else f":{port}")
    query = fill(config["Query"])
    return f"{protocol}://{authority}{fill(config['Path'])}" + (f"?{query}" if query else "")
