"""Workloads call Nozama as their IAM role, with an unmodified SDK, as in AWS: a task's
containers get the task role's credentials from the agent's ECS credentials endpoint
(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), a function's workers get its execution role's
in their environment. Seen from inside: boto3 in a real Docker task and in a real
function worker calls an operation the role allows, and one it does not.

The server verifies every signature (--auth on) and listens on the Docker bridge's
gateway address, where a bridge-mode container reaches the host.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import docker
import pytest

from support.agents import AgentPool
from support.packages import zip_package
from support.servers import NozamaServer
from support.waiting import wait_for

IMAGE = "nozama-test/busybox:latest"
ACCOUNT = "000000000000"

# Allows ListClusters, and nothing else.
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}]}

# What both workloads run: who they are, an allowed call and a denied one.
PROBE = '''\
import json, os
import boto3
from botocore.exceptions import ClientError

def probe():
    outcome = {"identity": boto3.client("sts").get_caller_identity()["Arn"],
               "uri": os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")}
    ecs = boto3.client("ecs")
    outcome["allowed"] = ecs.list_clusters()["clusterArns"]
    try:
        ecs.create_cluster(clusterName="not-allowed")
        outcome["denied"] = None
    except ClientError as error:
        outcome["denied"] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]
    return outcome
'''


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def gateway() -> str:
    """The Docker bridge's gateway: the host's address on the containers' network."""
    engine = docker.from_env()
    return engine.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory, gateway):
    tmp = tmp_path_factory.mktemp("workload-credentials")
    server = NozamaServer(["--data-dir", str(tmp / "data"), "--auth", "on", "--host", gateway],
                          tmp / "server.log")
    server.endpoint = f"http://{gateway}:{server.port}"
    server.start()
    text = (tmp / "data" / "admin-credentials").read_text()
    server.admin = (text.split("aws_access_key_id = ")[1].split()[0],
                    text.split("aws_secret_access_key = ")[1].split()[0])
    yield server
    server.stop()


def client(server, service: str, region: str = "us-east-1"):
    key, secret = server.admin
    return boto3.client(service, endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def make_role(server, name: str, service: str) -> str:
    iam = client(server, "iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="list-clusters",
                        PolicyDocument=json.dumps(POLICY))
    return arn


def assert_least_privilege(outcome: dict, role: str, session: str) -> None:
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"
    assert outcome["identity"] == principal
    assert isinstance(outcome["allowed"], list)
    code, message = outcome["denied"]
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: {principal} is not authorized to perform: "
                              "ecs:CreateCluster")


def test_a_function_calls_as_its_execution_role(secured, region):
    role = make_role(secured, "function-role", "lambda.amazonaws.com")
    lam = client(secured, "lambda", region)
    lam.create_function(FunctionName="prober", Runtime="python3.11", Role=role,
                        Handler="app.handler", Timeout=30, MemorySize=256,
                        Code={"ZipFile": zip_package(app=PROBE + (
                            "\ndef handler(event, context):\n    return probe()\n"))})
    try:
        answer = lam.invoke(FunctionName="prober")
        outcome = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, outcome
        assert_least_privilege(outcome, "function-role", "prober")
        assert outcome["uri"] is None
    finally:
        lam.delete_function(FunctionName="prober")


@pytest.fixture
def docker_agent(secured, region, tmp_path):
    """One Docker agent of the secured server; its stopped tasks' containers stay (for
    their output) until the test removes them."""
    pool = AgentPool(secured, region, tmp_path)
    pool(1, runtime="docker", extra=["--cleanup-wait", "600"])
    ecs = client(secured, "ecs", region)
    (instance,) = wait_for(lambda: ecs.list_container_instances(
        filter="agentConnected == true")["containerInstanceArns"] if ecs.describe_clusters(
        clusters=["default"])["clusters"] else [], timeout=30)
    yield instance
    pool.stop()
    # The next test's agent registers this host's address again: free it.
    ecs.deregister_container_instance(containerInstance=instance, force=True)
    engine = docker.from_env()
    for container in engine.containers.list(all=True, sparse=True, filters={
            "label": f"io.nozama.container-instance-arn={instance}"}):
        container.remove(force=True)


@pytest.mark.parametrize("network_mode", ["bridge", "host"])
def test_a_task_calls_as_its_task_role(secured, region, docker_agent, network_mode):
    role = make_role(secured, f"task-role-{network_mode}", "ecs-tasks.amazonaws.com")
    ecs = client(secured, "ecs", region)
    # busybox has no Python: the container runs the host's, in the host's root mounted
    # read-only (the environment, and so the credentials URI, passes through chroot).
    script = PROBE + "\nprint(json.dumps(probe()))\n"
    definition = ecs.register_task_definition(
        family="prober", taskRoleArn=role, networkMode=network_mode,
        volumes=[{"name": "host", "host": {"sourcePath": "/"}}],
        containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 256, "essential": True,
            "mountPoints": [{"sourceVolume": "host", "containerPath": "/host",
                             "readOnly": True}],
            "environment": [
                {"name": "AWS_ENDPOINT_URL", "value": secured.endpoint},
                {"name": "AWS_DEFAULT_REGION", "value": region},
                {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "command": ["chroot", "/host", sys.executable, "-c", script]}],
    )["taskDefinition"]
    run = ecs.run_task(taskDefinition=definition["taskDefinitionArn"])
    assert run["failures"] == []
    task = run["tasks"][0]
    stopped = wait_for(lambda: (t := ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0])[
        "lastStatus"] == "STOPPED" and t, timeout=90)
    container = stopped["containers"][0]
    output = docker.from_env().containers.get(container["runtimeId"]).logs().decode()
    assert container["exitCode"] == 0, output
    outcome = json.loads(output.strip().splitlines()[-1])
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    assert_least_privilege(outcome, f"task-role-{network_mode}", task_id)
    assert outcome["uri"].startswith("/v2/credentials/")
    # Once the task has stopped, the endpoint no longer knows its credentials.
    credentials_id = outcome["uri"].rsplit("/", 1)[-1]
    answer = wait_for(lambda: (a := _endpoint(credentials_id))[0] == 400 and a, timeout=10)
    assert answer[1]["code"] == "InvalidIdInRequest"


