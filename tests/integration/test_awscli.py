"""The real AWS CLI (awscli v1) against Nozama: what a user typing `aws ecs ...` sees.

The CLI runs as `python -m awscli` from the test's own interpreter, with dummy
credentials and no config file, pointed at the server with --endpoint-url.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

ACCOUNT = "000000000000"


@pytest.fixture
def aws(server, region, tmp_path):
    """Run `aws <args>` against the server in the test's region; returns the process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=server.credentials[0],
               AWS_SECRET_ACCESS_KEY=server.credentials[1],
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1", HOME=str(tmp_path))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.endpoint,
                   "--region", region, "--output", "json"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        if check:
            assert done.returncode == 0, (
                f"aws {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    return run


def run_json(aws, *args: str) -> dict:
    done = aws(*args)
    return json.loads(done.stdout)


def tags_of(items: list[dict]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in items}


def test_cluster_lifecycle(aws, region):
    arn = f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/cli-cluster"

    created = run_json(aws, "ecs", "create-cluster", "--cluster-name", "cli-cluster",
                       "--tags", "key=team,value=platform", "key=env,value=dev")["cluster"]
    assert created["clusterArn"] == arn
    assert created["clusterName"] == "cli-cluster"
    assert created["status"] == "ACTIVE"
    assert tags_of(created["tags"]) == {"team": "platform", "env": "dev"}

    assert run_json(aws, "ecs", "list-clusters")["clusterArns"] == [arn]

    described = run_json(aws, "ecs", "describe-clusters", "--clusters", "cli-cluster",
                         "--include", "TAGS")
    assert described["failures"] == []
    [cluster] = described["clusters"]
    assert cluster["clusterArn"] == arn
    assert cluster["status"] == "ACTIVE"
    assert cluster["registeredContainerInstancesCount"] == 0
    assert tags_of(cluster["tags"]) == {"team": "platform", "env": "dev"}

    deleted = run_json(aws, "ecs", "delete-cluster", "--cluster", "cli-cluster")["cluster"]
    assert deleted["clusterArn"] == arn
    assert deleted["status"] == "INACTIVE"
    assert run_json(aws, "ecs", "list-clusters")["clusterArns"] == []
    after = run_json(aws, "ecs", "describe-clusters", "--clusters", arn)
    # ECS keeps describing a deleted cluster, as INACTIVE.
    assert [c["status"] for c in after["clusters"]] == ["INACTIVE"]


def test_task_definitions_from_cli_input_json(aws, region, tmp_path):
    definition = {
        "family": "cli-web",
        "networkMode": "bridge",
        "containerDefinitions": [{
            "name": "web",
            "image": "nginx:1.27",
            "memory": 256,
            "cpu": 128,
            "essential": True,
            "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "MODE", "value": "cli"}],
        }],
        "tags": [{"key": "owner", "value": "cli-test"}],
    }
    path = tmp_path / "task-definition.json"
    path.write_text(json.dumps(definition))

    arns = []
    for revision in (1, 2):
        registered = run_json(aws, "ecs", "register-task-definition",
                              "--cli-input-json", f"file://{path}")
        body = registered["taskDefinition"]
        arn = f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/cli-web:{revision}"
        assert body["taskDefinitionArn"] == arn
        assert body["family"] == "cli-web"
        assert body["revision"] == revision
        assert body["status"] == "ACTIVE"
        assert tags_of(registered["tags"]) == {"owner": "cli-test"}
        arns.append(arn)

    latest = run_json(aws, "ecs", "describe-task-definition",
                      "--task-definition", "cli-web")["taskDefinition"]
    assert latest["taskDefinitionArn"] == arns[1]
    assert latest["revision"] == 2
    [container] = latest["containerDefinitions"]
    assert container["name"] == "web"
    assert container["image"] == "nginx:1.27"
    assert container["memory"] == 256
    assert container["portMappings"] == [{"containerPort": 80, "hostPort": 8080,
                                          "protocol": "tcp"}]
    assert container["environment"] == [{"name": "MODE", "value": "cli"}]

    first = run_json(aws, "ecs", "describe-task-definition", "--task-definition", "cli-web:1",
                     "--include", "TAGS")
    assert first["taskDefinition"]["revision"] == 1
    assert tags_of(first["tags"]) == {"owner": "cli-test"}

    listed = run_json(aws, "ecs", "list-task-definitions", "--family-prefix", "cli-web")
    assert listed["taskDefinitionArns"] == arns
    newest_first = run_json(aws, "ecs", "list-task-definitions", "--family-prefix", "cli-web",
                            "--sort", "DESC")
    assert newest_first["taskDefinitionArns"] == arns[::-1]
    families = run_json(aws, "ecs", "list-task-definition-families", "--family-prefix", "cli")
    assert families["families"] == ["cli-web"]


def test_cli_paginates_list_clusters(aws, ecs, region):
    names = [f"page-{i:02d}" for i in range(7)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    # --page-size makes the CLI follow nextToken across several small pages.
    listed = run_json(aws, "ecs", "list-clusters", "--page-size", "3")
    assert sorted(listed["clusterArns"]) == [f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{n}"
                                             for n in names]


def test_describe_missing_task_definition_fails(aws):
    done = aws("ecs", "describe-task-definition", "--task-definition", "nope", check=False)
    assert done.returncode in (254, 255), (done.returncode, done.stderr)
    assert "ClientException" in done.stderr
    assert "DescribeTaskDefinition" in done.stderr
    assert done.stdout == ""


def test_delete_missing_cluster_fails(aws):
    done = aws("ecs", "delete-cluster", "--cluster", "missing", check=False)
    assert done.returncode in (254, 255), (done.returncode, done.stderr)
    assert "ClusterNotFoundException" in done.stderr
    assert done.stdout == ""


def test_ec2_networking(aws, region):
    from support.networks import default_vpc
    vpcs = run_json(aws, "ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")
    assert [(v["VpcId"], v["CidrBlock"]) for v in vpcs["Vpcs"]] == [
        (default_vpc(region), "172.31.0.0/16")]
    group = run_json(aws, "ec2", "create-security-group", "--group-name", "web",
                     "--description", "web servers")["GroupId"]
    aws("ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp",
        "--port", "80", "--cidr", "0.0.0.0/0")
    [found] = run_json(aws, "ec2", "describe-security-groups", "--group-ids",
                       group)["SecurityGroups"]
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], p["IpRanges"])
            for p in found["IpPermissions"]] == [("tcp", 80, 80, [{"CidrIp": "0.0.0.0/0"}])]
    done = aws("ec2", "delete-vpc", "--vpc-id", "vpc-0123456789abcdef0", check=False)
    assert done.returncode != 0 and "InvalidVpcID.NotFound" in done.stderr


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_cloudwatch_metrics(aws):
    aws("cloudwatch", "put-metric-data", "--namespace", "Shop", "--metric-name", "Orders",
        "--value", "3", "--unit", "Count", "--dimensions", "Store=berlin")
    aws("cloudwatch", "put-metric-data", "--namespace", "Shop", "--metric-name", "Orders",
        "--value", "4", "--unit", "Count", "--dimensions", "Store=berlin")
    listed = run_json(aws, "cloudwatch", "list-metrics", "--namespace", "Shop")
    assert listed["Metrics"] == [{"Namespace": "Shop", "MetricName": "Orders",
                                  "Dimensions": [{"Name": "Store", "Value": "berlin"}]}]
    found = run_json(aws, "cloudwatch", "get-metric-statistics", "--namespace", "Shop",
                     "--metric-name", "Orders", "--dimensions", "Name=Store,Value=berlin",
                     "--start-time", _iso(time.time() - 86400), "--end-time",
                     _iso(time.time() + 86400), "--period", str(3 * 86400), "--statistics",
                     "Sum", "SampleCount")
    assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in found["Datapoints"]] == [
        (7.0, 2.0, "Count")]
    done = aws("cloudwatch", "put-metric-data", "--namespace", "AWS/EC2", "--metric-name",
               "CPUUtilization", "--value", "1", check=False)
    assert done.returncode != 0 and "InvalidParameterValue" in done.stderr


