"""HAProxy's configuration for a snapshot of the ELBv2 tables (lb/config.py).

Each listener is a frontend, each target group a backend, each target a server.
A listener's rules become, in priority order, `http-request` rules that stop at
the first whose conditions all hold: a fixed response (`return`), a redirect,
or the choice of a backend kept in `txn.be`, which one `use_backend` then
follows. Whatever a user typed (patterns, header names, bodies) reaches HAProxy
only as regular expressions made of escapes, inside files, or single-quoted:
no value can end a word, start a comment or expand a variable.

What changes often is kept out of the text HAProxy must reload, so that it can
change at runtime (lb/haproxy_runtime.py):
  - a weighted forward's split is a map of COUNTER_PERIOD slots, each naming a
    backend, walked by a per-action counter (exact, smooth weighted round robin);
  - identity-sharded canaries read a map of hash ranges, and group stickiness a
    map of the groups still weighted;
  - targets are servers added and removed at runtime, and their health is their
    state (ready or maintenance). A group with stickiness names its servers in
    `use-server` rules, which HAProxy takes only from the configuration, so its
    registrations take a reload (HAProxy 2.6 refuses `cookie` on servers added
    at runtime).
`Rendered.structure` is the configuration without those parts: when it is
unchanged, a change needs no reload.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass, field

from nozama.lb import targets
from nozama.lb.config import Listener, Snapshot, TargetGroup
from nozama.model import ssl_policies

COUNTER_PERIOD = 1000      # slots of a weighted forward's map
IDENTITY_BUCKETS = 10_000   # the hash buckets identity-sharded canaries are split into
UNAVAILABLE = "unavailable"   # the backend of a forward with nowhere to go: 503
REQUEST_LOG = "requests"   # the ring the request log goes to
LOG_FORMAT = "R %ft %b %s %ST %Tr"
SERVER = "awselb/2.0"
_ERROR_PAGE = ("<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}"
               "</h1></center>\r\n</body>\r\n</html>\r\n")


@dataclass
class Server:
    name: str
    address: str
    port: int
    ready: bool          # healthy and not draining: takes new requests
    target_key: tuple    # lb/config.Target.key


@dataclass
class Backend:
    name: str
    group: TargetGroup
    servers: dict[str, Server]
    dynamic: bool        # servers come and go at runtime (no stickiness rules name them)


@dataclass
class Rendered:
    text: str
    structure: str
    files: dict[str, bytes]            # path -> content, maps included
    maps: dict[str, list[tuple[str, str]]]   # path -> (key, value) entries
    backends: dict[str, Backend]
    frontends: dict[str, Listener]
    servers: dict[tuple[str, str], Server] = field(default_factory=dict)  # (backend, name)


def quote(text: str) -> str:
    """One configuration word holding exactly `text`."""
    if any(c in text for c in "\r\n\0"):
        raise ValueError("a configuration word cannot hold a line break")
    return "'" + text.replace("'", "'\\''") + "'"


def log_format(text: str) -> str:
    """Literal text inside a log-format string."""
    return text.replace("%", "%%")


def _name(prefix: str, *parts) -> str:
    return prefix + targets.token(*parts)[:16]


def backend_name(group_arn: str) -> str:
    return _name("g", group_arn)


def server_name(target_key: tuple) -> str:
    """Also the value of the target's stickiness cookie (AWSALB, AWSALBAPP-0)."""
    return "t" + targets.token(*target_key)


def frontend_name(listener_arn: str) -> str:
    return _name("l", listener_arn)


def _escape(text: str) -> str:
    """A regular expression matching `text` literally, with no character of its own that a
    pattern file or the configuration could read as anything but itself."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "/_-") else
                   f"\\x{{{ord(c):x}}}" for c in text)


def _wildcard(pattern: str, any_char: str = ".", escapes: bool = False) -> str:
    """ALB's `*` (any characters) and `?` (one character), the rest literal; with
    `escapes` (query strings, as ALB documents), a backslash makes the `*`, `?` or
    backslash after it literal."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if escapes and c == "\\" and pattern[i + 1:i + 2] in ("*", "?", "\\"):
            out.append(_escape(pattern[i + 1]))
            i += 2
            continue
        out.append(f"{any_char}*" if c == "*" else any_char if c == "?" else _escape(c))
        i += 1
    return "".join(out)


