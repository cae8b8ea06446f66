"""No request from a web page: what a browser can send cross-site is refused, and runs nothing.

A page the developer opens can send Nozama a "simple" request (a form post, a text/plain
fetch) with no Authorization header; a browser marks what it sends cross-site
(Sec-Fetch-Site, Origin); a DNS-rebinding page reaches 127.0.0.1 under its own name.
Each rule is tried through the three protocols (JSON: ECS CreateCluster; query: ELBv2
CreateTargetGroup; REST-JSON: Lambda CreateFunction), and a properly signed client then
checks that nothing was created.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import uuid
import zipfile
from urllib.parse import urlencode

import pytest
import requests
from botocore.exceptions import ClientError

from support.errors import error_of
from support.networks import default_vpc
from support.roles import LAMBDA_ROLE, lambda_role
from support.servers import NozamaServer, store_args

ROLE = LAMBDA_ROLE
# Requests refused before they run: the VPC is never looked up.
VPC = "vpc-12345678"
# Unsigned requests carry no credential scope, so they would land in the default region.
DEFAULT_REGION = "us-east-1"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with --auth off, the local emulator's mode, which accepts any credentials:
    these rules are then all that stands between a web page and the machine. (With auth
    on, the same rules apply before the signature is checked.)"""
    tmp = tmp_path_factory.mktemp("auth-off")
    instance = NozamaServer([*store_args("sqlite", tmp), "--auth", "off"],
                            tmp / "server.log").start()
    yield instance
    instance.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # What the attack in the issue ran: the page's code, as root on the host.
        archive.writestr("app.py", "import os\ndef handler(e, c):\n    return os.getuid()\n")
    return buffer.getvalue()


def cluster_names(server, region: str) -> set[str]:
    ecs = server.client("ecs", region)
    arns = ecs.list_clusters()["clusterArns"]
    return {arn.rsplit("/", 1)[1] for arn in arns}


def target_group_names(server, region: str) -> set[str]:
    groups = server.client("elbv2", region).describe_target_groups()["TargetGroups"]
    return {group["TargetGroupName"] for group in groups}


def function_names(server, region: str) -> set[str]:
    functions = server.client("lambda", region).list_functions()["Functions"]
    return {function["FunctionName"] for function in functions}


# --- unsigned requests -----------------------------------------------------------------

