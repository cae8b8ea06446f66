"""Fuzzing the ECS API with requests generated from botocore's own ECS model.

Hypothesis builds requests for every ECS operation Nozama implements straight
from the input shapes in botocore's service model: valid requests, requests
that break the model's constraints (enum values, ranges, lengths, required
members) and, over raw HTTP, requests that break the wire format itself
(wrong JSON types, junk members, non-JSON bytes, huge strings, deep nesting).

Properties checked for every request:

- the server never answers 5xx;
- every error is a 4xx with a JSON body holding `__type` and a message, and
  every response carries an `x-amzn-RequestId` header;
- fuzzing never corrupts state: a baseline (a cluster with tags and a
  container instance with attributes, a task definition family with two
  revisions, tags on all of them) created before the run reads back exactly
  the same afterwards. Generated names never name the baseline (every
  generated string is filtered against BASE_MARK), so any change is a bug.

Deterministic companions: wire-level bodies known to be hard on a JSON
parser (test_nasty_bodies), requests the fuzzer found troublesome
(test_edge_requests), and one invalid request per write operation with a check
that List/Describe results are identical before and after
(test_invalid_request_changes_nothing).

Budget: about a minute per store backend on a 2-core machine with the full example
counts (HYPOTHESIS_PROFILE=full); a fraction of that in the default quick profile.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field

import boto3
import botocore.config
import botocore.session
import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from support.ecs_requests import (
    BASE_CLUSTER,
    BASE_FAMILY,
    INSTANCE_REF,
    MODEL,
    REGION,
    ecs_arn,
    botocore_requests,
    json_scalars,
    json_values,
    requests_by_operation,
)
from support.fuzzing import examples
from support.servers import signed_headers

# Fuzzing writes to and reads back from the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
ACCOUNT = "000000000000"

READ_ONLY = {"DescribeClusters", "ListClusters", "DescribeTaskDefinition", "ListTaskDefinitions",
             "ListTaskDefinitionFamilies", "DescribeContainerInstances", "ListContainerInstances",
             "ListAttributes", "ListTagsForResource"}

BOTOCORE_EXAMPLES = examples(250)
RAW_EXAMPLES = examples(350)


# ------------------------------------------------------------ raw HTTP bodies

def to_json(value):
    """A generated value as the JSON protocol carries it."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _paths(doc, path=()):
    yield path
    if isinstance(doc, dict):
        for key, item in doc.items():
            yield from _paths(item, path + (key,))
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            yield from _paths(item, path + (index,))


def _replace(doc, path, new):
    if not path:
        return new
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return doc


def _delete(doc, path):
    if not path:
        return doc
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return doc


_PLACEHOLDER = "\x01PLACEHOLDER\x01"


def _splice(doc, path, raw: bytes) -> bytes:
    """The JSON text of `doc` with the node at `path` replaced by raw bytes."""
    text = json.dumps(_replace(doc, path, _PLACEHOLDER)).encode()
    return text.replace(json.dumps(_PLACEHOLDER).encode(), raw, 1)


SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\ud83d"])


@dataclass
class RawRequest:
    operation: str
    body: bytes
    target: str
    content_type: str | None = "application/x-amz-json-1.1"
    mutation: str = "none"

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 400 else \
            self.body[:160] + b"...<%d bytes>..." % len(self.body) + self.body[-60:]
        return (f"RawRequest(operation={self.operation!r}, mutation={self.mutation!r}, "
                f"target={self.target!r}, content_type={self.content_type!r}, body={body!r})")


