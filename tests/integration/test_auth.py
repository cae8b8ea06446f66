"""`nozama server --auth on`: every request's signature is verified against the store's
access keys, and the key's IAM policies decide what it may do."""

from __future__ import annotations

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from support.servers import NozamaServer, admin_credentials


@pytest.fixture
def secured(tmp_path):
    server = NozamaServer(["--data-dir", str(tmp_path / "data"), "--auth", "on"],
                          tmp_path / "server.log").start()
    yield server, tmp_path / "data"
    server.stop()


def client(server, service: str, key: str, secret: str):
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def error(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_only_keys_of_the_store_get_in_and_policies_decide(secured):
    server, data = secured
    key, secret = admin_credentials(data)
    admin_ecs, iam = client(server, "ecs", key, secret), client(server, "iam", key, secret)
    assert admin_ecs.list_clusters()["clusterArns"] == []
    # The health endpoint stays open; a key the store does not know, or the wrong secret,
    # gets the protocol family's error and changes nothing.
    assert requests.get(f"{server.endpoint}/_nozama/health", timeout=5).ok
    assert error(client(server, "ecs", "AKIAIOSFODNN7EXAMPLE", "x" * 40).create_cluster,
                 clusterName="nope")[0] == "UnrecognizedClientException"
    assert error(client(server, "ecs", key, "x" * 40).create_cluster,
                 clusterName="nope")[0] == "InvalidSignatureException"
    assert error(client(server, "elbv2", "AKIAIOSFODNN7EXAMPLE", "x" * 40)
                 .describe_load_balancers)[0] == "InvalidClientTokenId"
    assert admin_ecs.list_clusters()["clusterArns"] == []
    # A user with no policy may do nothing; with ReadOnlyAccess, read only.
    user = iam.create_user(UserName="alice")["User"]
    alice_key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = client(server, "ecs", alice_key["AccessKeyId"], alice_key["SecretAccessKey"])
    code, message = error(alice.list_clusters)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: {user['Arn']} is not authorized to perform: "
                              "ecs:ListClusters on resource: ")
    iam.attach_user_policy(UserName="alice",
                           PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert alice.list_clusters()["clusterArns"] == []
    code, message = error(alice.create_cluster, clusterName="web")
    assert code == "AccessDeniedException" and "ecs:CreateCluster" in message
    assert admin_ecs.list_clusters()["clusterArns"] == []
    # An inactive key is refused as an unknown one.
    iam.update_access_key(UserName="alice", AccessKeyId=alice_key["AccessKeyId"],
                          Status="Inactive")
    assert error(alice.list_clusters)[0] == "UnrecognizedClientException"
    # STS names the caller.
    sts = client(server, "sts", key, secret)
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