def test_the_attack_from_the_issue_a_text_plain_create_function_is_refused(server):
    name = unique("page")
    body = json.dumps({"FunctionName": name, "Runtime": "python3.11", "Role": ROLE,
                       "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(package()).decode()}})
    # Exactly what a cross-site fetch() sends without a preflight: text/plain, no
    # Authorization, and the browser's Origin.
    answer = requests.post(f"{server.endpoint}/2015-03-31/functions", data=body, timeout=10,
                           headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert answer.status_code == 403
    # REST-JSON: the code in the x-amzn-errortype header, the message in the body.
    assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationToken"
    assert answer.json()["message"] == "Missing Authentication Token"
    assert name not in function_names(server, DEFAULT_REGION)
    # Invoking it (the second half of the attack) is refused as well.
    invoke = requests.post(f"{server.endpoint}/2015-03-31/functions/{name}/invocations",
                           data="{}", headers={"Content-Type": "text/plain"}, timeout=10)
    assert invoke.status_code == 403
    assert invoke.headers["x-amzn-errortype"] == "MissingAuthenticationToken"


def test_an_unsigned_json_request_is_refused_in_json(server):
    name = unique("page")
    answer = requests.post(server.endpoint, data=json.dumps({"clusterName": name}), timeout=10,
                           headers={"X-Amz-Target": f"{ECS_TARGET}.CreateCluster",
                                    "Content-Type": "application/x-amz-json-1.1"})
    assert answer.status_code == 403
    assert answer.json() == {"__type": "MissingAuthenticationToken",
                             "message": "Missing Authentication Token"}
    assert name not in cluster_names(server, DEFAULT_REGION)


def test_an_unsigned_query_form_post_is_refused_in_query_xml(server):
    name = unique("page")[:32]
    form = {"Action": "CreateTargetGroup", "Version": "2015-12-01", "Name": name,
            "Protocol": "HTTP", "Port": "80", "VpcId": VPC}
    # An HTML form posts application/x-www-form-urlencoded with no other header.
    answer = requests.post(server.endpoint, data=urlencode(form), timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 403
    assert answer.text.startswith("<ErrorResponse")
    assert "<Code>MissingAuthenticationToken</Code>" in answer.text
    assert "<Message>Missing Authentication Token</Message>" in answer.text
    assert name not in target_group_names(server, DEFAULT_REGION)


def test_a_presigned_query_counts_as_signed(server, region):
    # A presigned URL carries its signature in the query: such a request is served.
    ecs = server.client("ecs", region)
    url = ecs.generate_presigned_url("list_clusters", Params={})
    assert "X-Amz-Signature=" in url
    answer = requests.post(url, data="{}", timeout=10,
                           headers={"X-Amz-Target": f"{ECS_TARGET}.ListClusters",
                                    "Content-Type": "application/x-amz-json-1.1"})
    assert answer.status_code == 200, answer.text
    # Without the signature, the credential in the query alone is not enough.
    unsigned = url.split("X-Amz-Signature=")[0].rstrip("&")
    refused = requests.post(unsigned, data="{}", timeout=10,
                            headers={"X-Amz-Target": f"{ECS_TARGET}.ListClusters",
                                     "Content-Type": "application/x-amz-json-1.1"})
    assert refused.status_code == 403
    assert refused.json()["__type"] == "MissingAuthenticationToken"


FORGED = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256",
          "X-Amz-Credential": f"AKIDPAGE/20260101/{DEFAULT_REGION}/elasticloadbalancing/aws4_request",
          "X-Amz-Date": "20260101T000000Z", "X-Amz-SignedHeaders": "host",
          "X-Amz-Signature": "0" * 64}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST"])
def test_a_forged_presigned_link_may_read_but_changes_nothing(server, method):
    # A page can write any "presigned" query into a link (<img src>, a form): until
    # signatures are verified it may read, never change state.
    name = unique("link")[:32]
    create = {"Action": "CreateTargetGroup", "Version": "2015-12-01", "Name": name,
              "Protocol": "HTTP", "Port": "80", "VpcId": VPC, **FORGED}
    answer = requests.request(method, f"{server.endpoint}/?{urlencode(create)}", timeout=10)
    assert answer.status_code == 403
    if method != "HEAD":
        assert "<Code>AccessDenied</Code>" in answer.text
        assert "presigned URL may only read" in answer.text
    assert name not in target_group_names(server, DEFAULT_REGION)
    # An empty signature is no signature at all.
    empty = {**create, "X-Amz-Signature": ""}
    refused = requests.request(method, f"{server.endpoint}/?{urlencode(empty)}", timeout=10)
    assert refused.status_code == 403 and name not in target_group_names(server, DEFAULT_REGION)
    read = {"Action": "DescribeTargetGroups", "Version": "2015-12-01", **FORGED}
    assert requests.get(f"{server.endpoint}/?{urlencode(read)}", timeout=10).status_code == 200


def test_a_presigned_rest_json_post_cannot_create_a_function(server):
    name = unique("fn")
    query = {**FORGED, "X-Amz-Credential":
             f"AKIDPAGE/20260101/{DEFAULT_REGION}/lambda/aws4_request"}
    body = {"FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
            "Role": "arn:aws:iam::000000000000:role/page",
            "Code": {"ZipFile": base64.b64encode(package()).decode()}}
    answer = requests.post(f"{server.endpoint}/2015-03-31/functions?{urlencode(query)}",
                           data=json.dumps(body), headers={"Content-Type": "text/plain"},
                           timeout=10)
    assert answer.status_code == 403 and answer.headers["x-amzn-errortype"].startswith(
        "AccessDenied")
    assert name not in function_names(server, DEFAULT_REGION)


def test_health_and_metrics_answer_without_a_signature(server):
    assert requests.get(f"{server.endpoint}/_nozama/health", timeout=10).json()["status"] == "ok"
    assert requests.get(f"{server.endpoint}/metrics", timeout=10).status_code == 200


def test_nozamas_own_state_changing_endpoints_want_the_client_header(server, region):
    ecs = server.client("ecs", region)
    register = f"{server.endpoint}/_nozama/agent/v1/register"
    body = json.dumps({"cluster": "default", "region": region})
    for content_type in ("text/plain", "application/json"):
        answer = requests.post(register, data=body, headers={"Content-Type": content_type},
                               timeout=10)
        assert answer.status_code == 403
        assert answer.json()["__type"] == "MissingAuthenticationToken"
        assert "X-Nozama-Client" in answer.json()["message"]
    with pytest.raises(ClientError) as info:
        ecs.list_container_instances(cluster="default")
    assert error_of(info)[0] == "ClusterNotFoundException"   # nothing registered
    deployments = f"{server.endpoint}/_nozama/v1/function-deployments?region={region}"
    answer = requests.post(deployments, data=json.dumps({"functionName": "f"}), timeout=10,
                           headers={"Content-Type": "text/plain"})
    assert answer.status_code == 403
    assert answer.json()["__type"] == "MissingAuthenticationToken"
    # Reading stays open; with the header, the call reaches the endpoint.
    assert requests.get(deployments, timeout=10).json() == {"deployments": []}
    answer = requests.post(deployments, data=b"{", timeout=10,
                           headers={"X-Nozama-Client": "test"})
    assert answer.json()["__type"] == "InvalidRequestContentException"


# --- what a browser marks as cross-site ------------------------------------------------

def with_headers(client, headers: dict):
    """The client, sending `headers` on top of its signed request (as a browser adds them)."""
    def add(request, values: dict):
        for name, value in values.items():
            request.headers[name] = value

    browser = {name: value for name, value in headers.items() if name != "Host"}
    client.meta.events.register("before-send", lambda request, **_: add(request, browser))
    if "Host" in headers:
        # The name the client calls the server by is part of what it signs.
        client.meta.events.register("before-sign", lambda request, **_: add(
            request, {"Host": headers["Host"]}))
    return client


def attempts(server, region: str, headers: dict):
    """(protocol, a call that would create something, check that it did not)."""
    lambda_role(server)
    ecs = with_headers(server.client("ecs", region), headers)
    elb = with_headers(server.client("elbv2", region), headers)
    lam = with_headers(server.client("lambda", region), headers)
    cluster, group, function = unique("c"), unique("tg")[:32], unique("f")
    return [
        ("json", lambda: ecs.create_cluster(clusterName=cluster),
         lambda: cluster not in cluster_names(server, region)),
        ("query", lambda: elb.create_target_group(Name=group, Protocol="HTTP", Port=80,
                                                  VpcId=default_vpc(region)),
         lambda: group not in target_group_names(server, region)),
        ("rest-json", lambda: lam.create_function(
            FunctionName=function, Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": package()}),
         lambda: function not in function_names(server, region)),
    ]


@pytest.mark.parametrize("headers, says", [
    ({"Sec-Fetch-Site": "cross-site"}, "cross-site"),
    ({"Sec-Fetch-Site": "same-site"}, "same-site"),
    ({"Origin": "https://evil.example"}, "origin 'https://evil.example'"),
    ({"Origin": "null"}, "origin 'null'"),
], ids=["cross-site", "same-site", "foreign-origin", "null-origin"])
def test_a_signed_request_a_browser_marks_cross_site_is_refused(server, region, headers, says):
    for protocol, create, nothing_created in attempts(server, region, headers):
        with pytest.raises(ClientError) as info:
            create()
        code, message = error_of(info)
        assert (protocol, code) == (protocol, "AccessDenied")
        assert says in message
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert nothing_created(), protocol


def test_the_endpoints_own_origin_and_same_origin_fetches_are_served(server, region):
    own = {"Origin": server.endpoint, "Sec-Fetch-Site": "same-origin"}
    for protocol, create, nothing_created in attempts(server, region, own):
        create()
        assert not nothing_created(), protocol


# --- DNS rebinding: the Host header --------------------------------------------------

def test_a_host_the_server_does_not_answer_to_is_refused(server, region):
    port = server.port
    for host in (f"rebind.evil.example:{port}", "rebind.evil.example", f"10.9.8.7:{port}"):
        for protocol, create, nothing_created in attempts(server, region, {"Host": host}):
            with pytest.raises(ClientError) as info:
                create()
            code, message = error_of(info)
            assert (protocol, code) == (protocol, "AccessDenied")
            assert "--allowed-host" in message
            assert nothing_created(), protocol
    # Nozama's own endpoints too: a rebinding page cannot read them either.
    answer = requests.get(f"{server.endpoint}/_nozama/health", timeout=10,
                          headers={"Host": f"rebind.evil.example:{port}"})
    assert answer.status_code == 403
    assert answer.json()["__type"] == "AccessDenied"


def test_loopback_names_are_served_when_bound_to_loopback(server, region):
    for host in (f"localhost:{server.port}", "localhost", f"127.0.0.1:{server.port}"):
        ecs = with_headers(server.client("ecs", region), {"Host": host})
        assert "clusterArns" in ecs.list_clusters()


def test_allowed_hosts_and_the_machines_names_when_bound_to_every_address(backend, tmp_path):
    own = NozamaServer([*store_args(backend, tmp_path), "--host", "0.0.0.0",
                        "--allowed-host", "nozama.test", "--allowed-host", "Other.Test:80"],
                       tmp_path / "server.log").start()
    try:
        region = "us-west-2"
        for host in ("nozama.test", f"nozama.test:{own.port}", "other.test",
                     socket.gethostname(), f"localhost:{own.port}", f"[::1]:{own.port}",
                     f"127.0.0.1:{own.port}"):
            ecs = with_headers(own.client("ecs", region), {"Host": host})
            assert "clusterArns" in ecs.list_clusters(), host
        refused = with_headers(own.client("ecs", region), {"Host": "evil.example"})
        with pytest.raises(ClientError) as info:
            refused.create_cluster(clusterName="rebound")
        assert error_of(info)[0] == "AccessDenied"
        assert "rebound" not in cluster_names(own, region)
    finally:
        own.stop()