@st.composite
def raw_requests(draw):
    op, params = draw(requests_by_operation)
    doc = to_json(params)
    target = f"{TARGET_PREFIX}.{op}"
    mutation = draw(st.sampled_from([
        "none", "wrong-type", "wrong-type", "drop-member", "junk-members", "huge-string",
        "deep-nesting", "surrogate", "big-number", "not-json", "truncated", "bad-utf8",
        "not-an-object", "empty", "nan", "headers"]))
    content_type = "application/x-amz-json-1.1"
    paths = list(_paths(doc))
    nonroot = paths[1:] or [()]
    body = None
    if mutation == "wrong-type":
        doc = _replace(doc, draw(st.sampled_from(paths)), draw(json_values))
    elif mutation == "drop-member":
        doc = _delete(doc, draw(st.sampled_from(nonroot)))
    elif mutation == "junk-members":
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
            node = doc
            for step in path:
                node = node[step]
            if isinstance(node, dict):
                node.update(draw(st.dictionaries(st.text(max_size=10), json_values,
                                                 min_size=1, max_size=3)))
    elif mutation == "huge-string":
        size = draw(st.sampled_from([70_000, 150_000, 300_000, 400_000]))
        huge = draw(st.sampled_from(["A", "é", "\x00", "-"])) * size
        if len(paths) > 1 and draw(st.booleans()):
            doc = _replace(doc, draw(st.sampled_from(nonroot)), huge)
        else:
            member = draw(st.sampled_from(sorted(MODEL.operation_model(op).input_shape.members)))
            doc = {**doc, member: huge}
    elif mutation == "deep-nesting":
        depth = draw(st.sampled_from([50, 500, 990, 1_000, 3_000, 100_000]))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        body = _splice(doc, draw(st.sampled_from(paths)), opener * depth + b"1" + closer * depth)
    elif mutation == "surrogate":
        where = [p for p in paths if p] or [()]
        doc = _replace(doc, draw(st.sampled_from(where)), draw(SURROGATES))
        body = json.dumps(doc, ensure_ascii=True).encode()
    elif mutation == "big-number":
        number = draw(st.sampled_from([b"1" * 5000, b"1e400", b"-1e400", b"1e-400", b"1.0",
                                       b"99999999999999999999999999", b"-0"]))
        body = _splice(doc, draw(st.sampled_from(paths)), number)
    elif mutation == "not-json":
        body = draw(st.one_of(st.binary(max_size=200), st.text(max_size=50).map(str.encode),
                              st.sampled_from([b"{", b"}", b"{'a': 1}", b'{"a":}', b"\x00",
                                               b'{"cluster": "a",}', b"<xml/>"])))
    elif mutation == "truncated":
        text = json.dumps(doc).encode()
        body = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    elif mutation == "bad-utf8":
        text = json.dumps(doc).encode()
        at = draw(st.integers(0, len(text)))
        body = text[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80",
                                                 b"\xf8\x88\x80\x80\x80"])) + text[at:]
    elif mutation == "not-an-object":
        body = json.dumps(draw(st.one_of(json_scalars, st.lists(json_values, max_size=3)))).encode()
    elif mutation == "empty":
        body = draw(st.sampled_from([b"", b" ", b"\n", b"{}"]))
    elif mutation == "nan":
        body = _splice(doc, draw(st.sampled_from(paths)),
                       draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"])))
    elif mutation == "headers":
        target = draw(st.one_of(
            # Header values are visible ASCII; anything else is refused by HTTP itself.
            st.builds("{}.{}".format, st.just(TARGET_PREFIX), st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).filter(
                lambda name: name not in MODEL.operation_names)),
            st.just(f"{TARGET_PREFIX}."), st.just(TARGET_PREFIX),
            st.just(f"AmazonEC2ContainerServiceV20141113X.{op}"),
            st.just(f"{TARGET_PREFIX.lower()}.{op}")))
        content_type = draw(st.sampled_from(["application/json", "text/plain", None,
                                             "application/x-amz-json-1.0"]))
    if body is None:
        body = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()
    return RawRequest(op, body, target, content_type, mutation)


# ------------------------------------------------------------ the properties

def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def strict_json(body: bytes):
    """Parse JSON as RFC 8259 has it: no NaN or Infinity literals."""
    return json.loads(body, parse_constant=_no_constants)


def check_response(status: int, headers, body: bytes, request) -> dict | None:
    """The wire-level properties every answer must have; returns the parsed body."""
    where = f"{request!r} -> HTTP {status} {body[:500]!r}"
    assert status < 500, f"server error: {where}"
    assert any(k.lower() == "x-amzn-requestid" and v for k, v in headers.items()), \
        f"no x-amzn-RequestId header: {where}"
    if status >= 400:
        try:
            document = strict_json(body)
        except ValueError:
            raise AssertionError(f"error body is not JSON: {where}") from None
        assert isinstance(document, dict), f"error body is not a JSON object: {where}"
        assert isinstance(document.get("__type"), str) and document["__type"], \
            f"error without __type: {where}"
        message = document.get("message", document.get("Message"))
        assert isinstance(message, str), f"error without a message: {where}"
        return document
    assert status == 200, f"unexpected status: {where}"
    try:
        document = strict_json(body)
    except ValueError as error:
        raise AssertionError(f"response is not valid JSON ({error}): {where}") from None
    assert isinstance(document, dict), f"response is not a JSON object: {where}"
    return document


