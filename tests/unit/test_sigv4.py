"""The SigV4 verifier against botocore's own signer: what it signs is accepted, any change
to a signed part is refused with the right error, and hostile input never gets further
than a refusal (api/sigv4.py, api/auth.py, the gateway's wiring)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import unquote, urlsplit

import botocore.auth
import botocore.credentials
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.utils import percent_encode, percent_encode_sequence
from hypothesis import HealthCheck, given, settings, strategies as st

from nozama.api import sigv4
from nozama.model import iam
from nozama.api.gateway import Gateway
from nozama.kernel.clock import FakeClock
from nozama.kernel.http import HttpRequest
from nozama.store import Store
from nozama.store.db import sqlite_url

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
KEY, SECRET = "AKIAEXAMPLEKEY000001", "secret/one+EXAMPLE"
OTHER_KEY, OTHER_SECRET = "AKIAEXAMPLEKEY000002", "secret/two+EXAMPLE"
KEYS = {KEY: SECRET, OTHER_KEY: OTHER_SECRET}
HOST = "127.0.0.1:4566"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"


def lookup(key_id: str, token: str | None) -> sigv4.Credentials | None:
    secret = KEYS.get(key_id)
    return sigv4.Credentials(secret, principal={"key": key_id}) if secret else None


def as_root(found):
    """A lookup whose keys stand for the account's root (the gateway then authorizes
    their calls by its policies: all of them)."""
    def lookup_root(key_id: str, token: str | None):
        credentials = found(key_id, token)
        return credentials and sigv4.Credentials(credentials.secret_access_key,
                                                 iam.root("000000000000"))
    return lookup_root


def to_http(prepared, host: str = HOST) -> HttpRequest:
    """A prepared botocore request as Nozama's HTTP server hands it on."""
    url = urlsplit(prepared.url)
    headers = {name.lower(): (value.decode() if isinstance(value, bytes) else value)
               for name, value in prepared.headers.items()}
    headers.setdefault("host", host)  # urllib3 adds it on the wire
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    return HttpRequest(prepared.method, unquote(url.path or "/"), url.path or "/", url.query,
                       headers, body)


def signed(method="POST", path="/", params=(), headers=None, body=b"", region="us-east-1",
           service="ecs", key=KEY, secret=SECRET, token=None, when=NOW) -> HttpRequest:
    """A request signed by botocore's SigV4Auth at `when`, as a client sends it."""
    query = percent_encode_sequence(list(params)) if params else ""
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    credentials = botocore.credentials.Credentials(key, secret, token)
    with mock.patch("botocore.auth.get_current_datetime",
                    return_value=when.replace(tzinfo=None)):
        botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)
    return to_http(request.prepare())


def refused(request: HttpRequest, now: datetime = NOW) -> sigv4.SignatureError:
    with pytest.raises(sigv4.SignatureError) as failure:
        sigv4.verify(request, lookup, now)
    return failure.value


def ecs_request(**changes) -> HttpRequest:
    headers = {"X-Amz-Target": f"{ECS_TARGET}.DescribeClusters",
               "Content-Type": "application/x-amz-json-1.1"}
    return signed(headers=headers, body=b'{"clusters": ["default"]}', **changes)


# ---------------------------------------------------------------------------
# The property: botocore signs, Nozama agrees; any signed change is refused.

_SEGMENT = st.text(st.characters(codec="utf-8", exclude_characters="/?#\x00"),
                   min_size=1, max_size=12)
_PARAM = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10)
_HEADER_VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
                        max_size=20)


@st.composite
def signed_requests(draw):
    segments = draw(st.lists(_SEGMENT.filter(lambda s: s not in (".", "..")), max_size=4))
    path = "/" + "/".join(percent_encode(segment, safe="") for segment in segments)
    params = draw(st.lists(st.tuples(_PARAM.filter(bool), _PARAM), max_size=4,
                           unique_by=lambda pair: pair[0]))
    headers = {f"x-amz-meta-{i}": value
               for i, value in enumerate(draw(st.lists(_HEADER_VALUE, max_size=3)))}
    fields = dict(method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"])), path=path,
                  params=params, headers=headers, body=draw(st.binary(max_size=64)),
                  region=draw(st.sampled_from(["us-east-1", "eu-west-3", "ap-south-2"])),
                  service=draw(st.sampled_from(["ecs", "lambda", "elasticloadbalancing"])))
    return fields, signed(**fields)


def _set_credential(request: HttpRequest, index: int, value: str) -> None:
    header = request.headers["authorization"]
    start = header.index("Credential=") + len("Credential=")
    end = header.index(",", start)
    parts = header[start:end].split("/")
    parts[index] = value
    request.headers["authorization"] = header[:start] + "/".join(parts) + header[end:]