class _Builder:
    def __init__(self, run_dir: str, port_offset: int):
        self.run_dir = run_dir
        self.port_offset = port_offset
        self.files: dict[str, bytes] = {}
        self.maps: dict[str, list[tuple[str, str]]] = {}

    def file(self, content: bytes, suffix: str) -> str:
        """A file whose name is its content's: a new content is a new name, and so a change
        of the structure."""
        path = os.path.join(self.run_dir, "files",
                            hashlib.sha256(content).hexdigest()[:20] + suffix)
        self.files[path] = content
        return path

    def patterns(self, lines: list[str], suffix: str = ".pat") -> str:
        return self.file(("\n".join(lines) + "\n").encode(), suffix)

    def map(self, name: str, entries: list[tuple[str, str]]) -> str:
        path = os.path.join(self.run_dir, "maps", name + ".map")
        self.maps[path] = entries
        self.files[path] = "".join(f"{k} {v}\n" for k, v in entries).encode()
        return path

    def page(self, status: int, reason: str) -> bytes:
        return _ERROR_PAGE.format(f"{status} {reason}").encode()

    def error_response(self, status: int, reason: str) -> str:
        """A whole HTTP response, as `errorfile` takes it."""
        page = self.page(status, reason)
        head = (f"HTTP/1.1 {status} {reason}\r\nServer: {SERVER}\r\nContent-Type: text/html\r\n"
                f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n")
        return self.file(head.encode() + page, ".http")


def render(snapshot: Snapshot, ready: dict[tuple, bool], run_dir: str, threads: int = 1,
           port_offset: int = 0) -> Rendered:
    """The configuration for `snapshot`; `ready[target key]` says which targets take
    requests (those missing do not)."""
    b = _Builder(run_dir, port_offset)
    idle = _idle_timeouts(snapshot)
    backends = {}
    for arn, group in snapshot.target_groups.items():
        backends[backend_name(arn)] = _backend(group, ready)
    unavailable = b.file(b.page(503, "Service Temporarily Unavailable"), ".html")
    head = _global(run_dir, threads, unavailable)
    frontend_texts, frontends = [], {}
    for listener in sorted(snapshot.listeners.values(), key=lambda item: item.arn):
        name = frontend_name(listener.arn)
        frontends[name] = listener
        frontend_texts.append(_frontend(b, name, listener, snapshot))
    bad_gateway = b.error_response(502, "Bad Gateway")
    whole, structure = [head], [head]
    whole += frontend_texts
    structure += frontend_texts
    for name, backend in sorted(backends.items()):
        text, skeleton = _backend_text(b, backend, idle.get(backend.group.arn, 60.0),
                                       bad_gateway, unavailable)
        whole.append(text)
        structure.append(skeleton)
    servers = {(bk.name, s.name): s for bk in backends.values() for s in bk.servers.values()}
    return Rendered("\n".join(whole), "\n".join(structure), b.files, b.maps, backends,
                    frontends, servers)


def _idle_timeouts(snapshot: Snapshot) -> dict[str, float]:
    """A target group's idle timeout is its load balancer's (a group serves one only)."""
    found = {}
    for listener in snapshot.listeners.values():
        for rule in listener.rules:
            for action in rule["Actions"]:
                if action["Type"] == "forward":
                    for group in action["ForwardConfig"]["TargetGroups"]:
                        found[group["TargetGroupArn"]] = listener.idle_timeout
    return found


# HAProxy refuses a UNIX socket path longer than 97 bytes (it binds a temporary name
# beside it first). A deep data directory (a test's, say) goes past that, so the admin
# sockets then live in a short private directory named after the run directory.
SOCKET_PATH_MAX = 97


def socket_dir(run_dir: str | os.PathLike) -> str:
    """Where the master and runtime sockets of the HAProxy of `run_dir` live."""
    run_dir = os.fspath(run_dir)
    if len(os.path.join(run_dir, "runtime.sock")) <= SOCKET_PATH_MAX:
        return run_dir
    digest = hashlib.sha1(run_dir.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"nozama-lb-{os.getuid()}", digest)


def _global(run_dir: str, threads: int, unavailable: str) -> str:
    runtime_socket = os.path.join(socket_dir(run_dir), "runtime.sock")
    return "\n".join([
        "global",
        f"    stats socket {quote(runtime_socket)} mode 600 level admin "
        "expose-fd listeners",
        "    stats timeout 1h",
        f"    nbthread {threads}",
        f"    log ring@{REQUEST_LOG} len 1024 format raw local0",
        # Old workers finish what they carry after a reload; a minute bounds a tunnel.
        "    hard-stop-after 60s",
        "",
        f"ring {REQUEST_LOG}",
        "    format raw",
        "    size 4194304",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        # A reload's old workers keep idle keep-alive connections until their next
        # request, which they answer with `Connection: close`: closed at once, one could
        # meet a request already on its way.
        "    option idle-close-on-response",
        f"    log-format {quote(LOG_FORMAT)}",
        # A target whose host is cut off (its zone lost) answers nothing: its connection
        # attempt gives up after 3 s and the request goes to another target (retries 1,
        # redispatch), so requests caught before the health checks take it out are late,
        # not failed. (ALB waits 10 s; a host that takes 3 s to accept is a dead one.)
        "    timeout connect 3s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 60s",
        "    timeout http-keep-alive 60s",
        "    timeout tunnel 60s",
        "    retries 1",
        "    option redispatch 1",
        "",
        "backend counters",
        "    stick-table type string len 24 size 100k store gpc0",
        "",
        f"backend {UNAVAILABLE}",
        f"    http-request return status 503 content-type text/html file {quote(unavailable)} "
        f"hdr Server {SERVER}",
        ""])


def _frontend(b: _Builder, name: str, listener: Listener, snapshot: Snapshot) -> str:
    idle = _seconds(listener.idle_timeout)
    https = listener.protocol == "HTTPS"
    lines = [f"frontend {name}",
             f"    bind {listener.address}:{bind_port(listener.port, b.port_offset)}"
             f"{_tls(b, listener, snapshot) if https else ''}",
             f"    timeout client {idle}", f"    timeout http-keep-alive {idle}",
             f"    timeout http-request {idle}"]
    for index, rule in enumerate(listener.rules):
        conditions = " ".join(_condition(b, c) for c in rule["Conditions"])
        when = f"!{{ var(txn.be) -m found }} {conditions}".rstrip()
        lines += _action(b, name, index, rule["Actions"][0], when, listener, snapshot)
    # Added after the rules, as ALB adds them when it forwards: conditions see the headers
    # the client sent (a CDN's X-Forwarded-For or X-Forwarded-Proto), not these.
    lines += ["    http-request set-header X-Forwarded-For '%[req.fhdr(x-forwarded-for)], "
              "%[src]' if { req.fhdr(x-forwarded-for) -m found }",
              "    http-request set-header X-Forwarded-For %[src] "
              "unless { req.fhdr(x-forwarded-for) -m found }",
              f"    http-request set-header X-Forwarded-Proto {'https' if https else 'http'}",
              f"    http-request set-header X-Forwarded-Port {listener.port}",
              "    http-request set-header X-Amzn-Trace-Id "
              "'Root=1-%[date,hex,bytes(8),lower]-%[rand,hex,bytes(8),lower]"
              "%[rand,hex,bytes(8),lower]%[rand,hex,bytes(8),lower]' "
              "unless { req.hdr(x-amzn-trace-id) -m found }"]
    lines += ["    use_backend %[var(txn.be)] if { var(txn.be) -m found }",
              "    http-response add-header Set-Cookie 'AWSALBTG=%[var(txn.be)]; "
              "Expires=%[date,add(txn.tgsticky),http_date]; Path=/' "
              "if { var(txn.tgsticky) -m found }", ""]
    return "\n".join(lines)


def _tls(b: _Builder, listener: Listener, snapshot: Snapshot) -> str:
    """An HTTPS listener's bind options: its certificates (the default first; HAProxy picks
    among the others by the client's SNI), and its security policy's TLS versions and
    ciphers."""
    bundles = []
    for arn in listener.certificates:
        certificate, chain, key = snapshot.certificates[arn]
        pem = "\n".join(part.strip() for part in (certificate, chain or "", key) if part)
        bundles.append(b.file(pem.encode() + b"\n", ".pem"))
    crt_list = b.patterns(bundles, ".crtlist")
    policy = ssl_policies.get(listener.ssl_policy or ssl_policies.DEFAULT_POLICY)
    oldest, newest = policy.tls_versions()
    options = [f"ssl crt-list {quote(crt_list)} alpn h2,http/1.1",
               f"ssl-min-ver {oldest} ssl-max-ver {newest}"]
    if policy.openssl_ciphers():
        options.append(f"ciphers {quote(policy.openssl_ciphers())}")
    if policy.openssl_ciphersuites():
        options.append(f"ciphersuites {quote(policy.openssl_ciphersuites())}")
    return " " + " ".join(options)


def bind_port(port: int, offset: int) -> int:
    # A process that may not bind ports below 1024 binds them at an offset (as the
    # NOZAMA_LB_PORT_OFFSET setting says); the API reports the listener's own port.
    return port + offset if offset and port < 1024 else port


def _seconds(value: float) -> str:
    return f"{max(1, math.ceil(value * 1000))}ms"


def _action(b: _Builder, frontend: str, index: int, action: dict, when: str,
            listener: Listener, snapshot: Snapshot) -> list[str]:
    kind = action["Type"]
    if kind == "fixed-response":
        config = action["FixedResponseConfig"]
        body = config.get("MessageBody", "")
        content = (f" content-type {quote(config.get('ContentType', 'text/plain'))} "
                   f"file {quote(b.file(body.encode(), '.body'))}") if body else ""
        return [f"    http-request return status {int(config['StatusCode'])}{content} "
                f"hdr Server {SERVER} if {when}"]
    if kind == "redirect":
        return _redirect(action["RedirectConfig"], when, listener)
    # Every forward walks its own map of slots, one group or several: which groups, and
    # their weights, change at runtime (a blue/green swap, a canary's steps) without a
    # reload. A forward to no group with weight, or to groups gone, answers 503.
    groups = [g for g in action["ForwardConfig"]["TargetGroups"]
              if g["TargetGroupArn"] in snapshot.target_groups]
    action_id = f"{frontend}-{index}"
    this = f"{{ var(txn.act) -m str {action_id} }}"
    open_ = f"{this} !{{ var(txn.be) -m found }}"
    lines = [f"    http-request set-var(txn.act) str({action_id}) if {when}"]
    stickiness = action["ForwardConfig"]["TargetGroupStickinessConfig"]
    if stickiness.get("Enabled"):
        sticky = b.map(f"{action_id}-sticky", [(backend_name(g["TargetGroupArn"]),
                                               backend_name(g["TargetGroupArn"]))
                                              for g in groups if g["Weight"] > 0])
        lines += [f"    http-request set-var(txn.be) req.cook(AWSALBTG),map({sticky}) "
                  f"if {open_} {{ req.cook(AWSALBTG) -m found }}",
                  f"    http-request set-var(txn.tgsticky) int({stickiness['DurationSeconds']})"
                  f" if {this}"]
    identity = action.get("_identity")
    if identity:
        ranges = b.map(f"{action_id}-identity", identity_ranges(groups))
        fetch = (f"req.hdr({_token_arg(identity['header'])})" if "header" in identity else
                 f"req.cook({_token_arg(identity['cookie'])})")
        lines.append(f"    http-request set-var(txn.be) {fetch},xxh32,mod({IDENTITY_BUCKETS}),"
                     f"map_int({ranges}) if {open_} {{ {fetch} -m found }}")
    slots = b.map(action_id, weighted_slots(groups))
    lines += [f"    http-request track-sc0 str({action_id}) table counters if {open_}",
              f"    http-request set-var(txn.be) sc_inc_gpc0(0),mod({COUNTER_PERIOD}),"
              f"map_int({slots},{UNAVAILABLE}) if {open_}"]
    return lines


def _token_arg(name: str) -> str:
    """A header or cookie name as a sample fetch's argument."""
    if not name or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        raise ValueError(f"unsupported identity name {name!r}")
    return name


def weighted_slots(groups: list[dict]) -> list[tuple[str, str]]:
    """COUNTER_PERIOD slots naming backends in smooth weighted round robin order: every
    run of slots splits as closely to the weights as whole requests allow."""
    weights = [(backend_name(g["TargetGroupArn"]), g["Weight"]) for g in groups]
    total = sum(w for _, w in weights)
    if total == 0:
        return []
    current = {name: 0 for name, _ in weights}
    slots = []
    for slot in range(COUNTER_PERIOD):
        best = None
        for name, weight in weights:
            current[name] += weight
            if best is None or current[name] > current[best]:
                best = name
        current[best] -= total
        slots.append((str(slot), best))
    return slots


def identity_ranges(groups: list[dict]) -> list[tuple[str, str]]:
    """The identity buckets each group owns: consecutive ranges in proportion to the
    weights, in the groups' order, so that a group that grows keeps the identities it
    had (its range only extends) and a user who reached the canary stays on it."""
    total = sum(g["Weight"] for g in groups)
    if total == 0:
        return []
    ranges, start, edge = [], 0, 0.0
    for group in groups:
        edge += group["Weight"] / total * IDENTITY_BUCKETS
        end = min(IDENTITY_BUCKETS, math.ceil(edge))
        if group is groups[-1]:
            end = IDENTITY_BUCKETS
        if end > start:
            ranges.append((f"{start}:{end - 1}", backend_name(group["TargetGroupArn"])))
        start = max(start, end)
    return ranges


def _redirect(config: dict, when: str, listener: Listener) -> list[str]:
    """ALB's placeholders: #{protocol} and #{port} are the listener's, known here; #{host},
    #{path} (without its leading slash) and #{query} are the request's."""
    known = {"#{protocol}": listener.protocol.lower(), "#{port}": str(listener.port)}

    def fill(text: str) -> str:
        out, rest = [], text
        while rest:
            cut = rest.find("#{")
            if cut < 0:
                out.append(log_format(rest))
                break
            out.append(log_format(rest[:cut]))
            end = rest.find("}", cut)
            holder = rest[cut:end + 1] if end > 0 else ""
            if holder in known:
                out.append(log_format(known[holder]))
            elif holder == "#{host}":
                out.append("%[req.hdr(host),field(1,:)]")
            elif holder == "#{path}":
                out.append("%[path,regsub(^/,)]")
            elif holder == "#{query}":
                out.append("%[query]")
            else:
                out.append(log_format(rest[cut:cut + 2]))
                rest = rest[cut + 2:]
                continue
            rest = rest[end + 1:]
        return "".join(out)

    def plain(text: str) -> str:
        for holder, value in known.items():
            text = text.replace(holder, value)
        return text
    protocol = plain(config["Protocol"]).lower()
    port = plain(config["Port"])
    default = {"http": "80", "https": "443"}.get(protocol)
    authority = fill(config["Host"]) + ("" if port == default else f":{log_format(port)}")
    code = 301 if config["StatusCode"] == "HTTP_301" else 302
    base = f"{log_format(protocol)}://{authority}{fill(config['Path'])}"
    query = config["Query"]
    if not query:
        return [f"    http-request redirect location {quote(base)} code {code} if {when}"]
    if query == "#{query}":
        # ALB leaves out the `?` of an empty query.
        return [f"    http-request redirect location {quote(base + '?%[query]')} code {code} "
                f"if {when} {{ query -m len gt 0 }}",
                f"    http-request redirect location {quote(base)} code {code} if {when}"]
    return [f"    http-request redirect location {quote(base + '?' + fill(query))} "
            f"code {code} if {when}"]


def _condition(b: _Builder, condition: dict) -> str:
    """One condition as an anonymous ACL: any of its values may match."""
    kind = condition["Field"]
    if kind == "path-pattern":
        values = condition["PathPatternConfig"]["Values"]
        return f"{{ path,url_dec -m reg -f {b.patterns([f'^{_wildcard(v)}$' for v in values])} }}"
    if kind == "host-header":
        values = condition["HostHeaderConfig"]["Values"]
        return (f"{{ req.hdr(host) -m reg -i -f "
                f"{b.patterns([f'^(?:{_wildcard(v)})(?::[0-9]+)?$' for v in values])} }}")
    if kind == "http-header":
        config = condition["HttpHeaderConfig"]
        name = config["HttpHeaderName"]
        values = config["Values"]
        if all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
            return (f"{{ req.fhdr({name}) -m reg -i -f "
                    f"{b.patterns([f'^{_wildcard(v)}$' for v in values])} }}")
        # A name with characters a fetch's argument cannot hold: match the raw header lines.
        in_line = r"[^\r\n]"
        lines = [rf"(?:^|\n){_escape(name)}:[ \t]*{_wildcard(v, in_line)}[ \t]*\r?(?:\n|$)"
                 for v in values]
        return f"{{ req.hdrs -m reg -i -f {b.patterns(lines)} }}"
    if kind == "http-request-method":
        return "{ method -m str " + " ".join(condition["HttpRequestMethodConfig"]["Values"]) + " }"
    if kind == "query-string":
        lines = []
        for pair in condition["QueryStringConfig"]["Values"]:
            key = _wildcard(pair["Key"], "[^&=]", True) if pair.get("Key") else "[^&=]*"
            lines.append(f"(?:^|&){key}=(?:{_wildcard(pair['Value'], '[^&]', True)})(?:&|$)")
        return f"{{ query -m reg -i -f {b.patterns(lines)} }}"
    if kind == "source-ip":
        return f"{{ src -f {b.patterns(condition['SourceIpConfig']['Values'], '.ips')} }}"
    raise ValueError(f"unknown condition field {kind!r}")


def _backend(group: TargetGroup, ready: dict[tuple, bool]) -> Backend:
    servers = {}
    for target in group.targets:
        name = server_name(target.key)
        servers[name] = Server(name, target.host, target.port,
                               ready.get(target.key, False) and not target.draining, target.key)
    sticky = targets.sticky_targets(group) is not None
    return Backend(backend_name(group.arn), group, servers, dynamic=not sticky)


def server_options(group: TargetGroup) -> str:
    """What every server of the group has, at runtime as in the configuration. Like ALB,
    the load balancer does not verify an HTTPS target's certificate."""
    slow = int(group.attributes.get("slow_start.duration_seconds", "0"))
    options = f" slowstart {slow}s" if slow else ""
    if group.doc.get("Protocol") == "HTTPS":
        options += " ssl verify none"
    return options


def _backend_text(b: _Builder, backend: Backend, idle: float, bad_gateway: str,
                  unavailable: str) -> tuple[str, str]:
    group = backend.group
    attributes = group.attributes
    algorithm = "leastconn" if attributes.get(
        "load_balancing.algorithm.type") == "least_outstanding_requests" else "roundrobin"
    lines = [f"backend {backend.name}", f"    balance {algorithm}",
             f"    timeout server {_seconds(idle)}", f"    timeout tunnel {_seconds(idle)}",
             # HAProxy answers a refused or failed connection with 503; ALB with 502.
             f"    errorfile 503 {quote(bad_gateway)}",
             # No ready target: 503, as ALB. (A reload's old worker counts no server of
             # a stopping proxy, yet still forwards: it skips this.)
             f"    http-request return status 503 content-type text/html file "
             f"{quote(unavailable)} hdr Server {SERVER} if {{ nbsrv lt 1 }} !{{ stopping }}"]
    cookie = targets.sticky_targets(group)
    if cookie is not None:
        if cookie == "AWSALB":
            duration = int(attributes["stickiness.lb_cookie.duration_seconds"])
            expires = f"Expires=%[date({duration}),http_date]; Path=/"
            # AWSALBCORS is the same cookie for cross-origin requests, as ALB sets it.
            lines += [f"    http-response add-header Set-Cookie 'AWSALB=%[srv_name]; {expires}' "
                      "if { srv_name -m found }",
                      f"    http-response add-header Set-Cookie 'AWSALBCORS=%[srv_name]; "
                      f"{expires}; SameSite=None; Secure' if {{ srv_name -m found }}"]
            carriers = ("AWSALB", "AWSALBCORS")
        else:
            duration = int(attributes["stickiness.app_cookie.duration_seconds"])
            # The application's cookie, found in its Set-Cookie lines (any cookie name
            # ALB takes, with no characters of its own in the configuration).
            app = _escape(attributes["stickiness.app_cookie.cookie_name"])
            sets = b.patterns([f"(?:^|\\n)set-cookie:[ \\t]*{app}="])
            lines.append(f"    http-response add-header Set-Cookie 'AWSALBAPP-0=%[srv_name]; "
                         f"Expires=%[date({duration}),http_date]; Path=/' "
                         f"if {{ res.hdrs -m reg -i -f {sets} }}")
            carriers = ("AWSALBAPP-0",)
        for name in sorted(backend.servers):
            chosen = " || ".join(f"{{ req.cook({c}) -m str {name} }}" for c in carriers)
            lines.append(f"    use-server {name} if {chosen}")
    skeleton = list(lines)
    options = server_options(group)
    for name, server in sorted(backend.servers.items()):
        line = f"    server {name} {server.address}:{server.port}{options}"
        lines.append(line + ("" if server.ready else " disabled"))
        if not backend.dynamic:
            skeleton.append(line)
    return "\n".join(lines) + "\n", "\n".join(skeleton) + "\n"