@dataclass(repr=False)
class FuzzState:
    region: str
    instance_arns: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"FuzzState({self.region!r}, {len(self.instance_arns)} instances)"

    def resolve(self, value):
        """Fill in the placeholders of a generated request for this test's region."""
        if isinstance(value, dict):
            return {self.resolve(k): self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):
            return INSTANCE_REF.sub(self._instance, value.replace(REGION, self.region))
        return value

    def _instance(self, match: re.Match) -> str:
        if not self.instance_arns:
            arn = ecs_arn(f"container-instance/fz-a/{uuid.UUID(int=1).hex}").replace(
                REGION, self.region)
        else:
            arn = self.instance_arns[int(match.group(2)) % len(self.instance_arns)]
        return arn if match.group(1) == "ARN" else arn.rsplit("/", 1)[-1]

    def learn(self, operation: str, document: dict | None) -> None:
        """Remember container instances the fuzzer registered, to refer to them later."""
        if operation == "RegisterContainerInstance" and document:
            arn = (document.get("containerInstance") or {}).get("containerInstanceArn")
            if arn and arn not in self.instance_arns:
                self.instance_arns.append(arn)


# ------------------------------------------------------------------ baseline

def _strip(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _all_pages(client, operation: str, key: str, **params) -> list:
    return [item for page in client.get_paginator(operation).paginate(**params)
            for item in page[key]]


@dataclass
class Baseline:
    cluster_arn: str
    task_definition_arns: list[str]
    instance_arn: str
    state: dict = field(default_factory=dict, repr=False)  # its snapshot when created


def create_baseline(ecs) -> Baseline:
    cluster = ecs.create_cluster(
        clusterName=BASE_CLUSTER, settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=[{"key": "team", "value": "platform"}, {"key": "env", "value": "prod"}])["cluster"]
    arns = []
    for revision, image in enumerate(["nginx:1.25", "nginx:1.27"], 1):
        td = ecs.register_task_definition(
            family=BASE_FAMILY, networkMode="bridge",
            containerDefinitions=[
                {"name": "web", "image": image, "memory": 256, "cpu": 128,
                 "portMappings": [{"containerPort": 80}],
                 "environment": [{"name": "REVISION", "value": str(revision)}]},
                {"name": "sidecar", "image": "busybox", "memoryReservation": 32,
                 "essential": False}],
            tags=[{"key": "revision", "value": str(revision)}])["taskDefinition"]
        assert td["revision"] == revision
        arns.append(td["taskDefinitionArn"])
    ecs.tag_resource(resourceArn=arns[0], tags=[{"key": "extra", "value": "yes"}])
    instance = ecs.register_container_instance(
        cluster=BASE_CLUSTER,
        instanceIdentityDocument=json.dumps({"instanceId": "i-nzbase0001",
                                             "availabilityZone":
                                                 f"{ecs.meta.region_name}a",
                                             "instanceType": "m5.large"}),
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}],
        attributes=[{"name": "role", "value": "web"}, {"name": "tier"}],
        tags=[{"key": "host", "value": "one"}])["containerInstance"]
    ecs.put_attributes(cluster=BASE_CLUSTER, attributes=[
        {"name": "rack", "value": "r1", "targetId": instance["containerInstanceArn"]}])
    return Baseline(cluster["clusterArn"], arns, instance["containerInstanceArn"])


def snapshot(ecs, base: Baseline) -> dict:
    """Everything the baseline is, as List and Describe calls show it."""
    include = ["ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"]
    state = {
        "cluster": _strip(ecs.describe_clusters(clusters=[BASE_CLUSTER], include=include)),
        "cluster-by-arn": _strip(ecs.describe_clusters(clusters=[base.cluster_arn])),
        "cluster-listed": base.cluster_arn in _all_pages(ecs, "list_clusters", "clusterArns"),
        "latest": _strip(ecs.describe_task_definition(taskDefinition=BASE_FAMILY)),
        "families": _all_pages(ecs, "list_task_definition_families", "families",
                               familyPrefix=BASE_FAMILY, status="ALL"),
        "instances": _all_pages(ecs, "list_container_instances", "containerInstanceArns",
                                cluster=BASE_CLUSTER),
        "instance": _strip(ecs.describe_container_instances(
            cluster=BASE_CLUSTER, containerInstances=[base.instance_arn], include=["TAGS"])),
        "attributes": _all_pages(ecs, "list_attributes", "attributes", cluster=BASE_CLUSTER,
                                 targetType="container-instance"),
    }
    for status in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        state[f"revisions-{status}"] = _all_pages(
            ecs, "list_task_definitions", "taskDefinitionArns", familyPrefix=BASE_FAMILY,
            status=status)
    for arn in base.task_definition_arns:
        state[arn] = _strip(ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]))
    for arn in (base.cluster_arn, *base.task_definition_arns, base.instance_arn):
        state[f"tags {arn}"] = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
    return state


