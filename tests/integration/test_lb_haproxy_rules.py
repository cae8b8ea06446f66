"""Listener rules as ALB evaluates them, carried out by a real HAProxy on the configuration
lb/haproxy_config.py renders: every condition type, priority order, fixed responses and
redirects byte for byte, weighted forwards, errors, stickiness and identity sharding.

Snapshots are built in-process (no Nozama server): rules in the stored form of
model/lb_rules.py, targets that are Python HTTP servers saying who they are.
"""

from __future__ import annotations

import email.utils
import http.client
import http.server
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from support import lb_snapshots as lb
from support.servers import free_port

from nozama.lb import haproxy_config

HOST = "shop.example.com"


# ---------------------------------------------------------------- targets and requests

class Backend:
    """A target answering every request with its name (and, on /login, an app cookie)."""

    def __init__(self, name: str):
        self.name = name
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                for seen in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port"):
                    self.send_header("X-Seen-" + seen[12:], self.headers.get(seen, "-"))
                if self.path.startswith("/login"):
                    self.send_header("Set-Cookie", f"SESSION=s-{backend.name}; Path=/")
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass   # HAProxy's idle connections, reset when it is killed

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def backends():
    pair = Backend("blue"), Backend("green")
    yield pair
    for backend in pair:
        backend.close()


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = self.all(name)
        return found[-1] if found else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def cookie(self, name: str) -> str | None:
        """The Set-Cookie line of cookie `name`."""
        for line in self.all("set-cookie"):
            if line.startswith(name + "="):
                return line
        return None

    @property
    def text(self) -> str:
        return self.body.decode()


def get(port: int, path: str = "/", method: str = "GET", host: str | None = HOST,
        headers: list[tuple[str, str]] | dict = ()) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in (headers.items() if isinstance(headers, dict) else headers):
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        return Response(response.status, response.getheaders(), body)
    finally:
        conn.close()


@pytest.fixture
def serve(tmp_path):
    """serve(groups, rules of listener 1, rules of listener 2, ..., ready=...) -> ports:
    HAProxy on the rendered snapshot, stopped after the test."""
    started = []

    def start(groups, *listeners_rules, ready=None):
        ports = [free_port() for _ in listeners_rules]
        snap = lb.snapshot([lb.listener(port, rules)
                            for port, rules in zip(ports, listeners_rules)], groups)
        config, _ = lb.write(snap, lb.all_ready(groups) if ready is None else ready,
                             tmp_path / "run")
        checked = lb.check(config)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        started.append(lb.HAProxy(config, ports))
        return ports if len(ports) > 1 else ports[0]

    yield start
    for proxy in started:
        proxy.stop()


def says(text: str) -> dict:
    return lb.fixed("200", text, "text/plain")


NOT_FOUND = lb.default(lb.fixed("404", "default", "text/plain"))


def answers(port: int, path: str = "/", **kwargs) -> str:
    response = get(port, path, **kwargs)
    return response.text if response.status != 404 else "default"


# ---------------------------------------------------------------- conditions

