"""Rule evaluation, redirects and target choice of the load balancer's data plane."""

from __future__ import annotations

from collections import Counter

import pytest

from nozama.kernel.clock import FakeClock
from nozama.lb.balancer import Balancer, WeightedChoice
from nozama.lb.config import Target, TargetGroup
from nozama.lb.health import codes_match
from nozama.lb.routing import RequestFacts, matching_rule, redirect_location
from nozama.model.lb_rules import conditions


def facts(path="/", method="GET", query="", headers=None, source="10.0.0.7") -> RequestFacts:
    return RequestFacts(method, path, query, {"host": "shop.example.com:8080", **(headers or {})},
                        source)


def rule(name, *requested) -> dict:
    return {"Name": name, "Conditions": conditions(list(requested))}


DEFAULT = {"Name": "default", "Conditions": []}


@pytest.mark.parametrize("condition,request_facts,matches", [
    ({"Field": "path-pattern", "Values": ["/api/*"]}, facts("/api/v1/users"), True),
    ({"Field": "path-pattern", "Values": ["/api/*"]}, facts("/API/v1"), False),  # case matters
    ({"Field": "path-pattern", "Values": ["/img/?.png"]}, facts("/img/a.png"), True),
    ({"Field": "path-pattern", "Values": ["/img/?.png"]}, facts("/img/ab.png"), False),
    ({"Field": "host-header", "Values": ["*.EXAMPLE.com"]}, facts(), True),
    ({"Field": "host-header", "Values": ["api.example.com"]}, facts(), False),
    ({"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary",
                                                   "Values": ["on*"]}},
     facts(headers={"x-canary": "ON-please"}), True),
    ({"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary",
                                                   "Values": ["on"]}}, facts(), False),
    ({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST", "PUT"]}},
     facts(method="PUT"), True),
    ({"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}},
     facts(query="a=1&v=2"), True),
    ({"Field": "query-string", "QueryStringConfig": {"Values": [{"Value": "beta"}]}},
     facts(query="track=beta"), True),
    ({"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}},
     facts(query="v=3"), False),
    ({"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/24"]}}, facts(), True),
    ({"Field": "source-ip", "SourceIpConfig": {"Values": ["192.168.0.0/16"]}}, facts(), False),
])
def test_conditions(condition, request_facts, matches):
    chosen = matching_rule([rule("r", condition), DEFAULT], request_facts)
    assert (chosen["Name"] == "r") is matches


def test_all_conditions_must_hold_and_the_first_rule_wins():
    rules = [rule("both", {"Field": "path-pattern", "Values": ["/a"]},
                  {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}),
             rule("path", {"Field": "path-pattern", "Values": ["/a"]}),
             rule("also-path", {"Field": "path-pattern", "Values": ["/*"]}), DEFAULT]
    assert matching_rule(rules, facts("/a", "POST"))["Name"] == "both"
    assert matching_rule(rules, facts("/a"))["Name"] == "path"
    assert matching_rule(rules, facts("/b"))["Name"] == "also-path"
    assert matching_rule([DEFAULT], facts("/b"))["Name"] == "default"


def test_redirect_placeholders():
    config = {"Protocol": "#{protocol}", "Port": "#{port}", "Host": "#{host}",
              "Path": "/new/#{path}", "Query": "#{query}&from=old", "StatusCode": "HTTP_301"}
    assert redirect_location(config, facts("/old/x", query="q=1"), 8080) == \
        "http://shop.example.com:8080/new/old/x?q=1&from=old"
    config = {**config, "Protocol": "HTTPS", "Port": "443", "Query": "#{query}"}
    assert redirect_location(config, facts("/p"), 80) == "https://shop.example.com/new/p"


def test_smooth_weighted_round_robin_is_exact():
    choice = WeightedChoice([("blue", 90), ("green", 10)])
    picks = [choice.next() for _ in range(1000)]
    assert Counter(picks) == {"blue": 900, "green": 100}
    assert Counter(picks[:10]) == {"blue": 9, "green": 1}  # spread out, not in bursts
    assert WeightedChoice([("a", 0), ("b", 0)]).next() is None
    assert {WeightedChoice([("a", 0), ("b", 5)]).next() for _ in range(5)} == {"b"}


