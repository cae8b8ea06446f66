"""The database going away under a running server (store/availability.py).

A scenario on a PostgreSQL instance of the test's own (the shared one is never stopped):
while the database is down every AWS call answers 503 in its service's error family,
which SDKs retry, the health check says so at once, nothing is half written, and the log
says it once, without a traceback. When the database is back, the same server answers
again without a restart. A network partition (nothing answers) costs the first call a few
seconds of libpq's timeouts, not the minutes of TCP's, and the server meanwhile answers.
"""

from __future__ import annotations

import json
import os
import time

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from support.private_postgres import Partition, PrivatePostgres
from support.servers import NozamaServer, signed_request
from support.waiting import wait_for

REGION = "us-east-1"


@pytest.fixture
def database():
    instance = PrivatePostgres()
    try:
        instance.start()
        yield instance
    finally:
        instance.remove()


def client(server, service: str):
    """A client that sends each call once: what the server answered, not a retry's."""
    key, secret = server.credentials
    return boto3.client(service, endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def refusal(call, **params) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"], \
        info.value.response["Error"]["Code"]


def health(server) -> requests.Response:
    return requests.get(f"{server.endpoint}/_nozama/health", timeout=2)


def health_status(server) -> int | None:
    """The health check's status, or None while the server does not answer in 2 s."""
    try:
        return health(server).status_code
    except requests.Timeout:
        return None


def test_a_database_outage_answers_503_and_the_server_recovers_alone(database, tmp_path):
    log_path = tmp_path / "server.log"
    server = NozamaServer(["--database-url", database.url, "--data-dir",
                           str(tmp_path / "data")], log_path).start()
    try:
        ecs, elbv2, ec2, logs, cloudwatch, lambda_ = (
            client(server, name) for name in ("ecs", "elbv2", "ec2", "logs", "cloudwatch",
                                              "lambda"))
        ecs.create_cluster(clusterName="before")
        assert health(server).json()["storeAvailable"] is True

        database.stop()   # immediate: the server's connections are cut mid-session
        # Every family's own 503: what botocore's retry handlers treat as transient.
        assert refusal(ecs.list_clusters) == (503, "ServiceUnavailableException")
        assert refusal(ecs.create_cluster, clusterName="during") == \
            (503, "ServiceUnavailableException")
        assert refusal(elbv2.describe_load_balancers) == (503, "ServiceUnavailable")
        assert refusal(ec2.describe_vpcs) == (503, "Unavailable")
        assert refusal(logs.describe_log_groups) == (503, "ServiceUnavailableException")
        assert refusal(logs.create_log_group, logGroupName="during") == \
            (503, "ServiceUnavailableException")
        assert refusal(cloudwatch.list_metrics) == (503, "ServiceUnavailable")
        assert refusal(lambda_.list_functions) == (503, "ServiceUnavailableException")
        # The agents' channel too (agents retry 5xx).
        body = json.dumps({"containerInstanceArn": "arn:aws:ecs:us-east-1:000000000000:"
                           "container-instance/before/x", "tasks": []}).encode()
        channel = signed_request(server, "POST",
                                 f"{server.endpoint}/_nozama/agent/v1/state", "ecs", REGION,
                                 body, {"X-Nozama-Client": "agent",
                                        "content-type": "application/json"})
        assert channel.status_code == 503
        assert channel.json()["__type"] == "ServiceUnavailableException"
        # Health answers at once, without waiting on the database.
        started = time.monotonic()
        answer = health(server)
        assert time.monotonic() - started < 0.5
        assert answer.status_code == 503
        assert answer.json()["storeAvailable"] is False
        assert answer.json()["status"] == "store unavailable"
        # Refusals fail fast while it is down: no request waits on libpq.
        started = time.monotonic()
        for _ in range(20):
            assert refusal(ecs.describe_clusters, clusters=["before"])[0] == 503
        assert time.monotonic() - started < 2
        # botocore retries it (legacy and standard modes alike), as AWS's own 503s.
        with pytest.raises(ClientError) as retried:
            server.client("ecs", REGION).list_clusters()
        assert retried.value.response["ResponseMetadata"]["RetryAttempts"] == 1
        time.sleep(3)   # background loops tick through the outage meanwhile

        database.start()
        # The same server answers again, within the probe's second.
        wait_for(lambda: health(server).status_code == 200, timeout=10)
        clusters = ecs.list_clusters()["clusterArns"]
        # The refused create did not half happen; the one from before is intact.
        assert [arn.rsplit("/", 1)[1] for arn in clusters] == ["before"]
        assert logs.describe_log_groups()["logGroups"] == []
        ecs.create_cluster(clusterName="after")
        assert elbv2.describe_load_balancers()["LoadBalancers"] == []
        assert len(ecs.list_clusters()["clusterArns"]) == 2
    finally:
        server.stop()
    text = log_path.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert text.count("database unavailable") == 1, text[-3000:]
    assert text.count("database back after") == 1, text[-3000:]


def test_a_partition_from_the_database_costs_seconds_not_minutes(database, tmp_path):
    if not Partition.possible():
        if os.environ.get("CI"):
            pytest.fail("the partition test needs root and iptables")
        pytest.skip("the partition test needs root and iptables")
    log_path = tmp_path / "server.log"
    server = NozamaServer(["--database-url", database.url, "--data-dir",
                           str(tmp_path / "data")], log_path).start()
    partition = Partition(database.port)
    try:
        ecs = client(server, "ecs")
        ecs.create_cluster(clusterName="before")
        partition.start()
        # The first call of the partition (or a background loop's, before it) waits for
        # tcp_user_timeout (3 s), then every call is refused at once.
        started = time.monotonic()
        wait_for(lambda: health_status(server) == 503, timeout=15)
        # 3.4 s measured here; without libpq's timeouts a call waited 26.5 s.
        assert time.monotonic() - started < 8
        started = time.monotonic()
        for _ in range(10):
            assert refusal(ecs.list_clusters) == (503, "ServiceUnavailableException")
        assert time.monotonic() - started < 1
        partition.heal()
        wait_for(lambda: health_status(server) == 200, timeout=15)
        assert len(ecs.list_clusters()["clusterArns"]) == 1
    finally:
        partition.heal()
        server.stop()
    text = log_path.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert text.count("database unavailable") == 1, text[-3000:]
