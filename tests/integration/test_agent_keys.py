"""Auth on by default: agents sign with keys of their own, limited to an agent's actions;
a revoked key is refused and the agent says so; Nozama's own routes want keys too; and
`--auth off` (any credentials) is for loopback only."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from support.agents import AgentProcess
from support.servers import ROOT, free_port
from support.waiting import wait_for

from integration.test_tasks_simulated import connected_instances


def key_client(server, service: str, region: str, key: dict):
    return boto3.client(service, endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"],
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def credentials_file(path, key: dict):
    path.write_text(f"[default]\naws_access_key_id = {key['AccessKeyId']}\n"
                    f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    return path


def user_key(iam, name: str, *policies: str) -> dict:
    iam.create_user(UserName=name)
    for policy in policies:
        iam.attach_user_policy(UserName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    return iam.create_access_key(UserName=name)["AccessKey"]


def agent_output(server, region: str, tmp_path, credentials) -> subprocess.CompletedProcess:
    """An agent that is expected to be refused at registration (it exits)."""
    extra = ["--credentials-file", str(credentials)] if credentials else []
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "nozama", "agent", "--endpoint", server.endpoint, "--region",
         region, "--runtime", "simulated", "--data-dir", str(tmp_path / "refused"), *extra],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**environment, "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
             "AWS_CONFIG_FILE": "/dev/null"})


def test_an_agent_signs_with_its_own_key_and_a_revoked_one_is_refused(server, region,
                                                                       tmp_path):
    iam, ecs = server.client("iam", region), server.client("ecs", region)
    name = f"agent-{region}"
    key = user_key(iam, name, "service-role/AmazonEC2ContainerServiceforEC2Role")
    agent = AgentProcess(server, region, f"{region}a", tmp_path / "agent")
    agent.args[agent.args.index("--credentials-file") + 1] = str(
        credentials_file(tmp_path / "agent-key", key))
    agent.args[agent.args.index("warning")] = "info"
    log = tmp_path / "agent.log"
    agent.process = subprocess.Popen(agent.args, cwd=ROOT, stdout=open(log, "wb"),
                                     stderr=subprocess.STDOUT)
    try:
        (arn,) = wait_for(lambda: connected_instances(ecs), timeout=30)
        # The agent's key does what an agent does, and nothing a person does.
        agent_ecs = key_client(server, "ecs", region, key)
        with pytest.raises(ClientError) as denied:
            agent_ecs.list_services()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert f"user/{name} is not authorized to perform: ecs:ListServices" in \
            denied.value.response["Error"]["Message"]
        # Revoked: the control plane refuses it, the agent says so and keeps trying.
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"],
                              Status="Inactive")
        wait_for(lambda: f"refused this agent's key {key['AccessKeyId']}" in log.read_text(),
                 timeout=60)
        assert "UnrecognizedClientException" in log.read_text()
        assert agent.process.poll() is None          # its tasks are not abandoned
        wait_for(lambda: not connected_instances(ecs), timeout=60)
        # Active again: the same instance reconnects.
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
        assert wait_for(lambda: connected_instances(ecs), timeout=60) == [arn]
    finally:
        agent.stop()


def test_an_agent_without_a_key_or_with_a_person_s_key_is_refused_and_says_why(
        server, region, tmp_path):
    iam = server.client("iam", region)
    unsigned = agent_output(server, region, tmp_path, None)
    assert unsigned.returncode == 1
    assert "refused this agent's key (none" in unsigned.stderr
    assert "MissingAuthenticationToken" in unsigned.stderr
    reader = user_key(iam, f"reader-{region}", "ReadOnlyAccess")
    refused = agent_output(server, region, tmp_path,
                           credentials_file(tmp_path / "reader", reader))
    assert refused.returncode == 1
    assert f"refused this agent's key {reader['AccessKeyId']}" in refused.stderr
    assert "is not authorized to perform: ecs:RegisterContainerInstance" in refused.stderr
    assert server.client("ecs", region).list_clusters()["clusterArns"] == []


def test_nozama_s_own_routes_want_a_key(server, region):
    key, secret = server.credentials
    # /metrics: a Prometheus scraper gives a key by HTTP Basic (it cannot sign).
    assert requests.get(f"{server.endpoint}/metrics", timeout=10).status_code == 403
    assert requests.get(f"{server.endpoint}/metrics", auth=(key, "wrong" * 8),
                        timeout=10).status_code == 403
    scraped = requests.get(f"{server.endpoint}/metrics", auth=(key, secret), timeout=10)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    # Function deployments, even with the header Nozama's own clients send.
    refused = requests.post(f"{server.endpoint}/_nozama/v1/function-deployments",
                            json={"functionName": "f"},
                            headers={"X-Nozama-Client": "cli"}, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["__type"] == "MissingAuthenticationToken"
    # The agents' channel: an unsigned registration registers nothing.
    channel = requests.post(f"{server.endpoint}/_nozama/agent/v1/register",
                            json={"region": region, "instanceIdentityDocument": "{}"},
                            headers={"X-Nozama-Client": "agent"}, timeout=10)
    assert channel.status_code == 403
    assert server.client("ecs", region).list_clusters()["clusterArns"] == []
    # Open: the health check.
    assert requests.get(f"{server.endpoint}/_nozama/health", timeout=10).ok


@pytest.mark.parametrize("how", [["--auth", "off"], []], ids=["flag", "environment"])
def test_auth_off_is_for_loopback_only(tmp_path, how):
    environment = dict(os.environ, NOZAMA_AUTH="off")
    started = subprocess.run(
        [sys.executable, "-m", "nozama", "server", "--host", "0.0.0.0", "--port",
         str(free_port()), "--data-dir", str(tmp_path / "data"), *how],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=environment)
    assert started.returncode == 2
    assert "--auth off accepts any credentials, so it is allowed only on a loopback " \
        "address" in started.stderr