def _endpoint(credentials_id: str) -> tuple[int, dict]:
    """What the host's credentials endpoint answers for an id (0 when nothing listens)."""
    try:
        with urllib.request.urlopen(f"http://169.254.170.2/v2/credentials/{credentials_id}",
                                    timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except urllib.error.URLError:
        return 0, {}


# --- renewal and agent restarts, on simulated tasks --------------------------------------

SESSION_SECONDS = 24      # renewed every 12 s: a few long polls (5 s in the tests)
CREDENTIALS_DIR = Path("/run/nozama/task-credentials")


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory):
    """A server whose role sessions last SESSION_SECONDS."""
    tmp = tmp_path_factory.mktemp("short-sessions")
    server = NozamaServer(["--data-dir", str(tmp / "data"), "--auth", "on"], tmp / "server.log",
                          env={"NOZAMA_ROLE_SESSION_SECONDS": str(SESSION_SECONDS)}).start()
    text = (tmp / "data" / "admin-credentials").read_text()
    server.admin = (text.split("aws_access_key_id = ")[1].split()[0],
                    text.split("aws_secret_access_key = ")[1].split()[0])
    yield server
    server.stop()


def caller(server, credentials: dict) -> str:
    """Whom the server takes credentials the endpoint served for (an error code if none)."""
    sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                       aws_access_key_id=credentials["AccessKeyId"],
                       aws_secret_access_key=credentials["SecretAccessKey"],
                       aws_session_token=credentials["Token"],
                       config=botocore.config.Config(retries={"max_attempts": 1}))
    try:
        return sts.get_caller_identity()["Arn"]
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"]


def credentials_id_of(task_arn: str) -> str | None:
    """The id of a task's credentials, from the host's directory (root reads it)."""
    for path in CREDENTIALS_DIR.glob("*.json"):
        try:
            if json.loads(path.read_text())["taskArn"] == task_arn:
                return path.stem
        except (OSError, ValueError):
            continue
    return None


def test_credentials_are_renewed_under_the_same_id_and_survive_an_agent_restart(
        short_sessions, region, tmp_path):
    server = short_sessions
    role = make_role(server, "renewed", "ecs-tasks.amazonaws.com")
    ecs = client(server, "ecs", region)
    pool = AgentPool(server, region, tmp_path)
    (agent,) = pool(1, runtime="simulated")
    try:
        wait_for(lambda: ecs.describe_clusters(clusters=["default"])["clusters"] and
                 ecs.list_container_instances(filter="agentConnected == true")[
                     "containerInstanceArns"], timeout=30)
        definition = ecs.register_task_definition(
            family="renewed", taskRoleArn=role, containerDefinitions=[
                {"name": "app", "image": "app:1", "memory": 32}])["taskDefinition"]
        arn = ecs.run_task(taskDefinition=definition["taskDefinitionArn"])["tasks"][0][
            "taskArn"]
        wait_for(lambda: ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] ==
                 "RUNNING", timeout=30)
        credentials_id = wait_for(lambda: credentials_id_of(arn), timeout=10)
        status, first = _endpoint(credentials_id)
        assert status == 200
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/renewed/{arn.rsplit('/', 1)[-1]}"
        assert first["RoleArn"] == role and caller(server, first) == session

        # Half way through the session, a new one; the agent has it within a long poll.
        renewed = wait_for(lambda: (a := _endpoint(credentials_id)[1]).get("AccessKeyId") not in
                           (None, first["AccessKeyId"]) and a, timeout=SESSION_SECONDS)
        assert renewed["Expiration"] > first["Expiration"]
        assert caller(server, renewed) == session
        assert caller(server, first) == session      # valid until it expires

        # A killed agent loses nothing: its task's credentials are served after it restarts.
        agent.kill()
        agent.start()
        wait_for(lambda: _endpoint(credentials_id)[0] == 200, timeout=30)
        assert caller(server, _endpoint(credentials_id)[1]) == session

        # Stopped, the task's credentials go from the host, and all its sessions with them.
        ecs.stop_task(task=arn)
        wait_for(lambda: _endpoint(credentials_id)[0] == 400, timeout=30)
        assert credentials_id_of(arn) is None
        for credentials in (renewed, first):
            wait_for(lambda: caller(server, credentials) == "InvalidClientTokenId", timeout=10)
    finally:
        pool.stop()