def _later(stamp: str) -> str:
    moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") + timedelta(seconds=1)
    return moment.strftime("%Y%m%dT%H%M%SZ")


MUTATIONS = {
    "method": lambda r: setattr(r, "method", "PATCH"),
    "path": lambda r: setattr(r, "raw_path", r.raw_path.rstrip("/") + "/x"),
    "query added": lambda r: setattr(r, "query_string", "&".join(
        filter(None, [r.query_string, "Injected=1"]))),
    "query changed": lambda r: setattr(r, "query_string", (r.query_string or "a=b") + "c"),
    "signed header": lambda r: r.headers.__setitem__("x-amz-date",
                                                     _later(r.headers["x-amz-date"])),
    "host": lambda r: r.headers.__setitem__("host", "localhost:4566"),
    "body": lambda r: setattr(r, "body", r.body + b" "),
    "region": lambda r: _set_credential(r, 2, "us-west-2"),
    "service": lambda r: _set_credential(r, 3, "lambda2"),
    "key": lambda r: _set_credential(r, 0, OTHER_KEY),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed_requests(), st.sampled_from(sorted(MUTATIONS)))
def test_what_botocore_signs_is_accepted_and_any_signed_change_refused(drawn, mutation):
    fields, request = drawn
    verified = sigv4.verify(request, lookup, NOW)
    assert (verified.access_key, verified.region, verified.service, verified.principal) == \
        (KEY, fields["region"], fields["service"], {"key": KEY})
    # A header no one signed may change, or appear, freely.
    request.headers["user-agent"] = "changed on the way"
    assert sigv4.verify(request, lookup, NOW).access_key == KEY

    MUTATIONS[mutation](request)
    assert refused(request).reason == sigv4.Reason.MISMATCH


def test_a_meta_header_botocore_signed_cannot_change():
    request = signed(headers={"x-amz-meta-a": "one"})
    request.headers["x-amz-meta-a"] = "two"
    assert refused(request).reason == sigv4.Reason.MISMATCH


def test_a_key_the_store_does_not_know_is_unknown_and_a_wrong_secret_a_mismatch():
    assert refused(ecs_request(key="AKIAUNKNOWN000000000")).reason == sigv4.Reason.UNKNOWN_KEY
    assert refused(ecs_request(secret="not the secret")).reason == sigv4.Reason.MISMATCH


def test_the_session_token_goes_to_the_lookup_and_expired_credentials_are_refused():
    seen = []

    def temporary(key_id, token):
        seen.append((key_id, token))
        return sigv4.Credentials(SECRET, "session", expires_at=NOW + timedelta(minutes=1))

    request = ecs_request(token="the-session-token")
    verified = sigv4.verify(request, temporary, NOW)
    assert seen == [(KEY, "the-session-token")]
    assert (verified.session_token, verified.principal) == ("the-session-token", "session")
    with pytest.raises(sigv4.SignatureError) as expired:
        sigv4.verify(request, temporary, NOW + timedelta(minutes=2))
    assert expired.value.reason == sigv4.Reason.EXPIRED_TOKEN