def _group(algorithm: str, n: int) -> TargetGroup:
    group = TargetGroup("tg", {"Attributes": {"load_balancing.algorithm.type": algorithm}})
    group.targets = [Target(i, "tg", "10.0.0.1", 8000 + i, "10.0.0.1", False, None)
                     for i in range(n)]
    return group


def test_only_healthy_targets_get_requests_round_robin():
    balancer = Balancer()
    balancer.update({"tg": _group("round_robin", 3)})
    assert balancer.target_in("tg") is None  # nothing healthy yet: 503
    states = list(balancer.targets.values())
    for state in states[:2]:
        state.health = "healthy"
    picks = Counter(balancer.target_in("tg").target.port for _ in range(10))
    assert picks == {8000: 5, 8001: 5}


def test_least_outstanding_requests():
    balancer = Balancer()
    balancer.update({"tg": _group("least_outstanding_requests", 3)})
    states = list(balancer.targets.values())
    for state, busy in zip(states, (4, 1, 2)):
        state.health, state.in_flight = "healthy", busy
    assert balancer.target_in("tg").target.port == 8001


def test_health_keeps_across_reloads_and_draining_targets_get_nothing():
    balancer = Balancer()
    balancer.update({"tg": _group("round_robin", 1)})
    next(iter(balancer.targets.values())).health = "healthy"
    group = _group("round_robin", 1)
    balancer.update({"tg": group})
    assert balancer.target_in("tg") is not None
    group.targets = [Target(0, "tg", "10.0.0.1", 8000, "10.0.0.1", True, None)]
    balancer.update({"tg": group})
    assert balancer.target_in("tg") is None


@pytest.mark.parametrize("matcher,status,ok", [
    ("200", 200, True), ("200", 204, False), ("200,202", 202, True),
    ("200-299", 250, True), ("200-299", 301, False), ("200,300-399", 302, True)])
def test_health_check_matcher(matcher, status, ok):
    assert codes_match(matcher, status) is ok


def test_slow_start_ramps_a_new_target_up_linearly():
    import time as clock
    group = _group("round_robin", 2)
    group.doc["Attributes"]["slow_start.duration_seconds"] = "100"
    balancer = Balancer()
    balancer.update({"tg": group})
    old, new = balancer.targets.values()
    old.health = "healthy"          # healthy since before this data plane: full share
    new.health = "initial"
    new.became("healthy", clock.monotonic())   # just now: slow start begins
    new.healthy_since = clock.monotonic() - 10   # 10 s into 100: a tenth of a share
    picks = Counter(balancer.target_in("tg").target.port for _ in range(1100))
    assert 90 <= picks[8001] <= 110 and picks[8000] + picks[8001] == 1100
    new.healthy_since = clock.monotonic() - 100  # slow start over: equal shares
    picks = Counter(balancer.target_in("tg").target.port for _ in range(1000))
    assert abs(picks[8000] - picks[8001]) <= 2


def test_a_target_becoming_healthy_again_starts_slow_again():
    clock = FakeClock()
    balancer = Balancer(clock)
    balancer.update({"tg": _group("round_robin", 1)})
    state = next(iter(balancer.targets.values()))
    assert state.healthy_since is None
    state.became("healthy", clock.monotonic())
    first = state.healthy_since
    clock.advance(5)
    state.became("healthy", clock.monotonic())   # no change: the clock keeps running
    assert state.healthy_since == first
    state.became("unhealthy", clock.monotonic())
    state.became("healthy", clock.monotonic())
    assert state.healthy_since == first + 5


def test_identities_keep_their_target_group_while_the_canary_grows():
    from nozama.lb.balancer import by_identity
    users = [f"user-{n}" for n in range(2000)]
    previous: set[str] = set()
    for share in (0, 10, 30, 60, 100):
        groups = [{"TargetGroupArn": "green", "Weight": share},
                  {"TargetGroupArn": "blue", "Weight": 100 - share}]
        on_green = {u for u in users if by_identity(groups, u) == "green"}
        assert previous <= on_green  # nobody leaves the canary as it grows
        assert abs(len(on_green) / len(users) - share / 100) < 0.03
        previous = on_green
    assert by_identity([{"TargetGroupArn": "a", "Weight": 0}], "u") is None