def assert_same(before: dict, after: dict, what: str) -> None:
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert not changed, (f"{what} changed the baseline: " + "; ".join(
        f"{k}: {before[k]!r} -> {after.get(k)!r}" for k in changed))


def validating_off_client(server, region: str):
    return boto3.client(
        "ecs", endpoint_url=server.endpoint, region_name=region,
        aws_access_key_id=server.credentials[0],
        aws_secret_access_key=server.credentials[1],
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1},
                                      read_timeout=60))


@pytest.fixture
def fuzz_client(server, region):
    return validating_off_client(server, region)


@pytest.fixture
def fuzz_state(region):
    """Lives for one test, across all its Hypothesis examples."""
    return FuzzState(region)


@pytest.fixture
def baseline(ecs) -> Baseline:
    base = create_baseline(ecs)
    base.state = snapshot(ecs, base)
    return base


_session = requests.Session()


def _resolve_bytes(state: FuzzState, body: bytes) -> bytes:
    # Placeholders are plain ASCII, so they survive any mutation byte-for-byte.
    text = body.replace(REGION.encode(), state.region.encode())
    return re.sub(rb"@CI(?:ARN|ID)\d+@",
                  lambda m: state.resolve(m.group(0).decode()).encode(), text)


def _raw_headers(server, region: str, request: RawRequest, body: bytes) -> dict:
    """The raw request's headers, signed with the server's key as botocore signs: the
    fuzzing is of the body, past the signature check."""
    headers = {"X-Amz-Target": request.target}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    return signed_headers(server, "POST", server.endpoint + "/", "ecs", region, body, headers)


# --------------------------------------------------------------------- tests

FUZZ_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow,
                                                           HealthCheck.data_too_large])


@settings(max_examples=BOTOCORE_EXAMPLES, **FUZZ_SETTINGS)
@given(call=botocore_requests())
def test_fuzz_through_botocore(ecs, fuzz_client, baseline, fuzz_state, call):
    """Requests serialized by botocore (validation off): no 5xx, well-formed errors."""
    base, before = baseline, baseline.state
    state = fuzz_state
    op, params = call
    params = state.resolve(params)
    note(f"{op} {params!r}")
    seen = []

    def capture(http_response, **_):
        seen.append(http_response)

    fuzz_client.meta.events.register(f"after-call.ecs.{op}", capture)
    try:
        method = getattr(fuzz_client, botocore.xform_name(op))
        try:
            parsed = method(**params)
        except ClientError as error:
            parsed = None
            assert error.response["Error"].get("Code"), error.response
        assert len(seen) == 1
        http = seen[0]
        document = check_response(http.status_code, dict(http.headers), http.content,
                                  (op, params))
        if parsed is not None:
            state.learn(op, document)
    finally:
        fuzz_client.meta.events.unregister(f"after-call.ecs.{op}", capture)
    if op not in READ_ONLY:
        assert_same(before, snapshot(ecs, base), f"{op} {params!r}")


@settings(max_examples=RAW_EXAMPLES, **FUZZ_SETTINGS)
@given(request=raw_requests())
def test_fuzz_raw_http(server, region, ecs, baseline, fuzz_state, request):
    """Raw JSON bodies, mutated beyond what botocore would send: no 5xx, well-formed errors."""
    base, before = baseline, baseline.state
    state = fuzz_state
    body = _resolve_bytes(state, request.body)
    note(repr(request))
    response = _session.post(server.endpoint + "/", data=body,
                             headers=_raw_headers(server, region, request, body),
                             timeout=60)
    document = check_response(response.status_code, response.headers, response.content,
                              request)
    state.learn(request.operation, document)
    if request.operation not in READ_ONLY:
        assert_same(before, snapshot(ecs, base), repr(request))