def test_the_date_must_be_within_15_minutes_either_way():
    assert sigv4.verify(ecs_request(when=NOW - timedelta(minutes=14)), lookup, NOW)
    assert sigv4.verify(ecs_request(when=NOW + timedelta(minutes=14)), lookup, NOW)
    stale = refused(ecs_request(when=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    assert stale.reason == sigv4.Reason.EXPIRED
    assert stale.message == ("Signature expired: 20260101T000000Z is now earlier than "
                             "20261205T114500Z (20261205T120000Z - 15 min.)")
    early = refused(ecs_request(when=NOW + timedelta(minutes=16)))
    assert early.message.startswith("Signature not yet current: 20261205T121600Z is still "
                                    "later than 20261205T121500Z")


def test_the_scopes_date_must_be_the_requests_date():
    request = ecs_request()
    _set_credential(request, 1, "20261204")
    failure = refused(request)
    assert (failure.reason, failure.message) == (sigv4.Reason.MISMATCH, (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20261204' != '20261205', from '20261205T120000Z'."))


def test_a_date_header_signs_as_botocore_signs_it():
    # botocore signs with Date (not X-Amz-Date) when the request has a Date header.
    request = signed(headers={"Date": "whatever"})
    assert "x-amz-date" not in request.headers
    assert sigv4.verify(request, lookup, NOW).access_key == KEY


def test_the_payload_hash_header_must_be_the_bodys():
    body = b'{"clusters": []}'
    import hashlib
    request = signed(body=body, headers={"X-Amz-Content-SHA256":
                                         hashlib.sha256(body).hexdigest()})
    assert sigv4.verify(request, lookup, NOW)
    # Signed over a claim that is not the body sent: the body is not what was signed.
    lying = signed(body=b"other", headers={"X-Amz-Content-SHA256":
                                           hashlib.sha256(body).hexdigest()})
    assert refused(lying).reason == sigv4.Reason.MISMATCH
    unsigned = signed(body=body, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refused(unsigned).reason == sigv4.Reason.MISMATCH
    assert sigv4.verify(unsigned, lookup, NOW, allow_unsigned_payload=True)


# ---------------------------------------------------------------------------
# Presigned URLs

def presigned_url(client_name: str, method: str, params: dict, expires: int = 60,
                  when: datetime = NOW, http_method: str | None = None) -> str:
    session = botocore.session.get_session()
    client = session.create_client(client_name, "eu-west-3", endpoint_url=f"http://{HOST}",
                                   aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    with mock.patch("botocore.auth.get_current_datetime",
                    return_value=when.replace(tzinfo=None)):
        return client.generate_presigned_url(method, Params=params, ExpiresIn=expires,
                                             HttpMethod=http_method)


def url_request(url: str, method: str = "GET") -> HttpRequest:
    parts = urlsplit(url)
    return HttpRequest(method, unquote(parts.path), parts.path, parts.query,
                       {"host": parts.netloc}, b"")


def test_a_presigned_url_is_accepted_until_it_expires():
    url = presigned_url("lambda", "list_functions", {"MaxItems": 5}, expires=60)
    request = url_request(url)
    verified = sigv4.verify(request, lookup, NOW + timedelta(seconds=59))
    assert (verified.region, verified.service) == ("eu-west-3", "lambda")
    late = refused(request, NOW + timedelta(seconds=61))
    assert late.reason == sigv4.Reason.EXPIRED
    assert late.message.startswith("Signature expired: 20261205T120000Z is now earlier than")


def test_a_presigned_query_protocol_url_is_accepted_and_tampering_refused():
    url = presigned_url("elbv2", "describe_load_balancers", {"PageSize": 5},
                        http_method="GET")
    assert sigv4.verify(url_request(url), lookup, NOW).service == "elasticloadbalancing"
    tampered = url_request(url.replace("PageSize=5", "PageSize=6"))
    assert refused(tampered).reason == sigv4.Reason.MISMATCH
    assert refused(url_request(url, method="POST")).reason == sigv4.Reason.MISMATCH


def test_a_presigned_urls_expiry_is_a_second_to_a_week():
    url = presigned_url("lambda", "list_functions", {}, expires=60)
    for expires in ("0", "604801", "-1", "1e3", "sixty"):
        failure = refused(url_request(url.replace("X-Amz-Expires=60",
                                                  f"X-Amz-Expires={expires}")))
        assert failure.reason == sigv4.Reason.INCOMPLETE, expires
    a_week = presigned_url("lambda", "list_functions", {}, expires=604800)
    assert sigv4.verify(url_request(a_week), lookup, NOW + timedelta(days=6))


def test_a_presigned_url_missing_a_parameter_or_given_one_twice_is_incomplete():
    url = presigned_url("lambda", "list_functions", {})
    without = "&".join(p for p in url.split("?")[1].split("&")
                       if not p.startswith("X-Amz-SignedHeaders"))
    assert refused(url_request(url.split("?")[0] + "?" + without)).reason == \
        sigv4.Reason.INCOMPLETE
    assert refused(url_request(url + "&X-Amz-Date=20261205T120000Z")).reason == \
        sigv4.Reason.INCOMPLETE


# ---------------------------------------------------------------------------
# Bad input: the right refusal, no 500, nothing logged but the key id.

@pytest.mark.parametrize("header", [
    "garbage", "", "Bearer abc.def", "AWS AKID:c2lnbmF0dXJl",
    "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential", "AWS4-HMAC-SHA256 ,,,,",
    "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=K/20261205/us-east-1/ecs/aws4_request, Signature=00",
    "AWS4-HMAC-SHA512 Credential=K/20261205/us-east-1/ecs/aws4_request, SignedHeaders=host, "
    "Signature=00",
    "AWS4-HMAC-SHA256 Credential=K/20261205/us-east-1/ecs/aws4_request, "
    "Credential=K/20261205/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 \x00\x01\xff" * 50,
])
def test_garbage_in_the_authorization_header_is_an_incomplete_signature(header):
    request = ecs_request()
    request.headers["authorization"] = header
    failure = refused(request)
    assert failure.reason == sigv4.Reason.INCOMPLETE
    assert len(failure.message) < 1000 and "\x00" not in failure.message


def test_a_header_without_any_part_lists_what_is_missing_as_aws_does():
    request = ecs_request()
    request.headers["authorization"] = "Basic dXNlcjpwYXNz"
    del request.headers["x-amz-date"]
    assert refused(request).message == (
        "Authorization header requires 'Credential' parameter. Authorization header requires "
        "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=Basic dXNlcjpwYXNz")


def _set_signed_headers(request: HttpRequest, value: str) -> None:
    header = request.headers["authorization"]
    start = header.index("SignedHeaders=") + len("SignedHeaders=")
    end = header.index(",", start)
    request.headers["authorization"] = header[:start] + value + header[end:]


@pytest.mark.parametrize("signed_headers", [
    "host;host;x-amz-date", "host;;x-amz-date", "x-amz-date;host", "Host;x-amz-date",
    "x-amz-date", ""])
def test_signed_headers_must_be_sorted_unique_lower_case_and_include_host(signed_headers):
    request = ecs_request()
    _set_signed_headers(request, signed_headers)
    assert refused(request).reason == sigv4.Reason.INCOMPLETE


def test_a_signed_header_missing_from_the_request_is_refused():
    request = ecs_request()
    del request.headers["x-amz-target"]
    failure = refused(request)
    assert failure.reason == sigv4.Reason.INCOMPLETE
    assert "'x-amz-target' is signed" in failure.message


def test_a_huge_header_is_refused_quickly():
    request = ecs_request()
    request.headers["x-amz-target"] = "A" * 16384
    assert refused(request).reason == sigv4.Reason.MISMATCH
    request.headers["authorization"] += "," + "B" * 16384
    assert refused(request).reason == sigv4.Reason.INCOMPLETE


def test_a_path_that_is_not_utf8_is_refused_not_crashed():
    request = ecs_request()
    request.raw_path = b"/\xff\xfe%ff%C0%AF".decode("latin-1")
    request.path = unquote(request.raw_path)
    assert refused(request).reason == sigv4.Reason.MISMATCH
    # ... and it signs like any other when botocore signed it.
    odd = signed(path="/%FF%FE")
    assert sigv4.verify(odd, lookup, NOW)


@pytest.mark.parametrize("key_id", [
    "' OR 1=1 --", "AKIA'; DROP TABLE access_keys; --", "AKIA\nINFO forged log line",
    "AKIA\r\nX-Injected: 1", "A" * 129, "", "ÄKIA"])
def test_a_hostile_key_id_never_reaches_the_key_store_nor_the_log(key_id, caplog):
    asked = []

    def store(key, token):
        asked.append(key)
        return None

    request = url_request(presigned_url("lambda", "list_functions", {}))
    request.query_string = request.query_string.replace(
        KEY, percent_encode(key_id, safe=""), 1)
    for name in ("query", "query_lists"):
        request.__dict__.pop(name, None)
    with pytest.raises(sigv4.SignatureError) as failure:
        sigv4.verify(request, store, NOW)
    assert failure.value.reason == sigv4.Reason.UNKNOWN_KEY and failure.value.access_key is None
    assert asked == []
    from nozama.api.auth import signature_error
    with caplog.at_level(logging.DEBUG):
        error = signature_error(failure.value, "json")
    assert error.code == "UnrecognizedClientException"
    assert key_id.strip() not in caplog.text or not key_id.strip()
    assert all("\n" not in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------------------
# The gateway: verification on, each protocol family's errors, nothing runs.

@pytest.fixture
def gateway(tmp_path):
    store = Store.open(sqlite_url(tmp_path / "data"))
    yield Gateway(store, FakeClock(NOW), verify_signatures=True,
                  credentials_lookup=as_root(lookup))
    store.close()


def _answer(response) -> tuple[int, str]:
    body = response.body.decode()
    if body.startswith("<"):
        code = body.split("<Code>")[1].split("</Code>")[0]
    else:
        code = json.loads(body).get("__type") or response.headers.get("x-amzn-errortype")
    return response.status, code


def test_the_gateway_needs_a_lookup_to_verify(tmp_path):
    store = Store.open(sqlite_url(tmp_path / "data"))
    with pytest.raises(ValueError):
        Gateway(store, FakeClock(NOW), verify_signatures=True)
    assert not Gateway(store, FakeClock(NOW)).verifies_signatures
    store.close()


def test_a_verified_json_request_runs(gateway):
    response = gateway.handle(ecs_request())
    assert response.status == 200, response.body
    assert json.loads(response.body)["failures"][0]["reason"] == "MISSING"


def _query_request(**changes) -> HttpRequest:
    body = percent_encode_sequence([("Action", "DescribeLoadBalancers"),
                                    ("Version", "2015-12-01")]).encode()
    return signed(service="elasticloadbalancing", body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                  **changes)


def _lambda_request(**changes) -> HttpRequest:
    return signed(method="GET", path="/2015-03-31/functions/", service="lambda", **changes)


@pytest.mark.parametrize("build, unknown, mismatch, expired", [
    (ecs_request, "UnrecognizedClientException", "InvalidSignatureException",
     "InvalidSignatureException"),
    (_query_request, "InvalidClientTokenId", "SignatureDoesNotMatch", "SignatureDoesNotMatch"),
    (_lambda_request, "UnrecognizedClientException", "InvalidSignatureException",
     "InvalidSignatureException"),
], ids=["json", "query", "rest-json"])
def test_each_protocol_family_answers_its_own_codes(gateway, build, unknown, mismatch,
                                                    expired):
    assert gateway.handle(build()).status == 200
    assert _answer(gateway.handle(build(key="AKIAUNKNOWN000000000"))) == (403, unknown)
    assert _answer(gateway.handle(build(secret="wrong"))) == (403, mismatch)
    assert _answer(gateway.handle(build(when=NOW - timedelta(hours=1)))) == (403, expired)
    garbage = build()
    garbage.headers["authorization"] = "garbage"
    incomplete = "IncompleteSignatureException" if unknown.startswith("Unrec") \
        else "IncompleteSignature"
    assert _answer(gateway.handle(garbage)) == (400, incomplete)
    unsigned = build()
    del unsigned.headers["authorization"]
    assert _answer(gateway.handle(unsigned)) == (403, "MissingAuthenticationToken")


def test_ec2_answers_auth_failure_and_request_expired(gateway):
    def ec2(**changes):
        body = b"Action=DescribeVpcs&Version=2016-11-15"
        return signed(service="ec2", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, **changes)
    assert gateway.handle(ec2()).status == 200
    assert _answer(gateway.handle(ec2(secret="wrong"))) == (401, "AuthFailure")
    assert _answer(gateway.handle(ec2(key="AKIAUNKNOWN000000000"))) == (401, "AuthFailure")
    assert _answer(gateway.handle(ec2(when=NOW - timedelta(hours=1)))) == (400, "RequestExpired")


def test_a_signature_for_another_service_is_refused(gateway):
    # Signed for Lambda, sent to ECS (the target names ECS): AWS refuses the scope.
    response = gateway.handle(ecs_request(service="lambda"))
    assert _answer(response) == (403, "InvalidSignatureException")
    assert "Credential should be scoped to correct service: 'ecs'." in response.body.decode()


def test_a_region_that_cannot_be_one_is_refused(gateway):
    assert _answer(gateway.handle(ecs_request(region="US-WEST-2"))) == \
        (403, "InvalidSignatureException")


def test_a_refused_request_changes_nothing(gateway):
    def create(**changes):
        return signed(headers={"X-Amz-Target": f"{ECS_TARGET}.CreateCluster",
                               "Content-Type": "application/x-amz-json-1.1"},
                      body=b'{"clusterName": "refused"}', **changes)
    for request in (create(secret="wrong"), create(key="AKIAUNKNOWN000000000"),
                    create(when=NOW - timedelta(hours=1))):
        assert gateway.handle(request).status in (400, 403)
    listed = signed(headers={"X-Amz-Target": f"{ECS_TARGET}.ListClusters",
                             "Content-Type": "application/x-amz-json-1.1"}, body=b"{}")
    assert json.loads(gateway.handle(listed).body)["clusterArns"] == []


_HOSTILE_HEADERS = st.dictionaries(
    st.sampled_from(["authorization", "x-amz-date", "date", "host", "x-amz-target",
                     "x-amz-content-sha256", "x-amz-security-token"]), st.text(max_size=80))


def test_hostile_requests_get_an_aws_error_never_a_500(gateway):
    @settings(max_examples=300, deadline=None)
    @given(_HOSTILE_HEADERS, st.text(max_size=40), st.binary(max_size=40))
    def hostile(headers, query, body):
        text = {k: v.encode("utf-8", "replace").decode("latin-1") for k, v in headers.items()}
        request = HttpRequest("POST", "/", "/", query.encode().decode("latin-1"), text, body)
        response = gateway.handle(request)
        assert response.status in (400, 401, 403, 404), response.body

    hostile()
