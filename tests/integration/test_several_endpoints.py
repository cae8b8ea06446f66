"""An agent and the `nozama` CLI given two servers on one PostgreSQL store. When the
server the agent talks to is killed (-9), the agent moves to the other: its instance
stays connected past AGENT_TIMEOUT, as seen through the survivor, and its service's
task is neither lost nor replaced. CLI commands whose first endpoint is the dead
server answer through the second."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from nozama.controllers.agents import AGENT_TIMEOUT
from support.agents import AgentProcess
from support.peers import peers
from support.servers import ROOT
from support.waiting import wait_for

REGION = "us-east-1"


@pytest.fixture
def pair(tmp_path):
    with peers(tmp_path, "first", "second", kill=True) as group:
        yield tuple(group.servers)


def service_tasks(ecs) -> list[dict]:
    arns = ecs.list_tasks(cluster="default", serviceName="web")["taskArns"]
    return ecs.describe_tasks(cluster="default", tasks=arns)["tasks"] if arns else []


def test_the_agent_and_the_cli_move_to_the_surviving_server(pair, tmp_path):
    first, second = pair
    ecs = second.client("ecs", REGION)
    ecs.create_cluster(clusterName="default")
    log = tmp_path / "agent.log"
    agent = AgentProcess(first, REGION, f"{REGION}a", tmp_path / "agent",
                         extra=["--endpoint", second.endpoint])
    agent.args[agent.args.index("warning")] = "info"
    agent.process = subprocess.Popen(agent.args, cwd=ROOT, stdout=open(log, "wb"),
                                     stderr=subprocess.STDOUT)
    try:
        (instance,) = wait_for(lambda: ecs.list_container_instances(
            filter="agentConnected == true")["containerInstanceArns"], timeout=30)
        definition = ecs.register_task_definition(family="web", containerDefinitions=[
            {"name": "app", "image": "busybox", "memory": 128}])["taskDefinition"]
        ecs.create_service(serviceName="web", taskDefinition=definition["taskDefinitionArn"],
                           desiredCount=1)
        (running,) = wait_for(lambda: [t for t in service_tasks(ecs)
                                       if t["lastStatus"] == "RUNNING"], timeout=30)

        first.kill()
        killed = time.monotonic()
        wait_for(lambda: f"moving to {second.endpoint}" in log.read_text(), timeout=15)
        # Past AGENT_TIMEOUT an agent that stopped polling is marked disconnected and its
        # service's task replaced; this one polls the survivor, so neither happens.
        time.sleep(max(0.0, AGENT_TIMEOUT + 3 - (time.monotonic() - killed)))
        found = ecs.describe_container_instances(containerInstances=[instance])[
            "containerInstances"][0]
        assert found["agentConnected"] is True
        (task,) = service_tasks(ecs)
        assert (task["taskArn"], task["lastStatus"]) == (running["taskArn"], "RUNNING")
        assert task["startedAt"] == running["startedAt"]
        # The agent works through the survivor: a new task is started and reported.
        new = ecs.run_task(taskDefinition=definition["taskDefinitionArn"])["tasks"][0]
        wait_for(lambda: ecs.describe_tasks(tasks=[new["taskArn"]])["tasks"][0][
            "lastStatus"] == "RUNNING", timeout=20)

        # The CLI: the dead server first. boto3 (nozama deploy) from a comma list in
        # NOZAMA_ENDPOINT, urllib (nozama functions) from a repeated --endpoint.
        env = {k: v for k, v in second.client_env().items() if k != "AWS_ENDPOINT_URL"}
        env["NOZAMA_ENDPOINT"] = f"{first.endpoint},{second.endpoint}"
        deploy = nozama(env, "deploy", "web", "--task-definition", "web:1", "--no-watch",
                        "--region", REGION)
        assert deploy.returncode == 0, deploy.stderr
        listing = nozama(env, "functions", "deployment", "list", "--region", REGION,
                         "--endpoint", first.endpoint, "--endpoint", second.endpoint)
        assert (listing.returncode, listing.stdout) == (0, ""), listing.stderr
        # With the dead server alone, the command says it cannot reach it.
        alone = nozama(env, "functions", "deployment", "list", "--endpoint", first.endpoint)
        assert alone.returncode == 2 and f"cannot reach Nozama at {first.endpoint}" in \
            alone.stderr
    finally:
        agent.stop()
    assert "Traceback" not in log.read_text()


def nozama(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nozama", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env)