def test_path_patterns_with_wildcards_case_sensitive_after_percent_decoding(serve):
    port = serve([], [
        lb.rule([{"Field": "path-pattern", "Values": ["/img/?.png"]}], says("img")),
        lb.rule([{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
                says("api")),
        lb.rule([{"Field": "path-pattern", "Values": ["/a b/*", "/it's/$x"]}], says("odd")),
        NOT_FOUND])
    assert answers(port, "/img/a.png") == "img"
    assert answers(port, "/img/ab.png") == "default"
    assert answers(port, "/img/.png") == "default"
    assert answers(port, "/api/v1/users") == "api"
    assert answers(port, "/api/v1?x=/img/a.png") == "api"   # the query is not the path
    assert answers(port, "/API/v1") == "default"
    assert answers(port, "/api") == "default"
    assert answers(port, "/%61pi/v1") == "api"               # decoded before matching
    assert answers(port, "/a%20b/c") == "odd"
    assert answers(port, "/it%27s/$x") == "odd"
    assert answers(port, "/it's/$y") == "default"


def test_host_header_ignores_case_and_port(serve):
    port = serve([], [
        lb.rule([{"Field": "host-header", "Values": ["*.EXAMPLE.com"]}], says("wild")),
        lb.rule([{"Field": "host-header", "HostHeaderConfig": {"Values": ["api?.example.org"]}}],
                says("api")),
        NOT_FOUND])
    assert answers(port, host="shop.example.com") == "wild"
    assert answers(port, host="SHOP.Example.COM:8080") == "wild"
    assert answers(port, host="example.com") == "default"
    assert answers(port, host="shop.example.com.evil") == "default"
    assert answers(port, host="api1.example.org") == "api"
    assert answers(port, host="API2.example.org:443") == "api"
    assert answers(port, host="api12.example.org") == "default"
    assert answers(port, host="api1.example.org:x") == "default"


def test_http_header_values_with_wildcards_ignore_case(serve):
    port = serve([], [
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Canary", "Values": ["on*", "y?s"]}}], says("canary")),
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "User-Agent", "Values": ["*Mobile*"]}}], says("mobile")),
        NOT_FOUND])
    assert answers(port, headers={"X-Canary": "ON-please"}) == "canary"
    assert answers(port, headers={"x-canary": "on"}) == "canary"
    assert answers(port, headers={"X-Canary": "yes"}) == "canary"
    assert answers(port, headers={"X-Canary": "yees"}) == "default"
    assert answers(port, headers={"X-Canary": "no, on"}) == "default"
    assert answers(port, headers={"X-Canaries": "on"}) == "default"
    assert answers(port) == "default"
    assert answers(port, headers={"User-Agent": "Foo (iPhone; mobile) Bar"}) == "mobile"
    # A header sent more than once: any of its lines may match.
    assert answers(port, headers=[("X-Canary", "off"), ("X-Canary", "on")]) == "canary"


def test_http_header_names_with_unusual_characters(serve):
    name = "X-It's#1"
    port = serve([], [
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": name, "Values": ["a*b", "*'$#{x}%\" \\"]}}], says("odd")),
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "!#$%&'*+-.^_`|~", "Values": ["?"]}}], says("symbols")),
        NOT_FOUND])
    assert answers(port, headers={name: "A-x-B"}) == "odd"
    assert answers(port, headers={name.lower(): "ab"}) == "odd"
    assert answers(port, headers={name: "it'$#{x}%\" \\"}) == "odd"
    assert answers(port, headers={name: "a-x-b-c"}) == "default"
    assert answers(port, headers={"X-Its#1": "ab"}) == "default"
    assert answers(port, headers={name + "x": "ab"}) == "default"
    assert answers(port, headers={"X-Other": f"{name}: ab"}) == "default"
    assert answers(port, headers=[("X-Other", "1"), (name, "ab"), ("X-Last", "2")]) == "odd"
    assert answers(port, headers={"!#$%&'*+-.^_`|~": "z"}) == "symbols"
    assert answers(port, headers={"!#$%&'*+-.^_`|~": "zz"}) == "default"


def test_http_request_method(serve):
    port = serve([], [
        lb.rule([{"Field": "http-request-method",
                  "HttpRequestMethodConfig": {"Values": ["POST", "PUT"]}}], says("write")),
        NOT_FOUND])
    assert answers(port, method="PUT") == "write"
    assert answers(port, method="POST") == "write"
    assert answers(port, method="GET") == "default"
    assert answers(port, method="DELETE") == "default"


def test_query_string_with_and_without_key(serve):
    port = serve([], [
        lb.rule([{"Field": "query-string", "QueryStringConfig": {
            "Values": [{"Key": "v", "Value": "2"}]}}], says("v2")),
        lb.rule([{"Field": "query-string", "QueryStringConfig": {
            "Values": [{"Value": "be?a*"}]}}], says("beta")),
        lb.rule([{"Field": "query-string", "QueryStringConfig": {
            "Values": [{"Key": "ver*", "Value": "1"}, {"Key": "x", "Value": "*"}]}}],
            says("other")),
        NOT_FOUND])
    assert answers(port, "/?a=1&v=2") == "v2"
    assert answers(port, "/?v=2&a=1") == "v2"
    assert answers(port, "/?V=2") == "v2"                 # case-insensitive
    assert answers(port, "/?v=3") == "default"
    assert answers(port, "/?xv=2") == "default"
    assert answers(port, "/?v=22") == "default"
    assert answers(port, "/?track=BETA1") == "beta"
    assert answers(port, "/?a=1&track=beta") == "beta"
    assert answers(port, "/?track=bta") == "default"
    assert answers(port, "/?version=1") == "other"
    assert answers(port, "/?x=") == "other"
    assert answers(port, "/v=2") == "default"              # no query at all
    assert answers(port, "/") == "default"


