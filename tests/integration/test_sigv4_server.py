"""Verified signatures end to end: a real HTTP server with verification on, and boto3.

The server runs in this process (a thread with its own event loop), built the way
`nozama server` builds it but with a Gateway given a key lookup: until the IAM change
gives the server a key store, that is the only way to turn verification on. Each
protocol family is tried: ECS (JSON), ELBv2 (query), Lambda (REST-JSON).
"""

from __future__ import annotations

import asyncio
import threading

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from nozama.api import sigv4
from nozama.api.gateway import Gateway
from nozama.model import iam
from nozama.api.server import App
from nozama.kernel.clock import Clock
from nozama.kernel.http_server import HttpServer
from nozama.store import Store
from nozama.store.db import sqlite_url

KEY, SECRET = "AKIANOZAMASIGV4TEST1", "the-right-secret/EXAMPLE+key"


def lookup(key_id: str, token: str | None) -> sigv4.Credentials | None:
    # The account's root: the verifier lets it in, and its policies allow everything.
    return sigv4.Credentials(SECRET, principal=iam.root("000000000000")) \
        if key_id == KEY else None


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    store = Store.open(sqlite_url(tmp_path_factory.mktemp("sigv4") / "data"))
    gateway = Gateway(store, Clock(), verify_signatures=True, credentials_lookup=lookup)
    server = HttpServer(App(gateway).handle, clock=gateway.clock)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    store.close()


def client(endpoint: str, service: str, key: str = KEY, secret: str = SECRET):
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-3",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))


CALLS = {"ecs": lambda c: c.list_clusters(),
         "elbv2": lambda c: c.describe_load_balancers(),
         "lambda": lambda c: c.list_functions()}
# (service, the code of a wrong secret, the code of an unknown key)
FAMILIES = [("ecs", "InvalidSignatureException", "UnrecognizedClientException"),
            ("elbv2", "SignatureDoesNotMatch", "InvalidClientTokenId"),
            ("lambda", "InvalidSignatureException", "UnrecognizedClientException")]


@pytest.mark.parametrize("service, wrong_secret, unknown_key", FAMILIES,
                         ids=[family[0] for family in FAMILIES])
def test_the_right_key_works_and_others_get_the_services_own_errors(
        endpoint, service, wrong_secret, unknown_key):
    answer = CALLS[service](client(endpoint, service))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200

    with pytest.raises(ClientError) as refused:
        CALLS[service](client(endpoint, service, secret="not-the-secret"))
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == \
        (wrong_secret, 403)
    assert error["Error"]["Message"].startswith(
        "The request signature we calculated does not match the signature you provided.")

    with pytest.raises(ClientError) as unknown:
        CALLS[service](client(endpoint, service, key="AKIANOSUCHKEY0000000"))
    error = unknown.value.response
    assert (error["Error"]["Code"], error["Error"]["Message"]) == \
        (unknown_key, "The security token included in the request is invalid.")


def test_the_sdks_modeled_exception_classes_catch_them(endpoint):
    # botocore maps a code to a client exception class when the model has one; either
    # way the code is what a caller catches on.
    ecs = client(endpoint, "ecs", secret="wrong")
    with pytest.raises(ClientError, match="InvalidSignatureException"):
        ecs.describe_clusters(clusters=["default"])


def test_a_refused_create_creates_nothing(endpoint):
    with pytest.raises(ClientError):
        client(endpoint, "ecs", secret="wrong").create_cluster(clusterName="refused")
    assert client(endpoint, "ecs").list_clusters()["clusterArns"] == []