# Wire-level inputs known to be hard on a JSON parser, sent deterministically.
NASTY_BODIES = {
    "deep-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-object-member": b'{"clusters":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "deep-object": b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    "lone-surrogate": b'{"clusters":["\\ud800"]}',
    "lone-surrogate-key": b'{"\\udfff":1}',
    "nul": b'{"clusters":["a\\u0000b"]}',
    "huge-int": b'{"maxResults":' + b"9" * 5000 + b"}",
    "nan": b'{"maxResults":NaN}',
    "bad-utf8": b'{"clusters":["\xff\xfe"]}',
    "utf16": '{"clusters":["x"]}'.encode("utf-16"),
    "bom": b'\xef\xbb\xbf{"clusters":["x"]}',
    "huge-string": b'{"clusters":["' + b"A" * 400_000 + b'"]}',
    "many-members": b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(50_000)) + b"}",
    "duplicate-keys": b'{"clusters":["a"],"clusters":{"x":1}}',
    "trailing-garbage": b'{"clusters":["a"]} xyz',
    "binary": bytes(range(256)),
}


# Requests the fuzzer has found to be hard on the server, sent deterministically
# through botocore; each runs with a cluster "fz-a" in place.
_NUL_INSTANCE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/fz-a/\x00"
EDGE_CALLS = {
    "revision-beyond-int32": ("DescribeTaskDefinition", {"taskDefinition": "fz-a:2147483648"}),
    "revision-beyond-int64": ("DescribeTaskDefinition",
                              {"taskDefinition": "fz-a:99999999999999999999"}),
    "deregister-revision-beyond-int64": ("DeregisterTaskDefinition",
                                         {"taskDefinition": "fz-a:9223372036854775808"}),
    "delete-revision-beyond-int64": ("DeleteTaskDefinitions",
                                     {"taskDefinitions": ["fz-a:99999999999999999999"]}),
    "cluster-setting-without-name": ("UpdateClusterSettings",
                                     {"cluster": "fz-a", "settings": [{"value": "enabled"}]}),
    "update-cluster-setting-without-name": ("UpdateCluster", {
        "cluster": "fz-a", "settings": [{"value": "enabled"}]}),
    "resource-without-name": ("RegisterContainerInstance", {
        "cluster": "fz-a", "totalResources": [{"type": "INTEGER", "integerValue": 1}]}),
    "nan-resource": ("RegisterContainerInstance", {
        "cluster": "fz-a", "totalResources": [{"name": "X", "type": "DOUBLE",
                                               "doubleValue": float("nan")}]}),
    "infinite-resource": ("RegisterContainerInstance", {
        "cluster": "fz-a", "totalResources": [{"name": "X", "type": "DOUBLE",
                                               "doubleValue": float("inf")}]}),
    "nul-family-prefix": ("ListTaskDefinitions", {"familyPrefix": "fz\x00"}),
    "nul-family-prefix-families": ("ListTaskDefinitionFamilies", {"familyPrefix": "\x00"}),
    "nul-task-definition": ("DescribeTaskDefinition", {"taskDefinition": "fz-a\x00:1"}),
    "nul-delete-task-definition": ("DeleteTaskDefinitions", {"taskDefinitions": ["f\x00:1"]}),
    "nul-cluster-arn": ("DescribeClusters", {"clusters": [ecs_arn("cluster/fz\x00")]}),
    "nul-container-instance": ("DescribeContainerInstances",
                               {"cluster": "fz-a", "containerInstances": ["x\x00"]}),
    "nul-instance-id": ("RegisterContainerInstance", {
        "cluster": "fz-a", "instanceIdentityDocument": json.dumps({"instanceId": "i-\x00"})}),
    "nul-attribute-name": ("ListAttributes", {"cluster": "fz-a", "targetType":
                                              "container-instance", "attributeName": "a\x00"}),
    "nul-resource-arn": ("ListTagsForResource", {"resourceArn": _NUL_INSTANCE_ARN}),
    "nul-setting-value": ("CreateCluster", {"clusterName": "fz-b", "settings": [
        {"name": "containerInsights", "value": "enabled\x00"}]}),
}


@pytest.mark.parametrize("name", sorted(EDGE_CALLS))
def test_edge_requests(region, ecs, fuzz_client, name):
    ecs.create_cluster(clusterName="fz-a")
    op, params = EDGE_CALLS[name]
    params = FuzzState(region).resolve(params)
    seen = []
    fuzz_client.meta.events.register(f"after-call.ecs.{op}",
                                     lambda http_response, **_: seen.append(http_response))
    try:
        getattr(fuzz_client, botocore.xform_name(op))(**params)
    except ClientError:
        pass
    [http] = seen
    check_response(http.status_code, dict(http.headers), http.content, (op, params))


@pytest.mark.parametrize("name", sorted(NASTY_BODIES))
def test_nasty_bodies(server, region, name):
    for op in ("DescribeClusters", "CreateCluster", "ListTaskDefinitions"):
        request = RawRequest(op, NASTY_BODIES[name], f"{TARGET_PREFIX}.{op}", mutation=name)
        response = _session.post(server.endpoint + "/", data=request.body,
                                 headers=_raw_headers(server, region, request,
                                                      request.body), timeout=60)
        check_response(response.status_code, response.headers, response.content, request)


