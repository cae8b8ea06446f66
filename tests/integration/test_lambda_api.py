"""The Lambda control plane through boto3: functions, code and configuration updates,
versions, weighted aliases, reserved concurrency, tags, and the errors of bad input.

Expectations follow the Lambda API reference and Lambda's own messages, not
Nozama's implementation. Failed requests are checked to change nothing. Nothing
here invokes a function: Invoke has tests of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys

from urllib.parse import parse_qsl, urlencode, urlsplit

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from nozama.functions import runtimes

from support.packages import zip_package
from support.errors import error_of
from support.roles import LAMBDA_ROLE, lambda_role

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
ROLE = LAMBDA_ROLE
HANDLER_SOURCE = "def handler(event, context):\n    return event\n"


# --- helpers -------------------------------------------------------------------

@pytest.fixture
def lam(server, region):
    lambda_role(server)
    return server.client("lambda", region)


def package(source: str = HANDLER_SOURCE) -> bytes:
    """A deployment package; the same source gives the same bytes."""
    return zip_package(app=source)


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def create(lam, name: str = "orders", **params) -> dict:
    params = {"Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
              "Code": {"ZipFile": package()}, **params}
    return lam.create_function(FunctionName=name, **params)


def arn(region: str, name: str, qualifier: str | None = None) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}" + (
        f":{qualifier}" if qualifier else "")


def version_numbers(lam, name: str = "orders") -> list[str]:
    return [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]


# --- functions -----------------------------------------------------------------

def test_create_function_answers_its_configuration(lam, region):
    code = package()
    created = create(lam, Description="takes orders", Timeout=10,
                     Environment={"Variables": {"STAGE": "test"}})
    assert created["FunctionName"] == "orders"
    assert created["FunctionArn"] == arn(region, "orders")
    assert (created["Runtime"], created["Handler"], created["Role"]) == (
        "python3.11", "app.handler", ROLE)
    assert created["CodeSize"] == len(code) and created["CodeSha256"] == sha256(code)
    assert (created["Version"], created["Timeout"], created["MemorySize"]) == ("$LATEST", 10, 128)
    assert created["Description"] == "takes orders"
    assert created["Environment"] == {"Variables": {"STAGE": "test"}}
    assert (created["State"], created["LastUpdateStatus"]) == ("Active", "Successful")
    assert created["PackageType"] == "Zip" and created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/orders"}
    assert created["RevisionId"] and created["LastModified"].endswith("+0000")

    # The SDK's waiters see an active function at once.
    lam.get_waiter("function_active_v2").wait(FunctionName="orders")
    without_metadata = {k: v for k, v in created.items() if k != "ResponseMetadata"}
    for reference in ("orders", arn(region, "orders"), f"{ACCOUNT}:function:orders"):
        found = lam.get_function_configuration(FunctionName=reference)
        assert {k: v for k, v in found.items() if k != "ResponseMetadata"} == without_metadata
    function = lam.get_function(FunctionName="orders")
    assert function["Configuration"]["RevisionId"] == created["RevisionId"]
    assert function["Code"]["RepositoryType"] == "S3"
    assert "Tags" not in function and "Concurrency" not in function
    # Qualified with $LATEST, the ARN says so.
    latest = lam.get_function_configuration(FunctionName="orders", Qualifier="$LATEST")
    assert latest["FunctionArn"] == arn(region, "orders", "$LATEST")


def test_code_location_downloads_each_versions_package(lam):
    first, second = package(), package("def handler(event, context):\n    return 2\n")
    create(lam, Code={"ZipFile": first}, Publish=True)
    lam.update_function_code(FunctionName="orders", ZipFile=second)

    code = lam.get_function(FunctionName="orders")["Code"]
    assert code["RepositoryType"] == "S3"
    downloaded = requests.get(code["Location"], timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == second
    assert downloaded.headers["content-type"] == "application/zip"
    old = lam.get_function(FunctionName="orders", Qualifier="1")["Code"]["Location"]
    assert requests.get(old, timeout=10).content == first

    # A changed expiry, a forged signature or none: refused as S3 refuses a bad URL.
    url = urlsplit(code["Location"])
    query = dict(parse_qsl(url.query))
    later = {**query, "Expires": str(int(query["Expires"]) + 3600)}
    forged = {**query, "Signature": "0" * 64}
    for bad in (later, forged, {}):
        refused = requests.get(url._replace(query=urlencode(bad)).geturl(), timeout=10)
        assert refused.status_code == 403 and b"<Code>AccessDenied</Code>" in refused.content


def test_bad_functions_are_refused_and_change_nothing(lam):
    original = create(lam)

    def refused(name: str = "other", **params) -> tuple[str, str]:
        with pytest.raises(ClientError) as info:
            create(lam, name, **params)
        return error_of(info)

    assert refused("orders", Code={"ZipFile": package("x = 1\n")}) == (
        "ResourceConflictException", "Function already exist: orders")
    assert refused(Code={"ZipFile": b"this is not a zip"}) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.")
    with pytest.raises(ClientError) as info:
        lam.create_function(FunctionName="other", Runtime="nodejs20.x", Role=ROLE,
                            Handler="index.handler", Code={"ZipFile": package()})
    assert error_of(info) == (
        "InvalidParameterValueException", "The runtime parameter of nodejs20.x is not supported "
        "by Nozama; it runs python3.11, python3.12 and python3.13.")
    with pytest.raises(ClientError) as info:
        lam.create_function(FunctionName="other", Role=ROLE, Code={"ZipFile": package()})
    assert error_of(info)[0] == "InvalidParameterValueException"
    assert refused(Code={"S3Bucket": "bucket", "S3Key": "orders.zip"})[0] == \
        "InvalidParameterValueException"
    assert refused(PackageType="Image", Code={"ImageUri": "repo/image:1"})[0] == \
        "InvalidParameterValueException"
    code, message = refused(Environment={"Variables": {"AWS_REGION": "elsewhere"}})
    assert code == "InvalidParameterValueException" and "AWS_REGION" in message
    assert refused(Environment={"Variables": {"BIG": "x" * 5000}})[0] == \
        "InvalidParameterValueException"
    assert refused(Timeout=901)[0] == "ValidationException"
    assert refused(MemorySize=20000)[0] == "ValidationException"
    assert refused(Layers=[f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:1"])[0] == \
        "InvalidParameterValueException"
    assert refused("orders:1")[0] in ("ValidationException",
                                                     "InvalidParameterValueException")

    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["orders"]
    assert lam.get_function_configuration(FunctionName="orders")["RevisionId"] == \
        original["RevisionId"]


def test_a_runtime_this_host_cannot_run_is_refused(own_server, monkeypatch, tmp_path):
    # A server whose PATH holds no interpreter runs its own Python's runtime only, so
    # any other supported runtime is one it cannot run, on whatever host the test runs.
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    own_server.start()
    lam = own_server.client("lambda", "zz-runtimes-1")
    own = f"python{sys.version_info.major}.{sys.version_info.minor}"
    missing = [r for r in runtimes.PYTHON_RUNTIMES if r != own]
    with pytest.raises(ClientError) as info:
        lam.create_function(FunctionName="orders", Runtime=missing[0], Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": package()})
    code, message = error_of(info)
    assert code == "InvalidParameterValueException" and "not installed" in message


def test_functions_not_found(lam, region):
    for call in (lambda: lam.get_function(FunctionName="ghost"),
                 lambda: lam.get_function_configuration(FunctionName="ghost"),
                 lambda: lam.delete_function(FunctionName="ghost"),
                 lambda: lam.update_function_code(FunctionName="ghost",
                                                  ZipFile=package()),
                 lambda: lam.publish_version(FunctionName="ghost")):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info) == ("ResourceNotFoundException",
                                  f"Function not found: {arn(region, 'ghost')}")
    create(lam)
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName="orders", Qualifier="7")
    assert error_of(info) == ("ResourceNotFoundException",
                              f"Function not found: {arn(region, 'orders', '7')}")


def test_update_code_and_configuration(lam):
    created = create(lam, Environment={"Variables": {"ONE": "1"}})
    new_code = package("def handler(event, context):\n    return 2\n")

    with pytest.raises(ClientError) as info:
        lam.update_function_code(FunctionName="orders", ZipFile=new_code,
                                 RevisionId="not-the-revision")
    assert error_of(info)[0] == "PreconditionFailedException"
    with pytest.raises(ClientError) as info:
        lam.update_function_code(FunctionName="orders", ZipFile=b"PK\x03\x04 broken")
    assert error_of(info)[0] == "InvalidParameterValueException"
    unchanged = lam.get_function_configuration(FunctionName="orders")
    assert unchanged["CodeSha256"] == created["CodeSha256"]
    assert unchanged["RevisionId"] == created["RevisionId"]

    updated = lam.update_function_code(FunctionName="orders", ZipFile=new_code,
                                       RevisionId=created["RevisionId"])
    assert updated["CodeSha256"] == sha256(new_code) and updated["CodeSize"] == len(new_code)
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["Version"] == "$LATEST"
    lam.get_waiter("function_updated_v2").wait(FunctionName="orders")

    configured = lam.update_function_configuration(
        FunctionName="orders", Timeout=30, MemorySize=256, Handler="app.other",
        Environment={"Variables": {"TWO": "2"}}, Description="new",
        LoggingConfig={"LogFormat": "JSON"}, RevisionId=updated["RevisionId"])
    assert (configured["Timeout"], configured["MemorySize"]) == (30, 256)
    assert configured["Handler"] == "app.other" and configured["Description"] == "new"
    assert configured["Environment"] == {"Variables": {"TWO": "2"}}
    assert configured["LoggingConfig"]["LogFormat"] == "JSON"
    assert configured["CodeSha256"] == sha256(new_code)
    assert configured["RevisionId"] not in (created["RevisionId"], updated["RevisionId"])

    with pytest.raises(ClientError) as info:
        lam.update_function_configuration(FunctionName="orders", Timeout=5,
                                          RevisionId=updated["RevisionId"])
    assert error_of(info)[0] == "PreconditionFailedException"
    with pytest.raises(ClientError) as info:
        lam.update_function_configuration(FunctionName="orders", Runtime="nodejs20.x")
    assert error_of(info)[0] == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName="orders")["Timeout"] == 30

    cleared = lam.update_function_configuration(FunctionName="orders",
                                                Environment={"Variables": {}})
    assert "Environment" not in cleared


def test_update_code_with_publish_answers_the_new_version(lam, region):
    create(lam)
    new_code = package("def handler(event, context):\n    return 3\n")
    published = lam.update_function_code(FunctionName="orders", ZipFile=new_code, Publish=True)
    assert published["Version"] == "1"
    assert published["FunctionArn"] == arn(region, "orders", "1")
    assert published["CodeSha256"] == sha256(new_code)
    assert version_numbers(lam) == ["$LATEST", "1"]


def test_create_with_publish_publishes_version_1(lam, region):
    created = create(lam, Publish=True)
    assert created["Version"] == "1"
    assert version_numbers(lam) == ["$LATEST", "1"]
    version = lam.get_function_configuration(FunctionName="orders", Qualifier="1")
    assert version["FunctionArn"] == arn(region, "orders", "1")
    assert version["CodeSha256"] == created["CodeSha256"]


# --- versions ------------------------------------------------------------------

def test_publish_version_checks_and_freezes_latest(lam, region):
    created = create(lam, Description="first")
    with pytest.raises(ClientError) as info:
        lam.publish_version(FunctionName="orders", CodeSha256=sha256(b"other code"))
    assert error_of(info) == (
        "InvalidParameterValueException",
        f"CodeSHA256 ({sha256(b'other code')}) is different from current CodeSHA256 in "
        f"$LATEST ({created['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.")
    with pytest.raises(ClientError) as info:
        lam.publish_version(FunctionName="orders", RevisionId="stale")
    assert error_of(info)[0] == "PreconditionFailedException"
    assert version_numbers(lam) == ["$LATEST"]

    one = lam.publish_version(FunctionName="orders", CodeSha256=created["CodeSha256"],
                              RevisionId=created["RevisionId"], Description="v1")
    assert one["Version"] == "1" and one["FunctionArn"] == arn(region, "orders", "1")
    assert one["Description"] == "v1" and one["CodeSha256"] == created["CodeSha256"]
    assert one["RevisionId"] != created["RevisionId"]
    # Nothing changed since version 1: publishing again answers version 1.
    again = lam.publish_version(FunctionName="orders")
    assert again["Version"] == "1" and again["RevisionId"] == one["RevisionId"]

    lam.update_function_configuration(FunctionName="orders", Timeout=20)
    two = lam.publish_version(FunctionName="orders")
    assert two["Version"] == "2" and two["Timeout"] == 20
    assert two["Description"] == "first"
    # Versions are frozen: $LATEST moves on, version 1 does not.
    lam.update_function_configuration(FunctionName="orders", Timeout=40)
    assert lam.get_function_configuration(FunctionName="orders", Qualifier="1")["Timeout"] == 3
    assert lam.get_function(FunctionName=arn(region, "orders", "2"))[
        "Configuration"]["Timeout"] == 20


def test_list_versions_by_function_pages(lam, region):
    create(lam)
    for timeout in (5, 6, 7):
        lam.update_function_configuration(FunctionName="orders", Timeout=timeout)
        lam.publish_version(FunctionName="orders")
    listed = lam.list_versions_by_function(FunctionName="orders")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2", "3"]
    assert listed[0]["FunctionArn"] == arn(region, "orders", "$LATEST")
    assert [v["Timeout"] for v in listed] == [7, 5, 6, 7]

    seen, marker = [], None
    while True:
        extra = {"Marker": marker} if marker else {}
        page = lam.list_versions_by_function(FunctionName="orders", MaxItems=1, **extra)
        assert len(page["Versions"]) == 1
        seen += [v["Version"] for v in page["Versions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == ["$LATEST", "1", "2", "3"]
    with pytest.raises(ClientError) as info:
        lam.list_versions_by_function(FunctionName="orders", Marker="garbage")
    assert error_of(info)[0] == "InvalidParameterValueException"


def test_delete_function_version(lam, region):
    create(lam, Publish=True)
    lam.update_function_configuration(FunctionName="orders", Timeout=9)
    lam.publish_version(FunctionName="orders")
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})

    for version in ("1", "2"):
        with pytest.raises(ClientError) as info:
            lam.delete_function(FunctionName="orders", Qualifier=version)
        assert error_of(info) == ("ResourceConflictException", "Unable to delete version "
                                  "because the following aliases reference it: [live]")
    with pytest.raises(ClientError) as info:
        lam.delete_function(FunctionName="orders", Qualifier="$LATEST")
    assert error_of(info) == ("InvalidParameterValueException", "$LATEST version cannot be "
                              "deleted without deleting the function.")
    assert version_numbers(lam) == ["$LATEST", "1", "2"]

    lam.update_alias(FunctionName="orders", Name="live", RoutingConfig={})
    lam.delete_function(FunctionName=arn(region, "orders", "2"))
    assert version_numbers(lam) == ["$LATEST", "1"]
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName="orders", Qualifier="2")
    assert error_of(info)[0] == "ResourceNotFoundException"
    # The next version does not reuse a deleted number.
    lam.update_function_configuration(FunctionName="orders", Timeout=11)
    assert lam.publish_version(FunctionName="orders")["Version"] == "3"


def test_delete_function_takes_versions_aliases_and_tags(lam, region):
    create(lam, Publish=True, Tags={"team": "shop"})
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=5)
    lam.delete_function(FunctionName="orders")

    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName="orders")
    assert error_of(info)[0] == "ResourceNotFoundException"
    assert lam.list_functions()["Functions"] == []
    with pytest.raises(ClientError) as info:
        lam.get_alias(FunctionName="orders", Name="live")
    assert error_of(info)[0] == "ResourceNotFoundException"

    # A function of the same name starts afresh.
    create(lam)
    assert version_numbers(lam) == ["$LATEST"]
    assert lam.list_aliases(FunctionName="orders")["Aliases"] == []
    assert lam.list_tags(Resource=arn(region, "orders"))["Tags"] == {}
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName="orders")


# --- aliases -------------------------------------------------------------------

def published(lam, count: int) -> None:
    create(lam)
    for timeout in range(1, count + 1):
        lam.update_function_configuration(FunctionName="orders", Timeout=timeout)
        lam.publish_version(FunctionName="orders")


def test_weighted_alias_lifecycle(lam, region):
    published(lam, 3)
    live = lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1",
                            Description="production",
                            RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    assert live["AliasArn"] == arn(region, "orders", "live")
    assert (live["Name"], live["FunctionVersion"], live["Description"]) == (
        "live", "1", "production")
    assert live["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    got = lam.get_alias(FunctionName="orders", Name="live")
    assert got["RevisionId"] == live["RevisionId"]
    assert got["RoutingConfig"] == live["RoutingConfig"]

    # The alias resolves to its version's configuration, under the alias's ARN.
    by_alias = lam.get_function_configuration(FunctionName="orders", Qualifier="live")
    assert by_alias["Version"] == "1" and by_alias["Timeout"] == 1
    assert by_alias["FunctionArn"] == arn(region, "orders", "live")
    # GetFunction too (the alias's ARN, the version it points at; the version's package).
    through_alias = lam.get_function(FunctionName="orders", Qualifier="live")["Configuration"]
    assert (through_alias["FunctionArn"], through_alias["Version"]) == (
        arn(region, "orders", "live"), "1")
    named = lam.get_function_configuration(FunctionName="orders:live")
    assert (named["FunctionArn"], named["Version"]) == (arn(region, "orders", "live"), "1")

    shifted = lam.update_alias(FunctionName="orders", Name="live",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
                               RevisionId=live["RevisionId"])
    assert shifted["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    assert shifted["Description"] == "production"
    assert shifted["RevisionId"] != live["RevisionId"]
    with pytest.raises(ClientError) as info:
        lam.update_alias(FunctionName="orders", Name="live", FunctionVersion="3",
                         RevisionId=live["RevisionId"])
    assert error_of(info)[0] == "PreconditionFailedException"

    promoted = lam.update_alias(FunctionName="orders", Name="live", FunctionVersion="2",
                                RoutingConfig={"AdditionalVersionWeights": {}})
    assert promoted["FunctionVersion"] == "2" and "RoutingConfig" not in promoted
    assert "RoutingConfig" not in lam.get_alias(FunctionName="orders", Name="live")

    lam.delete_alias(FunctionName="orders", Name="live")
    with pytest.raises(ClientError) as info:
        lam.get_alias(FunctionName="orders", Name="live")
    assert error_of(info) == ("ResourceNotFoundException",
                              f"Cannot find alias arn: {arn(region, 'orders', 'live')}")


def test_bad_aliases_are_refused_and_change_nothing(lam, region):
    published(lam, 3)
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")

    def refused(name: str = "canary", version: str = "1", weights=None) -> tuple[str, str]:
        params = {"RoutingConfig": {"AdditionalVersionWeights": weights}} if weights else {}
        with pytest.raises(ClientError) as info:
            lam.create_alias(FunctionName="orders", Name=name, FunctionVersion=version,
                             **params)
        return error_of(info)

    assert refused(name="live") == ("ResourceConflictException",
                                    f"Alias already exists: {arn(region, 'orders', 'live')}")
    assert refused(version="9") == ("ResourceNotFoundException",
                                    f"Function not found: {arn(region, 'orders', '9')}")
    assert refused(weights={"9": 0.1})[0] == "ResourceNotFoundException"
    assert refused(weights={"2": 1.5})[0] in ("ValidationException",
                                              "InvalidParameterValueException")
    assert refused(weights={"2": 0.1, "3": 0.1}) == (
        "InvalidParameterValueException",
        "Number of items in AdditionalVersionWeights cannot be greater than 1")
    assert refused(version="$LATEST", weights={"2": 0.1}) == (
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version")
    assert refused(weights={"$LATEST": 0.1})[0] in ("ValidationException",
                                                    "InvalidParameterValueException")
    assert refused(weights={"1": 0.1})[0] == "InvalidParameterValueException"
    assert refused(name="123")[0] == "ValidationException"
    with pytest.raises(ClientError) as info:
        lam.update_alias(FunctionName="orders", Name="live",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.1, "3": 0.2}})
    assert error_of(info)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as info:
        lam.update_alias(FunctionName="orders", Name="ghost", FunctionVersion="2")
    assert error_of(info)[0] == "ResourceNotFoundException"

    [alias] = lam.list_aliases(FunctionName="orders")["Aliases"]
    assert alias["Name"] == "live" and alias["FunctionVersion"] == "1"
    assert "RoutingConfig" not in alias


def test_list_aliases_filters_and_pages(lam):
    published(lam, 2)
    for name, version in (("a", "1"), ("b", "2"), ("c", "1"), ("d", "$LATEST")):
        lam.create_alias(FunctionName="orders", Name=name, FunctionVersion=version)
    names = [a["Name"] for a in lam.list_aliases(FunctionName="orders")["Aliases"]]
    assert names == ["a", "b", "c", "d"]
    of_one = lam.list_aliases(FunctionName="orders", FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in of_one] == ["a", "c"]

    paginator = lam.get_paginator("list_aliases")
    pages = list(paginator.paginate(FunctionName="orders", PaginationConfig={"PageSize": 3}))
    assert [len(p["Aliases"]) for p in pages] == [3, 1]
    assert [a["Name"] for p in pages for a in p["Aliases"]] == names
    first = lam.list_aliases(FunctionName="orders", FunctionVersion="1", MaxItems=1)
    rest = lam.list_aliases(FunctionName="orders", FunctionVersion="1",
                            Marker=first["NextMarker"])
    assert [a["Name"] for a in first["Aliases"] + rest["Aliases"]] == ["a", "c"]
    assert "NextMarker" not in rest


# --- concurrency ---------------------------------------------------------------

def test_reserved_concurrency_keeps_100_unreserved(lam):
    create(lam)
    create(lam, "payments")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName="orders")
    assert lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=900)[
        "ReservedConcurrentExecutions"] == 900
    assert lam.get_function(FunctionName="orders")["Concurrency"] == {
        "ReservedConcurrentExecutions": 900}

    with pytest.raises(ClientError) as info:
        lam.put_function_concurrency(FunctionName="payments", ReservedConcurrentExecutions=1)
    assert error_of(info) == (
        "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function "
        "decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName="payments")
    # A function's own reservation is replaced, not added to.
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=800)
    lam.put_function_concurrency(FunctionName="payments", ReservedConcurrentExecutions=100)
    with pytest.raises(ClientError) as info:
        lam.put_function_concurrency(FunctionName="orders:1", ReservedConcurrentExecutions=1)
    assert error_of(info)[0] == "InvalidParameterValueException"

    lam.delete_function_concurrency(FunctionName="orders")
    assert lam.get_function_concurrency(FunctionName="payments")[
        "ReservedConcurrentExecutions"] == 100
    assert "Concurrency" not in lam.get_function(FunctionName="orders")
    with pytest.raises(ClientError) as info:
        lam.put_function_concurrency(FunctionName="ghost", ReservedConcurrentExecutions=1)
    assert error_of(info)[0] == "ResourceNotFoundException"


# --- tags ----------------------------------------------------------------------

def test_function_tags(lam, region):
    created = create(lam, Tags={"team": "shop", "tier": "1"})
    resource = arn(region, "orders")
    assert lam.list_tags(Resource=resource)["Tags"] == {"team": "shop", "tier": "1"}
    lam.tag_resource(Resource=resource, Tags={"tier": "2", "cost": "low"})
    lam.untag_resource(Resource=resource, TagKeys=["team", "absent"])
    assert lam.list_tags(Resource=resource)["Tags"] == {"tier": "2", "cost": "low"}
    function = lam.get_function(FunctionName="orders")
    assert function["Tags"] == {"tier": "2", "cost": "low"}
    assert function["Configuration"]["RevisionId"] != created["RevisionId"]

    with pytest.raises(ClientError) as info:
        lam.tag_resource(Resource=arn(region, "orders", "live"), Tags={"a": "b"})
    assert error_of(info)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as info:
        lam.list_tags(Resource=arn(region, "ghost"))
    assert error_of(info)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        lam.tag_resource(Resource=resource, Tags={f"k{i}": "v" for i in range(50)})
    assert error_of(info)[0] == "InvalidParameterValueException"
    assert lam.list_tags(Resource=resource)["Tags"] == {"tier": "2", "cost": "low"}


# --- listing and regions -------------------------------------------------------

def test_list_functions_pages(lam, region):
    for name in ("c-fn", "a-fn", "b-fn"):
        create(lam, name)
    lam.publish_version(FunctionName="b-fn")
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a-fn", "b-fn"]
    assert "State" not in first["Functions"][0]
    rest = lam.list_functions(Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["c-fn"]
    assert "NextMarker" not in rest
    assert all(f["FunctionArn"] == arn(region, f["FunctionName"]) for f in first["Functions"])

    everything = [f for p in lam.get_paginator("list_functions").paginate(
        FunctionVersion="ALL", PaginationConfig={"PageSize": 1}) for f in p["Functions"]]
    assert [f["FunctionArn"] for f in everything] == [
        arn(region, "a-fn", "$LATEST"), arn(region, "b-fn", "$LATEST"), arn(region, "b-fn", "1"),
        arn(region, "c-fn", "$LATEST")]


def test_regions_are_isolated(server, lam, region):
    create(lam)
    other_region = f"{region[:-2]}-2"
    other = server.client("lambda", other_region)
    assert other.list_functions()["Functions"] == []
    for reference in ("orders", arn(region, "orders")):
        with pytest.raises(ClientError) as info:
            other.get_function(FunctionName=reference)
        assert error_of(info)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        other.list_tags(Resource=arn(region, "orders"))
    assert error_of(info)[0] == "ResourceNotFoundException"
    # The same name is free in another region.
    elsewhere = create(other)
    assert elsewhere["FunctionArn"] == arn(other_region, "orders")
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["orders"]


# --- resource-based policies --------------------------------------------------

def test_permissions_build_the_policy_lambda_shows(lam, region):
    create(lam, Publish=True)
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as info:
        lam.get_policy(FunctionName="orders")
    assert error_of(info)[0] == "ResourceNotFoundException"

    added = lam.add_permission(FunctionName="orders", StatementId="from-s3",
                               Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                               SourceArn="arn:aws:s3:::uploads", SourceAccount=ACCOUNT)
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    expected = {"Sid": "from-s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction", "Resource": arn(region, "orders"),
                "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                              "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}}
    assert json.loads(added["Statement"]) == expected
    lam.add_permission(FunctionName="orders", StatementId="account", Action="lambda:*",
                       Principal="111122223333")
    got = lam.get_policy(FunctionName="orders")
    policy = json.loads(got["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert policy["Statement"] == [expected, {
        "Sid": "account", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "lambda:*",
        "Resource": arn(region, "orders")}]

    # A statement id twice, a stale RevisionId, an unknown statement or qualifier: refused.
    def refused(call, **params) -> str:
        with pytest.raises(ClientError) as info:
            call(FunctionName="orders", **params)
        return error_of(info)[0]
    assert refused(lam.add_permission, StatementId="account", Action="lambda:InvokeFunction",
                   Principal="*") == "ResourceConflictException"
    assert refused(lam.add_permission, StatementId="new", Action="lambda:InvokeFunction",
                   Principal="*", RevisionId="stale") == "PreconditionFailedException"
    assert refused(lam.remove_permission, StatementId="account",
                   RevisionId="stale") == "PreconditionFailedException"
    assert refused(lam.remove_permission, StatementId="nothing") == "ResourceNotFoundException"
    assert refused(lam.add_permission, StatementId="x", Action="lambda:InvokeFunction",
                   Principal="*", Qualifier="9") == "ResourceNotFoundException"
    assert refused(lam.get_policy, Qualifier="nothing") == "ResourceNotFoundException"
    unchanged = lam.get_policy(FunctionName="orders")  # the refusals changed nothing
    assert (unchanged["Policy"], unchanged["RevisionId"]) == (got["Policy"], got["RevisionId"])

    # An alias has a policy of its own, on its qualified ARN.
    lam.add_permission(FunctionName="orders", Qualifier="live", StatementId="live",
                       Action="lambda:InvokeFunction", Principal="*")
    on_alias = json.loads(lam.get_policy(FunctionName="orders:live")["Policy"])["Statement"]
    assert [(s["Sid"], s["Principal"], s["Resource"]) for s in on_alias] == [
        ("live", "*", arn(region, "orders", "live"))]

    # RemovePermission with the current RevisionId; the last statement takes the policy.
    lam.remove_permission(FunctionName="orders", StatementId="from-s3",
                          RevisionId=got["RevisionId"])
    left = lam.get_policy(FunctionName="orders")
    assert [s["Sid"] for s in json.loads(left["Policy"])["Statement"]] == ["account"]
    assert left["RevisionId"] != got["RevisionId"]
    lam.remove_permission(FunctionName="orders", StatementId="account")
    assert refused(lam.get_policy) == "ResourceNotFoundException"

    # Deleting the alias (or the function) takes its policy.
    lam.delete_alias(FunctionName="orders", Name="live")
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    assert refused(lam.get_policy, Qualifier="live") == "ResourceNotFoundException"


# --- asynchronous invocation settings -------------------------------------------

def test_event_invoke_configs_lifecycle(lam, server, region):
    create(lam, Publish=True)
    create(lam, "sink")
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")

    def refused(call, **params) -> str:
        with pytest.raises(ClientError) as info:
            call(FunctionName="orders", **params)
        return error_of(info)[0]
    assert refused(lam.get_function_event_invoke_config) == "ResourceNotFoundException"
    assert refused(lam.delete_function_event_invoke_config) == "ResourceNotFoundException"

    put = lam.put_function_event_invoke_config(
        FunctionName="orders", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn(region, "sink")}})
    assert put["FunctionArn"] == arn(region, "orders", "$LATEST")
    assert put["MaximumRetryAttempts"] == 1 and "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {},
                                        "OnFailure": {"Destination": arn(region, "sink")}}
    assert put["LastModified"].tzinfo is not None
    got = lam.get_function_event_invoke_config(FunctionName="orders")
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        k: v for k, v in put.items() if k != "ResponseMetadata"}

    # Update keeps what it does not name; Put replaces the whole configuration.
    updated = lam.update_function_event_invoke_config(FunctionName="orders",
                                                      MaximumEventAgeInSeconds=60)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 60)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": arn(region, "sink")}
    replaced = lam.put_function_event_invoke_config(FunctionName="orders",
                                                    MaximumEventAgeInSeconds=21600)
    assert "MaximumRetryAttempts" not in replaced
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    # Versions and aliases have their own; the list shows each.
    lam.put_function_event_invoke_config(FunctionName="orders", Qualifier="live",
                                         MaximumRetryAttempts=0)
    lam.put_function_event_invoke_config(FunctionName="orders:1", MaximumRetryAttempts=2)
    listed = lam.list_function_event_invoke_configs(FunctionName="orders")
    assert sorted(c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]) == sorted(
        [arn(region, "orders", q) for q in ("$LATEST", "live", "1")])
    first = lam.list_function_event_invoke_configs(FunctionName="orders", MaxItems=2)
    rest = lam.list_function_event_invoke_configs(FunctionName="orders",
                                                  Marker=first["NextMarker"])
    assert len(first["FunctionEventInvokeConfigs"]) == 2 and "NextMarker" not in rest
    assert len(rest["FunctionEventInvokeConfigs"]) == 1

    # Bad input changes nothing: out of range (checked by the server too), a destination
    # Nozama cannot deliver to, an unknown version or alias.
    unchecked = boto3_client_without_validation(server, region)
    assert refused(unchecked.put_function_event_invoke_config,
                   MaximumRetryAttempts=3) == "ValidationException"
    assert refused(unchecked.put_function_event_invoke_config,
                   MaximumEventAgeInSeconds=59) == "ValidationException"
    assert refused(lam.put_function_event_invoke_config, DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dead"}}) == \
        "InvalidParameterValueException"
    assert refused(lam.put_function_event_invoke_config, Qualifier="nothing",
                   MaximumRetryAttempts=0) == "ResourceNotFoundException"
    assert lam.get_function_event_invoke_config(
        FunctionName="orders")["MaximumEventAgeInSeconds"] == 21600

    # Delete takes one; deleting the alias or the function takes theirs.
    lam.delete_function_event_invoke_config(FunctionName="orders")
    assert refused(lam.get_function_event_invoke_config) == "ResourceNotFoundException"
    lam.delete_alias(FunctionName="orders", Name="live")
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    assert refused(lam.get_function_event_invoke_config,
                   Qualifier="live") == "ResourceNotFoundException"
    lam.delete_function(FunctionName="orders")
    create(lam, Publish=True)
    assert refused(lam.get_function_event_invoke_config,
                   Qualifier="1") == "ResourceNotFoundException"


def boto3_client_without_validation(server, region: str):
    """A Lambda client that sends out-of-range values, for the server to refuse."""
    return boto3.client("lambda", endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=server.credentials[0],
        aws_secret_access_key=server.credentials[1],
                        config=botocore.config.Config(parameter_validation=False))