def test_start_live_tail_prints_the_events_put_while_it_runs(server, region, tmp_path):
    """`aws logs start-live-tail` streams a group's new events (with host prefix injection
    off, as for any local endpoint: stream-127.0.0.1 does not resolve)."""
    import queue
    import threading

    logs = server.client("logs", region)
    logs.create_log_group(logGroupName="/cli/tail")
    logs.create_log_stream(logGroupName="/cli/tail", logStreamName="web")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=server.credentials[0],
               AWS_SECRET_ACCESS_KEY=server.credentials[1],
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", AWS_DISABLE_HOST_PREFIX_INJECTION="true",
               HOME=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-m", "awscli", "logs", "start-live-tail", "--log-group-identifiers",
         f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/cli/tail", "--endpoint-url",
         server.endpoint, "--region", region], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    try:
        seen = []
        deadline = time.monotonic() + 30
        while "deployed v2" not in seen and time.monotonic() < deadline:
            # Put until the session (started whenever the CLI got going) shows it.
            logs.put_log_events(logGroupName="/cli/tail", logStreamName="web", logEvents=[
                {"timestamp": int(time.time() * 1000), "message": "deployed v2"}])
            try:
                seen.append(lines.get(timeout=1.5).strip())
            except queue.Empty:
                assert process.poll() is None, process.stderr.read()
        assert "deployed v2" in seen
    finally:
        process.terminate()
        process.wait(timeout=10)