# ----------------------------------------------- invalid requests change nothing

def world(ecs, base: Baseline) -> dict:
    """All the region holds, as List and Describe show it."""
    state = {"baseline": snapshot(ecs, base)}
    clusters = sorted(_all_pages(ecs, "list_clusters", "clusterArns"))
    state["clusters"] = clusters
    if clusters:
        state["cluster docs"] = _strip(ecs.describe_clusters(
            clusters=clusters, include=["ATTACHMENTS", "CONFIGURATIONS", "SETTINGS",
                                        "STATISTICS", "TAGS"]))
    state["families"] = _all_pages(ecs, "list_task_definition_families", "families",
                                   status="ALL")
    for status in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        state[f"task definitions {status}"] = _all_pages(
            ecs, "list_task_definitions", "taskDefinitionArns", status=status)
    for arn in clusters:
        instances = []
        for status in ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING",
                       "REGISTRATION_FAILED"):
            instances += _all_pages(ecs, "list_container_instances", "containerInstanceArns",
                                    cluster=arn, status=status)
        state[f"instances {arn}"] = sorted(instances)
        if instances:
            state[f"instance docs {arn}"] = _strip(ecs.describe_container_instances(
                cluster=arn, containerInstances=instances, include=["TAGS"]))
        state[f"attributes {arn}"] = _all_pages(ecs, "list_attributes", "attributes",
                                                cluster=arn, targetType="container-instance")
    return state


def _container(name: str, **extra) -> dict:
    return {"name": name, "image": "nginx", "memory": 64, **extra}


_MISSING_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/fz-missing"
_CI = "@BASE_INSTANCE@"
_BAD_PARAM = {"InvalidParameterException", "ClientException"}