def test_query_string_values_escape_wildcards_with_a_backslash(serve):
    # ALB: "To search for a literal '*' or '?' character in a query string, you must
    # escape these characters in Values using a '\' character."
    port = serve([], [
        lb.rule([{"Field": "query-string", "QueryStringConfig": {
            "Values": [{"Key": "q", "Value": "a\\*b"}, {"Key": "w\\?", "Value": "1"}]}}],
            says("literal")),
        NOT_FOUND])
    assert answers(port, "/?q=a*b") == "literal"
    assert answers(port, "/?w?=1") == "literal"
    assert answers(port, "/?q=axxb") == "default"
    assert answers(port, "/?q=a%5Cxb") == "default"
    assert answers(port, "/?wx=1") == "default"


def test_source_ip(serve):
    port = serve([], [
        lb.rule([{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
                says("ten")),
        lb.rule([{"Field": "source-ip", "SourceIpConfig": {
            "Values": ["192.168.0.0/16", "127.0.0.0/8", "::1/128"]}}], says("local")),
        NOT_FOUND])
    assert answers(port) == "local"
    # X-Forwarded-For does not make a request come from elsewhere.
    assert answers(port, headers={"X-Forwarded-For": "10.1.2.3"}) == "local"


def test_all_conditions_of_a_rule_must_hold_and_the_first_rule_wins(serve):
    port = serve([], [
        lb.rule([{"Field": "path-pattern", "Values": ["/a"]},
                 {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
                 {"Field": "http-header", "HttpHeaderConfig": {
                     "HttpHeaderName": "X-Mode", "Values": ["x"]}},
                 {"Field": "http-header", "HttpHeaderConfig": {
                     "HttpHeaderName": "X-Other", "Values": ["y"]}}], says("all")),
        lb.rule([{"Field": "path-pattern", "Values": ["/a"]}], says("path")),
        lb.rule([{"Field": "path-pattern", "Values": ["/*"]},
                 {"Field": "host-header", "Values": ["other.example.com"]}], says("host")),
        lb.rule([{"Field": "path-pattern", "Values": ["/a", "/b"]}], says("later")),
        NOT_FOUND])
    both = {"X-Mode": "x", "X-Other": "y"}
    assert answers(port, "/a", method="POST", headers=both) == "all"
    assert answers(port, "/a", method="POST", headers={"X-Mode": "x"}) == "path"
    assert answers(port, "/a", method="GET", headers=both) == "path"
    assert answers(port, "/a", host="other.example.com") == "path"
    assert answers(port, "/b", host="other.example.com") == "host"
    assert answers(port, "/b") == "later"
    assert answers(port, "/c") == "default"


def test_conditions_see_the_request_as_the_client_sent_it(serve, backends):
    # ALB adds X-Forwarded-For/-Proto/-Port when it forwards: a rule on them sees the
    # client's own headers (a CDN's in front of it), not what the load balancer adds.
    blue, _ = backends
    port = serve([lb.target_group("tg/blue", [blue.port])], [
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Forwarded-For", "Values": ["203.0.113.5"]}}], says("cdn")),
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Forwarded-Proto", "Values": ["https"]}}], says("https")),
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Forwarded-For", "Values": ["*"]}}], says("any-xff")),
        lb.default(lb.forward("tg/blue"))])
    assert answers(port, headers={"X-Forwarded-For": "203.0.113.5"}) == "cdn"
    assert answers(port, headers={"X-Forwarded-Proto": "https"}) == "https"
    plain = get(port)   # no X-Forwarded-For of its own: no rule on it holds
    assert plain.text == "blue"
    # What the target receives.
    assert plain.header("x-seen-for") == "127.0.0.1"
    assert (plain.header("x-seen-proto"), plain.header("x-seen-port")) == ("http", str(port))


# ---------------------------------------------------------------- fixed responses

HOSTILE = "it's \"quoted\" # $HOME ${HOME} %[src] %% 100% \\ \\n  two  spaces\nline two\t☕"


def test_fixed_responses_come_back_byte_for_byte(serve):
    port = serve([], [
        lb.rule([{"Field": "path-pattern", "Values": ["/hostile"]}],
                lb.fixed("418", HOSTILE, "application/json")),
        lb.rule([{"Field": "path-pattern", "Values": ["/empty"]}], lb.fixed("503")),
        lb.rule([{"Field": "path-pattern", "Values": ["/typed-empty"]}],
                lb.fixed("200", "", "text/css")),
        lb.default(lb.fixed("404", "<h1>nothing</h1>", "text/html"))])
    response = get(port, "/hostile")
    assert response.status == 418
    assert response.header("content-type") == "application/json"
    assert response.body == HOSTILE.encode()
    assert response.header("content-length") == str(len(HOSTILE.encode()))
    assert response.header("server") == "awselb/2.0"
    empty = get(port, "/empty")
    assert (empty.status, empty.body) == (503, b"")
    assert get(port, "/typed-empty").body == b""
    missing = get(port, "/else")
    assert (missing.status, missing.header("content-type"), missing.body) == (
        404, "text/html", b"<h1>nothing</h1>")


# ---------------------------------------------------------------- redirects

def redirect(**config) -> dict:
    return {"Type": "redirect", "RedirectConfig": config}


def test_redirects(serve):
    literal_path = "/50%off/it's \"q\"/${HOME}/%[src]/#x"
    literal_query = "a=%41&b='\"'&c=%[src]"
    port = serve([], [
        lb.rule([{"Field": "path-pattern", "Values": ["/old/*"]}], redirect(
            Path="/new/#{path}", Query="#{query}&from=old", StatusCode="HTTP_301")),
        lb.rule([{"Field": "path-pattern", "Values": ["/secure/*"]}], redirect(
            Protocol="HTTPS", Port="443", StatusCode="HTTP_302")),
        lb.rule([{"Field": "path-pattern", "Values": ["/literal"]}], redirect(
            Protocol="HTTP", Port="80", Host="example.com", Path=literal_path,
            Query=literal_query, StatusCode="HTTP_301")),
        lb.rule([{"Field": "path-pattern", "Values": ["/port"]}], redirect(
            Protocol="HTTPS", Port="8443", Host="#{host}.internal", Path="/#{path}/#{port}",
            Query="", StatusCode="HTTP_302")),
        lb.rule([{"Field": "path-pattern", "Values": ["/same"]}], redirect(
            Protocol="#{protocol}", Port="#{port}", Host="#{host}", Path="/#{path}",
            Query="#{query}", StatusCode="HTTP_301")),
        NOT_FOUND])

    def location(path, code, host=f"{HOST}:{port}"):
        response = get(port, path, host=host)
        assert response.status == code, (path, response.status)
        return response.header("location")

    assert location("/old/x?q=1", 301) == f"http://{HOST}:{port}/new/old/x?q=1&from=old"
    assert location("/old/a%20b?c", 301) == f"http://{HOST}:{port}/new/old/a%20b?c&from=old"
    assert location("/secure/p", 302) == f"https://{HOST}/secure/p"   # no port 443, no ?
    assert location("/secure/p?", 302) == f"https://{HOST}/secure/p"
    assert location("/secure/p?a=b&c", 302) == f"https://{HOST}/secure/p?a=b&c"
    assert location("/secure/p", 302, host=HOST) == f"https://{HOST}/secure/p"
    assert location("/literal?x=1", 301) == f"http://example.com{literal_path}?{literal_query}"
    assert location("/port?x=1", 302) == f"https://{HOST}.internal:8443/port/{port}"
    assert location("/same?k=v", 301) == f"http://{HOST}:{port}/same?k=v"
    assert location("/same", 301) == f"http://{HOST}:{port}/same"


# ---------------------------------------------------------------- forwards

def test_a_weighted_forward_is_exact(serve, backends):
    blue, green = backends
    groups = [lb.target_group("tg/blue", [blue.port]), lb.target_group("tg/green", [green.port])]
    port = serve(groups, [lb.default(lb.forward(("tg/blue", 90), ("tg/green", 10)))])
    names = [get(port).text for _ in range(200)]
    assert Counter(names) == {"blue": 180, "green": 20}
    for start in range(0, 200, 10):
        assert Counter(names[start:start + 10]) == {"blue": 9, "green": 1}


def test_forwards_with_nowhere_to_go(serve, backends):
    blue, green = backends
    groups = [lb.target_group("tg/blue", [blue.port]), lb.target_group("tg/green", [green.port]),
              lb.target_group("tg/unready", [blue.port, green.port]),
              lb.target_group("tg/refusing", [free_port()])]
    ready = {k: v for k, v in lb.all_ready(groups).items() if k[0] != "tg/unready"}
    port = serve(groups, [
        lb.rule([{"Field": "path-pattern", "Values": ["/zero"]}],
                lb.forward(("tg/blue", 0), ("tg/green", 0))),
        lb.rule([{"Field": "path-pattern", "Values": ["/unready"]}], lb.forward("tg/unready")),
        lb.rule([{"Field": "path-pattern", "Values": ["/refused"]}], lb.forward("tg/refusing")),
        lb.rule([{"Field": "path-pattern", "Values": ["/gone"]}], lb.forward("tg/deleted")),
        lb.default(lb.forward(("tg/blue", 0), ("tg/green", 1)))], ready=ready)
    for path, status in (("/zero", 503), ("/unready", 503), ("/refused", 502), ("/gone", 503)):
        response = get(port, path)
        assert response.status == status, path
        assert response.header("server") == "awselb/2.0", path
        assert f"{status}".encode() in response.body, path
    assert {get(port, "/other").text for _ in range(5)} == {"green"}


# ---------------------------------------------------------------- stickiness

def expires_in(cookie_line: str) -> float:
    attributes = dict(part.strip().partition("=")[::2] for part in cookie_line.split(";"))
    return email.utils.parsedate_to_datetime(attributes["Expires"]).timestamp() - time.time()


def test_target_stickiness_with_the_lb_cookie(serve, backends):
    blue, green = backends
    group = lb.target_group("tg/both", [blue.port, green.port], stickiness__enabled="true",
                            stickiness__lb_cookie__duration_seconds="120")
    port = serve([group], [lb.default(lb.forward("tg/both"))])
    first = get(port)
    line = first.cookie("AWSALB")
    assert line is not None and "; Path=/" in line
    assert 115 <= expires_in(line) <= 125
    # Without the cookie, round robin; with it, the same target every time.
    assert {get(port).text for _ in range(4)} == {"blue", "green"}
    cookie = line.split(";")[0]
    stuck = [get(port, headers={"Cookie": f"a=1; {cookie}"}) for _ in range(10)]
    assert {r.text for r in stuck} == {first.text}
    assert all(r.cookie("AWSALB").split(";")[0] == cookie for r in stuck)   # refreshed
    # A cookie naming no target of the group is ignored.
    assert {get(port, headers={"Cookie": "AWSALB=tnobody"}).text
            for _ in range(4)} == {"blue", "green"}


def test_a_sticky_target_that_is_not_ready_is_left(serve, backends):
    blue, green = backends
    group = lb.target_group("tg/both", [blue.port, green.port], stickiness__enabled="true")
    ready = {group.targets[0].key: True, group.targets[1].key: False}
    port = serve([group], [lb.default(lb.forward("tg/both"))], ready=ready)
    green_cookie = "AWSALB=" + haproxy_config.server_name(group.targets[1].key)
    stuck = [get(port, headers={"Cookie": green_cookie}) for _ in range(4)]
    assert {r.text for r in stuck} == {"blue"}
    assert stuck[0].cookie("AWSALB").split(";")[0] == (
        "AWSALB=" + haproxy_config.server_name(group.targets[0].key))


def test_target_group_stickiness(serve, backends):
    blue, green = backends
    groups = [lb.target_group("tg/blue", [blue.port]), lb.target_group("tg/green", [green.port])]
    port = serve(groups, [lb.default(lb.forward(("tg/blue", 1), ("tg/green", 1),
                                                stickiness=3600))])
    responses = [get(port) for _ in range(4)]
    assert {r.text for r in responses} == {"blue", "green"}
    for response in responses:
        line = response.cookie("AWSALBTG")
        assert line is not None and "; Path=/" in line
        assert 3595 <= expires_in(line) <= 3605
        cookie = line.split(";")[0]
        assert {get(port, headers={"Cookie": cookie}).text for _ in range(6)} == {response.text}


def test_group_stickiness_leaves_a_group_without_weight(serve, backends):
    blue, green = backends
    groups = [lb.target_group("tg/blue", [blue.port]), lb.target_group("tg/green", [green.port])]
    port = serve(groups, [lb.default(lb.forward(("tg/blue", 0), ("tg/green", 1),
                                                stickiness=60))])
    cookie = "AWSALBTG=" + haproxy_config.backend_name("tg/blue")
    assert {get(port, headers={"Cookie": cookie}).text for _ in range(4)} == {"green"}


def test_target_stickiness_with_an_application_cookie(serve, backends):
    blue, green = backends
    group = lb.target_group("tg/app", [blue.port, green.port], stickiness__enabled="true",
                            stickiness__type="app_cookie",
                            stickiness__app_cookie__cookie_name="SESSION",
                            stickiness__app_cookie__duration_seconds="600")
    port = serve([group], [lb.default(lb.forward("tg/app"))])
    plain = [get(port) for _ in range(4)]
    assert all(r.cookie("AWSALBAPP-0") is None for r in plain)   # the target set none
    assert {r.text for r in plain} == {"blue", "green"}
    login = get(port, "/login")
    line = login.cookie("AWSALBAPP-0")
    assert line is not None and "; Path=/" in line
    assert 595 <= expires_in(line) <= 605
    cookies = f"{login.cookie('SESSION').split(';')[0]}; {line.split(';')[0]}"
    assert {get(port, headers={"Cookie": cookies}).text for _ in range(8)} == {login.text}


# ---------------------------------------------------------------- identity sharding

def test_an_identity_always_lands_on_the_same_group(serve, backends):
    blue, green = backends
    groups = [lb.target_group("tg/blue", [blue.port]), lb.target_group("tg/green", [green.port])]
    port = serve(groups, [lb.with_identity(
        lb.default(lb.forward(("tg/green", 50), ("tg/blue", 50))), {"header": "X-User"})])
    placed = {}
    for round_ in range(3):
        for n in range(40):
            name = get(port, headers={"X-User": f"user-{n}"}).text
            assert placed.setdefault(n, name) == name, (n, round_)
    assert set(placed.values()) == {"blue", "green"}
    # Requests without an identity are shared by weight.
    assert Counter(get(port).text for _ in range(10)) == {"blue": 5, "green": 5}


def test_an_identity_in_a_cookie(serve, backends):
    blue, green = backends
    groups = [lb.target_group("tg/blue", [blue.port]), lb.target_group("tg/green", [green.port])]
    port = serve(groups, [lb.with_identity(
        lb.default(lb.forward(("tg/green", 1), ("tg/blue", 1))), {"cookie": "uid"})])
    placed = {n: get(port, headers={"Cookie": f"a=b; uid=u{n}"}).text for n in range(30)}
    assert set(placed.values()) == {"blue", "green"}
    for n, name in placed.items():
        assert get(port, headers={"Cookie": f"uid=u{n}"}).text == name


def _runtime(tmp_path, *commands: str) -> str:
    import asyncio
    from nozama.lb.haproxy_config import socket_dir
    from nozama.lb.haproxy_runtime import Runtime
    return asyncio.run(Runtime(f"{socket_dir(tmp_path / 'run')}/runtime.sock").run(*commands))


@pytest.mark.parametrize("slow_start", [0, 60])
def test_slow_start_gives_a_target_that_just_became_ready_a_growing_share(
        serve, backends, tmp_path, slow_start):
    """A target made ready (as a health check's verdict does, at runtime) takes a full
    share at once, or, with slow start, a share that starts small."""
    blue, green = backends
    group = lb.target_group("tg/web", [blue.port, green.port],
                            slow_start__duration_seconds=str(slow_start))
    late = group.targets[1]
    port = serve([group], [lb.default(lb.forward(("tg/web", 1)))],
                 ready={group.targets[0].key: True, late.key: False})
    assert {get(port).text for _ in range(10)} == {"blue"}
    answer = _runtime(tmp_path, f"set server {haproxy_config.backend_name('tg/web')}/"
                                f"{haproxy_config.server_name(late.key)} state ready")
    assert answer.strip() == ""
    share = Counter(get(port).text for _ in range(100))["green"]
    if slow_start:
        assert share <= 15, share       # seconds into a minute's ramp
    else:
        assert 40 <= share <= 60, share


def test_least_outstanding_requests_prefers_the_idle_target(serve, backends):
    blue, green = backends
    group = lb.target_group("tg/lor", [blue.port, green.port],
                            load_balancing__algorithm__type="least_outstanding_requests")
    port = serve([group], [lb.default(lb.forward(("tg/lor", 1)))])
    # One connection stays busy on a target (a request whose body never ends): the next
    # requests go to the other.
    import socket
    busy = socket.create_connection(("127.0.0.1", port), timeout=5)
    busy.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\npartial")
    time.sleep(0.3)
    try:
        assert len({get(port).text for _ in range(10)}) == 1
    finally:
        busy.close()
