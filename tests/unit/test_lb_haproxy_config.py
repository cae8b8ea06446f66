"""HAProxy's configuration for a snapshot of the ELBv2 tables (lb/haproxy_config.py):
the weighted forward's slots, identity sharding's ranges, quoting, and a configuration
HAProxy accepts. What HAProxy then does with it: tests/integration/test_lb_haproxy_rules.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
from support import lb_snapshots as lb

from nozama.lb.haproxy_config import (
    COUNTER_PERIOD,
    IDENTITY_BUCKETS,
    backend_name,
    identity_ranges,
    quote,
    weighted_slots,
)
from nozama.lb.health import codes_match

# ---------------------------------------------------------------- health check matcher

@pytest.mark.parametrize("matcher,status,ok", [
    ("200", 200, True), ("200", 204, False), ("200,202", 202, True),
    ("200-299", 250, True), ("200-299", 301, False), ("200,300-399", 302, True)])
def test_health_check_matcher(matcher, status, ok):
    assert codes_match(matcher, status) is ok


# ---------------------------------------------------------------- weighted slots

def groups(*weights) -> list[dict]:
    return [{"TargetGroupArn": f"tg-{n}", "Weight": w} for n, w in enumerate(weights)]


def test_a_90_10_forward_is_exact_and_smooth():
    slots = weighted_slots(groups(90, 10))
    assert [key for key, _ in slots] == [str(n) for n in range(COUNTER_PERIOD)]
    names = [name for _, name in slots]
    blue, green = backend_name("tg-0"), backend_name("tg-1")
    assert Counter(names) == {blue: 900, green: 100}
    # Any 10 consecutive requests split 9/1 (the counter wraps around the period).
    ring = names + names[:9]
    for start in range(COUNTER_PERIOD):
        assert Counter(ring[start:start + 10]) == {blue: 9, green: 1}, start


def test_a_1_2_forward_stays_within_one_slot_of_the_ideal():
    names = [name for _, name in weighted_slots(groups(1, 2))]
    a = backend_name("tg-0")
    for n in range(1, COUNTER_PERIOD + 1):
        assert abs(names[:n].count(a) - n / 3) <= 1, n


def test_weights_of_zero_get_no_slots():
    assert weighted_slots(groups(0, 0)) == []
    assert weighted_slots([]) == []
    names = {name for _, name in weighted_slots(groups(0, 5, 0, 1))}
    assert names == {backend_name("tg-1"), backend_name("tg-3")}


# ---------------------------------------------------------------- identity ranges

def buckets(ranges: list[tuple[str, str]]) -> dict[int, str]:
    """Bucket -> backend; fails on a gap or an overlap."""
    owner: dict[int, str] = {}
    for key, name in ranges:
        low, high = map(int, key.split(":"))
        assert low <= high
        for bucket in range(low, high + 1):
            assert bucket not in owner, f"bucket {bucket} in two ranges"
            owner[bucket] = name
    return owner


@pytest.mark.parametrize("weights", [(1,), (1, 1), (90, 10), (1, 2), (1, 1, 1),
                                     (0, 7), (7, 0), (3, 0, 5), (999, 1, 1, 1, 1)])
def test_identity_ranges_cover_every_bucket_once_in_proportion(weights):
    owner = buckets(identity_ranges(groups(*weights)))
    assert sorted(owner) == list(range(IDENTITY_BUCKETS))
    shares = Counter(owner.values())
    for n, weight in enumerate(weights):
        ideal = weight / sum(weights) * IDENTITY_BUCKETS
        assert abs(shares.get(backend_name(f"tg-{n}"), 0) - ideal) <= 1, (n, shares)


def test_identity_ranges_of_no_weight_are_empty():
    assert identity_ranges(groups(0, 0)) == []


@pytest.mark.parametrize("canary_first", [True, False])
def test_the_canary_only_gains_identities_as_it_grows(canary_first):
    canary, stable = backend_name("canary"), backend_name("stable")
    before: set[int] = set()
    for weight in (0, 10, 30, 60, 100):
        pair = [{"TargetGroupArn": "canary", "Weight": weight},
                {"TargetGroupArn": "stable", "Weight": 100 - weight}]
        owner = buckets(identity_ranges(pair if canary_first else pair[::-1]))
        on_canary = {b for b, name in owner.items() if name == canary}
        assert before <= on_canary, weight   # nobody leaves the canary
        assert abs(len(on_canary) - weight / 100 * IDENTITY_BUCKETS) <= 1
        assert set(owner.values()) <= {canary, stable}
        before = on_canary
    assert len(before) == IDENTITY_BUCKETS


# ---------------------------------------------------------------- quoting

@pytest.mark.parametrize("text", ["a\nb", "a\rb", "\n", "a\0b"])
def test_a_word_cannot_hold_a_line_break(text):
    with pytest.raises(ValueError):
        quote(text)


def test_a_word_is_single_quoted():
    assert quote("plain") == "'plain'"
    assert quote("it's") == "'it'\\''s'"
    assert quote("") == "''"


# ---------------------------------------------------------------- HAProxy accepts it

# HAProxy is installed by `make test` (scripts/setup-test-services.sh), as Docker is:
# without it this fails, it does not skip.
def test_haproxy_accepts_a_rendered_snapshot(tmp_path):
    blue = lb.target_group("arn:tg/blue", [20001, 20002])
    green = lb.target_group("arn:tg/green", [20003], stickiness__enabled="true")
    app = lb.target_group("arn:tg/app", [20004], stickiness__enabled="true",
                          stickiness__type="app_cookie",
                          stickiness__app_cookie__cookie_name="SESSION",
                          slow_start__duration_seconds="30",
                          load_balancing__algorithm__type="least_outstanding_requests")
    hostile = "it's \"quoted\" # $HOME ${HOME} %[src] \\ 100%"
    rules = [
        lb.rule([{"Field": "path-pattern", "Values": ["/api/*", "/a?c", "/it's \"x\" $%"]},
                 {"Field": "host-header", "Values": ["*.Example.com"]},
                 {"Field": "http-header", "HttpHeaderConfig": {
                     "HttpHeaderName": "X-It's#1", "Values": [hostile[:40]]}}],
                lb.fixed("418", hostile + "\nline two", "application/json")),
        lb.rule([{"Field": "http-header", "HttpHeaderConfig": {
                    "HttpHeaderName": "X-Canary", "Values": ["on*", "y?s"]}},
                 {"Field": "http-request-method", "HttpRequestMethodConfig": {
                     "Values": ["POST"]}},
                 {"Field": "query-string", "QueryStringConfig": {
                     "Values": [{"Key": "v*", "Value": "2"}, {"Value": "b'#$"}]}}],
                lb.forward(("arn:tg/blue", 90), ("arn:tg/green", 10), stickiness=3600)),
        lb.rule([{"Field": "source-ip", "SourceIpConfig": {
                    "Values": ["127.0.0.0/8", "2001:db8::/32"]}}],
                {"Type": "redirect", "RedirectConfig": {
                    "Host": "#{host}", "Path": "/new/#{path}/50%'\"", "Query": "#{query}&x='%'",
                    "Port": "8443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}}),
        lb.rule([{"Field": "path-pattern", "Values": ["/r"]}], {
            "Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_302"}}),
        lb.rule([{"Field": "path-pattern", "Values": ["/empty"]}], lb.fixed("204")),
        lb.with_identity(lb.rule([{"Field": "path-pattern", "Values": ["/shard"]}],
                                 lb.forward(("arn:tg/blue", 1), ("arn:tg/app", 1))),
                         {"header": "X-User"}),
        lb.rule([{"Field": "path-pattern", "Values": ["/none"]}],
                lb.forward(("arn:tg/blue", 0), ("arn:tg/gone", 0))),
        lb.default(lb.forward("arn:tg/blue")),
    ]
    snap = lb.snapshot([lb.listener(20080, rules), lb.listener(20081, [
        lb.default(lb.forward("arn:tg/app"))])], [blue, green, app])
    ready = {blue.targets[0].key: True, green.targets[0].key: True}   # some are not
    config, rendered = lb.write(snap, ready, tmp_path)
    assert all(path.startswith(str(tmp_path) + "/") for path in rendered.files)
    result = lb.check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "line two" not in rendered.text   # bodies live in files


def test_admin_sockets_of_a_deep_run_directory_live_in_a_short_private_one(tmp_path):
    from nozama.lb.haproxy_config import SOCKET_PATH_MAX, socket_dir
    from nozama.lb.haproxy_master import Master
    assert socket_dir(tmp_path) == str(tmp_path)
    deep = tmp_path / ("d" * 120)
    master = Master(deep)
    assert str(master.sockets) == socket_dir(deep) != str(deep)
    assert len(str(master.runtime_socket)) <= SOCKET_PATH_MAX
    assert socket_dir(deep) == socket_dir(deep) != socket_dir(tmp_path / ("e" * 120))
    master.prepare()
    assert master.sockets.stat().st_mode & 0o777 == 0o700