# (operation, parameters, error codes ECS answers with). "@BASE_INSTANCE@"
# stands for the baseline container instance's ARN.
INVALID_REQUESTS = {
    "create-cluster-300-char-name": ("CreateCluster", {"clusterName": "c" * 300},
                                     {"InvalidParameterException"}),
    "create-cluster-bad-chars": ("CreateCluster", {"clusterName": "bad name!"},
                                 {"InvalidParameterException"}),
    "create-cluster-bad-setting": ("CreateCluster", {"clusterName": "fz-new", "settings": [
        {"name": "containerInsights", "value": "bogus"}]}, _BAD_PARAM),
    "create-cluster-51-tags": ("CreateCluster", {"clusterName": "fz-new", "tags": [
        {"key": f"k{i}", "value": "v"} for i in range(51)]}, _BAD_PARAM),
    "create-cluster-aws-tag": ("CreateCluster", {"clusterName": "fz-new", "tags": [
        {"key": "aws:reserved", "value": "v"}]}, _BAD_PARAM),
    "create-baseline-cluster-aws-tag": ("CreateCluster", {"clusterName": BASE_CLUSTER, "tags": [
        {"key": "new", "value": "v"}, {"key": "aws:reserved", "value": "v"}]}, _BAD_PARAM),
    "update-cluster-bad-setting-value": ("UpdateCluster", {"cluster": BASE_CLUSTER, "settings": [
        {"name": "containerInsights", "value": "bogus"}]}, _BAD_PARAM),
    "update-cluster-bad-setting-name": ("UpdateCluster", {"cluster": BASE_CLUSTER, "settings": [
        {"name": "notASetting", "value": "enabled"}]}, _BAD_PARAM),
    "update-cluster-missing": ("UpdateCluster", {"cluster": "fz-missing", "settings": [
        {"name": "containerInsights", "value": "disabled"}]}, {"ClusterNotFoundException"}),
    "update-cluster-settings-bad-value": ("UpdateClusterSettings", {
        "cluster": BASE_CLUSTER, "settings": [{"name": "containerInsights", "value": "on"}]},
        _BAD_PARAM),
    "delete-cluster-missing": ("DeleteCluster", {"cluster": _MISSING_ARN},
                               {"ClusterNotFoundException"}),
    "delete-cluster-with-instances": ("DeleteCluster", {"cluster": BASE_CLUSTER},
                                      {"ClusterContainsContainerInstancesException"}),
    "register-11-containers": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "containerDefinitions": [_container(f"c{i}") for i in range(11)]},
        {"ClientException"}),
    "register-duplicate-names": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "containerDefinitions": [_container("web"), _container("web")]},
        {"ClientException"}),
    "register-no-essential": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "containerDefinitions": [_container("a", essential=False),
                                                        _container("b", essential=False)]},
        {"ClientException"}),
    "register-no-containers": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "containerDefinitions": []}, {"ClientException"}),
    "register-bad-family": ("RegisterTaskDefinition", {
        "family": "bad family!", "containerDefinitions": [_container("web")]},
        {"ClientException"}),
    "register-no-memory": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "containerDefinitions": [{"name": "web", "image": "nginx"}]},
        {"ClientException"}),
    "register-bad-network-mode": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "networkMode": "bogus",
        "containerDefinitions": [_container("web")]}, _BAD_PARAM),
    "register-aws-tag": ("RegisterTaskDefinition", {
        "family": BASE_FAMILY, "containerDefinitions": [_container("web")],
        "tags": [{"key": "aws:x", "value": "v"}]}, _BAD_PARAM),
    "deregister-no-revision": ("DeregisterTaskDefinition", {"taskDefinition": BASE_FAMILY},
                               {"ClientException", "InvalidParameterException"}),
    "deregister-missing-revision": ("DeregisterTaskDefinition",
                                    {"taskDefinition": f"{BASE_FAMILY}:99"}, {"ClientException"}),
    "deregister-bad-revision": ("DeregisterTaskDefinition",
                                {"taskDefinition": f"{BASE_FAMILY}:abc"}, {"ClientException"}),
    "delete-task-definitions-11": ("DeleteTaskDefinitions", {
        "taskDefinitions": [f"{BASE_FAMILY}:{i}" for i in range(1, 12)]}, _BAD_PARAM),
    "delete-task-definitions-none": ("DeleteTaskDefinitions", {"taskDefinitions": []},
                                     _BAD_PARAM),
    "register-instance-bad-identity": ("RegisterContainerInstance", {
        "cluster": BASE_CLUSTER, "instanceIdentityDocument": "{not json"}, _BAD_PARAM),
    "register-instance-duplicate-resources": ("RegisterContainerInstance", {
        "cluster": BASE_CLUSTER, "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 1},
            {"name": "CPU", "type": "INTEGER", "integerValue": 2}]}, _BAD_PARAM),
    "register-instance-bad-attribute": ("RegisterContainerInstance", {
        "cluster": BASE_CLUSTER, "attributes": [{"name": "bad name!", "value": "v"}]},
        _BAD_PARAM),
    "register-instance-11-attributes-default-cluster": ("RegisterContainerInstance", {
        "attributes": [{"name": f"a{i}", "value": "v"} for i in range(11)]},
        {"AttributeLimitExceededException", "InvalidParameterException", "ClientException"}),
    # Re-registering the baseline instance with too many attributes must roll
    # back everything, its new resources included.
    "reregister-instance-over-attribute-limit": ("RegisterContainerInstance", {
        "cluster": BASE_CLUSTER, "containerInstanceArn": _CI,
        "totalResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 1}],
        "attributes": [{"name": f"a{i}", "value": "v"} for i in range(8)]},
        {"AttributeLimitExceededException"}),
    "register-instance-aws-tag": ("RegisterContainerInstance", {
        "cluster": BASE_CLUSTER, "tags": [{"key": "aws:x", "value": "v"}]}, _BAD_PARAM),
    "register-instance-unknown-arn": ("RegisterContainerInstance", {
        "cluster": BASE_CLUSTER,
        "containerInstanceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/"
                                f"{BASE_CLUSTER}/{uuid.UUID(int=3).hex}"}, _BAD_PARAM),
    "deregister-instance-unknown": ("DeregisterContainerInstance", {
        "cluster": BASE_CLUSTER, "containerInstance": uuid.UUID(int=4).hex}, _BAD_PARAM),
    "deregister-instance-missing-cluster": ("DeregisterContainerInstance", {
        "cluster": "fz-missing", "containerInstance": _CI}, {"ClusterNotFoundException"}),
    "update-instance-state-inactive": ("UpdateContainerInstancesState", {
        "cluster": BASE_CLUSTER, "containerInstances": [_CI], "status": "REGISTERING"},
        _BAD_PARAM),
    "update-instance-state-bogus": ("UpdateContainerInstancesState", {
        "cluster": BASE_CLUSTER, "containerInstances": [_CI], "status": "bogus"}, _BAD_PARAM),
    "update-instance-state-11": ("UpdateContainerInstancesState", {
        "cluster": BASE_CLUSTER, "containerInstances": [_CI] * 11, "status": "DRAINING"},
        _BAD_PARAM),
    "put-attributes-bad-name": ("PutAttributes", {"cluster": BASE_CLUSTER, "attributes": [
        {"name": "good", "value": "v", "targetId": _CI},
        {"name": "bad name!", "value": "v", "targetId": _CI}]}, _BAD_PARAM),
    "put-attributes-11": ("PutAttributes", {"cluster": BASE_CLUSTER, "attributes": [
        {"name": f"a{i}", "targetId": _CI} for i in range(11)]},
        {"AttributeLimitExceededException"}),
    "put-attributes-over-limit": ("PutAttributes", {"cluster": BASE_CLUSTER, "attributes": [
        {"name": f"a{i}", "targetId": _CI} for i in range(8)]},
        {"AttributeLimitExceededException"}),
    "put-attributes-unknown-target": ("PutAttributes", {"cluster": BASE_CLUSTER, "attributes": [
        {"name": "good", "value": "v", "targetId": _CI},
        {"name": "other", "value": "v", "targetId": uuid.UUID(int=5).hex}]},
        {"TargetNotFoundException"}),
    "put-attributes-missing-cluster": ("PutAttributes", {"cluster": "fz-missing", "attributes": [
        {"name": "good", "targetId": _CI}]}, {"ClusterNotFoundException"}),
    "delete-attributes-unknown-target": ("DeleteAttributes", {
        "cluster": BASE_CLUSTER, "attributes": [
            {"name": "role", "targetId": _CI},
            {"name": "role", "targetId": uuid.UUID(int=6).hex}]}, {"TargetNotFoundException"}),
    "tag-aws-key": ("TagResource", {"resourceArn": "@BASE_CLUSTER_ARN@", "tags": [
        {"key": "fine", "value": "v"}, {"key": "aws:x", "value": "v"}]}, _BAD_PARAM),
    "tag-over-50": ("TagResource", {"resourceArn": "@BASE_CLUSTER_ARN@", "tags": [
        {"key": f"k{i}", "value": "v"} for i in range(49)]}, _BAD_PARAM),
    "tag-missing-resource": ("TagResource", {"resourceArn": _MISSING_ARN, "tags": [
        {"key": "k", "value": "v"}]}, {"ResourceNotFoundException", "InvalidParameterException",
                                       "ClusterNotFoundException"}),
    "tag-malformed-arn": ("TagResource", {"resourceArn": "not-an-arn", "tags": [
        {"key": "k", "value": "v"}]}, _BAD_PARAM),
    "untag-missing-resource": ("UntagResource", {"resourceArn": _MISSING_ARN, "tagKeys": ["team"]},
                               {"ResourceNotFoundException", "InvalidParameterException",
                                "ClusterNotFoundException"}),
    "untag-malformed-arn": ("UntagResource", {"resourceArn": "arn:aws:ecs", "tagKeys": ["team"]},
                            _BAD_PARAM),
}


