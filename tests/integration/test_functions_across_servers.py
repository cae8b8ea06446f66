"""Functions on two `nozama server` processes sharing one PostgreSQL store and one host.

Each server keeps its own warm workers: a second server starting on the same store does
not kill the first one's (before per-server work dirs it killed every worker marked with
the store's directory). A reserved concurrency is the function's, not each server's:
with ReservedConcurrentExecutions=1, two invocations at once, one on each server, run
one and throttle the other, as Lambda does.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from support.packages import zip_package
from support.roles import LAMBDA_ROLE, lambda_role
from support.peers import peers
from support.servers import NozamaServer

APP = '''\
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
'''


def lambda_client(server: NozamaServer):
    """No retries: botocore retries a 429 even with one attempt in its legacy mode."""
    key, secret = server.credentials
    return boto3.client("lambda", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"total_max_attempts": 1},
                                                      read_timeout=30))


def invoke(lam, event: dict) -> dict:
    answer = lam.invoke(FunctionName="orders", Payload=json.dumps(event).encode())
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    return json.loads(answer["Payload"].read())


@pytest.fixture
def group(tmp_path):
    with peers(tmp_path, "first") as started:
        yield started


def test_two_servers_keep_their_own_workers_and_share_a_reservation(group):
    first = group.servers[0]
    lambda_role(first)
    one = lambda_client(first)
    one.create_function(FunctionName="orders", Runtime="python3.11", Role=LAMBDA_ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_package(app=APP)})
    warm = invoke(one, {})["pid"]

    # A second server on the same store and host starts: the first's worker lives on.
    second = group.start("second")
    assert invoke(one, {})["pid"] == warm
    # (Before the second server's first invoke: until the wake-up bridge, a server
    # learns of a change made on another only when it resolves the route again.)
    one.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=1)
    two = lambda_client(second)
    assert invoke(two, {})["pid"] != warm   # the second's own worker

    def attempt(lam) -> str:
        try:
            invoke(lam, {"sleep": 2})
            return "ran"
        except ClientError as error:
            return (f"{error.response['Error']['Code']}: "
                    f"{error.response.get('Reason')}")
    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, (one, two)))
    assert outcomes == ["TooManyRequestsException: "
                        "ReservedFunctionConcurrentInvocationLimitExceeded", "ran"]
    # The slot is free again once the execution ended, on either server.
    assert invoke(two, {})["pid"] and invoke(one, {})["pid"] == warm
    one.delete_function(FunctionName="orders")
