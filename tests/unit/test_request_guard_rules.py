"""api/guard.py: the Host names a server answers to, and what a browser marks cross-site."""

from __future__ import annotations

import pytest

from nozama.api.guard import AllowedHosts, host_name, missing_client_header, refusal
from nozama.kernel.http import HttpRequest


def request(headers: dict, method: str = "POST", local: str = "127.0.0.1") -> HttpRequest:
    return HttpRequest(method, "/", "/", "", {k.lower(): v for k, v in headers.items()}, b"",
                       local_address=local)


@pytest.mark.parametrize("header, name", [
    ("localhost:4566", "localhost"), ("LOCALHOST", "localhost"), ("[::1]:4566", "::1"),
    ("[::1]", "::1"), ("example.com.", "example.com"), ("10.0.0.5:80", "10.0.0.5")])
def test_host_name_drops_the_port_and_brackets(header, name):
    assert host_name(header) == name


def test_bound_to_loopback_answers_to_loopback_names_only():
    hosts = AllowedHosts("127.0.0.1", ["extra.test"])
    for header in ("127.0.0.1:4566", "localhost", "[::1]:4566", "extra.test:4566"):
        assert hosts.allows(header, "127.0.0.1"), header
    for header in ("evil.example", "10.0.0.5:4566", ""):
        assert not hosts.allows(header, "127.0.0.1"), header


def test_bound_to_a_lan_address_answers_to_it_and_not_to_localhost():
    hosts = AllowedHosts("10.0.0.5")
    assert hosts.allows("10.0.0.5:4566", "10.0.0.5")
    assert not hosts.allows("localhost:4566", "10.0.0.5")


def test_bound_to_every_address_answers_to_the_address_the_connection_came_in_on():
    hosts = AllowedHosts("0.0.0.0")
    assert hosts.allows("192.0.2.7:4566", "192.0.2.7")
    assert not hosts.allows("192.0.2.8:4566", "192.0.2.7")
    assert hosts.allows("localhost:4566", "127.0.0.1")


@pytest.mark.parametrize("headers, refused", [
    ({"Sec-Fetch-Site": "cross-site"}, True), ({"Sec-Fetch-Site": "same-site"}, True),
    ({"Sec-Fetch-Site": "same-origin"}, False), ({"Sec-Fetch-Site": "none"}, False),
    ({"Origin": "http://evil.example"}, True), ({"Origin": "null"}, True),
    ({"Origin": "https://127.0.0.1:4566"}, True), ({"Origin": "http://127.0.0.1:4566"}, False),
    ({}, False)])
def test_what_a_browser_marks_cross_site_is_refused(headers, refused):
    found = refusal(request({"Host": "127.0.0.1:4566", **headers}), AllowedHosts("127.0.0.1"))
    assert (found is not None) == refused
    if refused:
        assert (found.code, found.status) == ("AccessDenied", 403)


def test_nozamas_own_endpoints_want_the_client_header_to_change_state():
    assert missing_client_header(request({})).code == "MissingAuthenticationToken"
    assert missing_client_header(request({"X-Nozama-Client": "agent"})) is None
    assert missing_client_header(request({}, method="GET")) is None
