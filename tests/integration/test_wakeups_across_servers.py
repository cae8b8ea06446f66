"""Two `nozama server` processes on one PostgreSQL store hear each other's wake-ups
(kernel/wake_bridge.py over store/notify.py's LISTEN/NOTIFY): an alias moved on the
first is what the second routes Invoke by within a second, though the second had the
old route cached; an access key deleted on the first is refused by the second at once,
though the second had the key cached (for 5 s without the wake-up)."""

from __future__ import annotations

import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from support.packages import zip_package
from support.roles import LAMBDA_ROLE, lambda_role
from support.peers import peers
from support.waiting import wait_for

APP = "def echo(event, context):\n    return event\n"


@pytest.fixture
def pair(tmp_path):
    with peers(tmp_path, "first", "second") as group:
        yield tuple(group.servers)


def _lambda(server):
    return server.client("lambda")


def test_an_alias_moved_on_one_server_is_what_the_other_routes_by(pair):
    first, second = pair
    lambda_role(first)
    one, two = _lambda(first), _lambda(second)
    one.create_function(FunctionName="canary", Runtime="python3.11", Role=LAMBDA_ROLE,
                        Handler="app.echo", Code={"ZipFile": zip_package(app=APP)})
    one.publish_version(FunctionName="canary")
    one.update_function_configuration(FunctionName="canary", Description="the canary")
    wait_for(lambda: one.get_function(FunctionName="canary")["Configuration"]
             ["LastUpdateStatus"] == "Successful")
    assert one.publish_version(FunctionName="canary")["Version"] == "2"
    one.create_alias(FunctionName="canary", Name="live", FunctionVersion="1")
    try:
        # The second server resolves (and caches) the route: all to version 1.
        assert {two.invoke(FunctionName="canary", Qualifier="live")["ExecutedVersion"]
                for _ in range(5)} == {"1"}
        one.update_alias(FunctionName="canary", Name="live", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
        moved = time.monotonic()
        wait_for(lambda: two.invoke(FunctionName="canary", Qualifier="live")
                 ["ExecutedVersion"] == "2", timeout=1, interval=0.02)
        assert time.monotonic() - moved < 1
        assert {two.invoke(FunctionName="canary", Qualifier="live")["ExecutedVersion"]
                for _ in range(10)} == {"2"}
    finally:
        one.delete_function(FunctionName="canary")


def test_an_access_key_deleted_on_one_server_is_refused_by_the_other_at_once(pair):
    first, second = pair
    iam = first.client("iam")
    iam.create_user(UserName="ann")
    key = iam.create_access_key(UserName="ann")["AccessKey"]

    def identity(server):
        return boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"],
                            config=botocore.config.Config(retries={"max_attempts": 1})
                            ).get_caller_identity()

    # The second server looks the key up, and keeps it (for 5 s) in its cache.
    assert identity(second)["Arn"].endswith(":user/ann")
    iam.delete_access_key(UserName="ann", AccessKeyId=key["AccessKeyId"])
    deleted = time.monotonic()

    def refused() -> str | None:
        try:
            identity(second)
        except ClientError as error:
            return error.response["Error"]["Code"]
        return None
    assert wait_for(refused, timeout=1, interval=0.02) == "InvalidClientTokenId"
    assert time.monotonic() - deleted < 1