@pytest.mark.parametrize("case", sorted(INVALID_REQUESTS))
def test_invalid_request_changes_nothing(server, region, ecs, case):
    base = create_baseline(ecs)
    op, params, codes = INVALID_REQUESTS[case]
    text = json.dumps(params).replace(REGION, region).replace(_CI, base.instance_arn) \
        .replace("@BASE_CLUSTER_ARN@", base.cluster_arn)
    params = json.loads(text)
    before = world(ecs, base)
    client = validating_off_client(server, region)
    with pytest.raises(ClientError) as raised:
        getattr(client, botocore.xform_name(op))(**params)
    error = raised.value.response
    assert 400 <= error["ResponseMetadata"]["HTTPStatusCode"] < 500, error
    assert error["Error"]["Code"] in codes, error
    assert error["Error"].get("Message"), error
    after = world(ecs, base)
    assert_same(before, after, f"invalid {op}")


def test_rejected_deletion_of_active_revisions_changes_nothing(ecs):
    """DeleteTaskDefinitions answers failures, not an error, for ACTIVE revisions."""
    base = create_baseline(ecs)
    before = world(ecs, base)
    response = ecs.delete_task_definitions(taskDefinitions=[f"{BASE_FAMILY}:1", f"{BASE_FAMILY}:2",
                                                            f"{BASE_FAMILY}:7"])
    assert response["taskDefinitions"] == []
    assert len(response["failures"]) == 3
    assert_same(before, world(ecs, base), "DeleteTaskDefinitions of ACTIVE revisions")
