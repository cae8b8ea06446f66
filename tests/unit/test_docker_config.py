"""The Docker runtime's pure parts, without a Docker Engine: TaskDefinition → the
arguments of `docker create`, the start order, volumes and ports; and how Docker's
inspect data and log lines read back as ECS status and log events."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from nozama.agent.runtimes import docker_config as config
from nozama.agent.runtimes.base import (
    LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_INSTANCE, LABEL_REVISION,
    LABEL_TASK_ARN, NetworkBinding,
)
from nozama.agent.runtimes.docker_logs import parse_line
from nozama.kernel.clock import Clock, FakeClock
from nozama.agent.runtimes.docker_state import (
    OOM_REASON, condition_failure, condition_holds, record_from_inspect, stop_order,
    task_from_inspect, task_health,
)

TASK_ARN = "arn:aws:ecs:us-east-1:000000000000:task/prod/0123456789abcdef"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/i-1"


def task(**overrides) -> dict:
    return {"taskArn": TASK_ARN, "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/prod",
            "overrides": {"containerOverrides": [{"name": n, **o} for n, o in overrides.items()]}}


def definition(*containers: dict, **task_level) -> dict:
    return {"family": "shop", "revision": 7, "containerDefinitions": list(containers),
            **task_level}


def kwargs_for(td: dict, name: str | None = None, the_task: dict | None = None,
               choices: config.HostChoices | None = None) -> dict:
    containers = config.effective_containers(the_task or task(), td)
    container = next(c for c in containers if c["name"] == (name or containers[0]["name"]))
    choices = choices or config.HostChoices(
        docker_names={c["name"]: f"ecs-shop-7-{c['name']}-x" for c in containers})
    return config.create_kwargs(the_task or task(), td, container, instance_arn=INSTANCE,
                                cluster="prod", choices=choices, region="eu-west-1")


# --- process, overrides and labels ---------------------------------------------------

def test_command_entry_point_environment_and_process_settings():
    td = definition({"name": "web", "image": "nginx:1.25", "command": ["run", "--fast"],
                     "entryPoint": ["/init"], "workingDirectory": "/srv", "user": "1000",
                     "hostname": "web1",
                     "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})
    kwargs = kwargs_for(td)
    assert kwargs["image"] == "nginx:1.25"
    assert kwargs["command"] == ["run", "--fast"] and kwargs["entrypoint"] == ["/init"]
    assert kwargs["environment"] == {"A": "1", "B": "2"}
    assert (kwargs["working_dir"], kwargs["user"], kwargs["hostname"]) == ("/srv", "1000", "web1")
    assert kwargs["network_mode"] == "bridge"
    assert kwargs["name"] == "ecs-shop-7-web-x"


def test_container_overrides_replace_command_and_merge_environment():
    td = definition({"name": "web", "image": "i", "command": ["a"], "cpu": 10, "memory": 100,
                     "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})
    the_task = task(web={"command": ["b"], "cpu": 512, "memory": 256, "memoryReservation": 128,
                         "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]})
    kwargs = kwargs_for(td, the_task=the_task)
    assert kwargs["command"] == ["b"]
    assert kwargs["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert (kwargs["cpu_shares"], kwargs["mem_limit"], kwargs["mem_reservation"]) == \
        (512, "256m", "128m")


def test_docker_container_names_follow_ecs():
    name = config.docker_container_name(definition(), "web")
    assert re.fullmatch(r"ecs-shop-7-web-[0-9a-f]{20}", name)
    assert name != config.docker_container_name(definition(), "web")


def test_labels_identify_task_container_and_instance():
    td = definition({"name": "web", "image": "i", "essential": False, "stopTimeout": 5,
                     "dockerLabels": {"team": "shop", LABEL_TASK_ARN: "spoofed"}})
    labels = kwargs_for(td)["labels"]
    assert labels[LABEL_TASK_ARN] == TASK_ARN
    assert labels[LABEL_CONTAINER_NAME] == "web"
    assert labels[LABEL_CLUSTER] == "prod"
    assert labels[LABEL_FAMILY] == "shop" and labels[LABEL_REVISION] == "7"
    assert labels[LABEL_INSTANCE] == INSTANCE
    assert labels["team"] == "shop"
    assert labels[config.LABEL_ESSENTIAL] == "false"
    assert labels[config.LABEL_STOP_TIMEOUT] == "5"


# --- resources ----------------------------------------------------------------------

@pytest.mark.parametrize("cpu, shares", [(None, 2), (0, 2), (1, 2), (2, 2), (256, 256)])
def test_cpu_becomes_cpu_shares_of_at_least_two(cpu, shares):
    container = {"name": "web", "image": "i"}
    if cpu is not None:
        container["cpu"] = cpu
    assert kwargs_for(definition(container))["cpu_shares"] == shares


def test_memory_limits_and_task_memory_as_the_default_limit():
    td = definition({"name": "a", "image": "i", "memory": 64, "memoryReservation": 32},
                    {"name": "b", "image": "i", "memoryReservation": 16}, memory="1 GB")
    a, b = kwargs_for(td, "a"), kwargs_for(td, "b")
    assert (a["mem_limit"], a["mem_reservation"]) == ("64m", "32m")
    assert (b["mem_limit"], b["mem_reservation"]) == ("1024m", "16m")
    assert "mem_limit" not in kwargs_for(definition({"name": "c", "image": "i"}))


def test_ulimits_and_linux_parameters():
    td = definition({"name": "web", "image": "i", "memory": 100,
                     "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
                     "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                                         "initProcessEnabled": True, "sharedMemorySize": 64,
                                         "maxSwap": 50, "swappiness": 10,
                                         "tmpfs": [{"containerPath": "/tmp", "size": 32,
                                                    "mountOptions": ["noexec"]}]}})
    kwargs = kwargs_for(td)
    assert kwargs["ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 4096}]
    assert kwargs["cap_add"] == ["NET_ADMIN"] and kwargs["cap_drop"] == ["MKNOD"]
    assert kwargs["init"] is True and kwargs["shm_size"] == "64m"
    assert kwargs["memswap_limit"] == "150m" and kwargs["mem_swappiness"] == 10
    assert kwargs["tmpfs"] == {"/tmp": "size=32m,noexec"}


# --- health checks -----------------------------------------------------------------

def test_health_check_in_nanoseconds():
    td = definition({"name": "web", "image": "i", "healthCheck": {
        "command": ["CMD-SHELL", "curl -f localhost"], "interval": 10, "timeout": 3,
        "retries": 4, "startPeriod": 20}})
    assert kwargs_for(td)["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -f localhost"], "interval": 10 * 10**9,
        "timeout": 3 * 10**9, "retries": 4, "start_period": 20 * 10**9}


def test_health_check_defaults_and_bare_commands():
    check = config.healthcheck({"healthCheck": {"command": ["/bin/check"]}})
    assert check == {"test": ["CMD", "/bin/check"], "interval": 30 * 10**9,
                     "timeout": 5 * 10**9, "retries": 3, "start_period": 0}
    assert config.healthcheck({"name": "x"}) is None


# --- ports and networking ------------------------------------------------------------

def test_bridge_ports_static_and_dynamic():
    td = definition({"name": "web", "image": "i", "portMappings": [
        {"containerPort": 80, "hostPort": 8080}, {"containerPort": 443, "hostPort": 0},
        {"containerPort": 53, "protocol": "udp"}]})
    requests = config.port_requests(td["containerDefinitions"][0], "bridge")
    assert [r.host_port for r in requests] == [8080, None, None]
    choices = config.HostChoices(docker_names={"web": "d"},
                                 host_ports={"web": {(443, "tcp"): 50001, (53, "udp"): 50002}})
    kwargs = kwargs_for(td, choices=choices)
    assert kwargs["ports"] == {"80/tcp": 8080, "443/tcp": 50001, "53/udp": 50002}
    assert config.network_bindings(requests, choices.host_ports["web"]) == [
        NetworkBinding(80, 8080), NetworkBinding(443, 50001), NetworkBinding(53, 50002, "udp")]
    assert json.loads(kwargs["labels"][config.LABEL_BINDINGS]) == [
        [80, 8080, "tcp"], [443, 50001, "tcp"], [53, 50002, "udp"]]


def test_host_mode_binds_container_ports_and_drops_hostname():
    td = definition({"name": "web", "image": "i", "hostname": "h",
                     "portMappings": [{"containerPort": 9000}]}, networkMode="host")
    kwargs = kwargs_for(td)
    assert kwargs["network_mode"] == "host"
    assert "ports" not in kwargs and "hostname" not in kwargs
    requests = config.port_requests(td["containerDefinitions"][0], "host")
    assert config.network_bindings(requests, {}) == [NetworkBinding(9000, 9000)]


def test_none_mode_publishes_nothing():
    td = definition({"name": "web", "image": "i", "portMappings": [{"containerPort": 80}]},
                    networkMode="none")
    kwargs = kwargs_for(td)
    assert kwargs["network_mode"] == "none" and "ports" not in kwargs
    assert config.port_requests(td["containerDefinitions"][0], "none") == []


def test_links_use_docker_names_with_aliases():
    td = definition({"name": "app", "image": "i", "links": ["db:database", "cache"]},
                    {"name": "db", "image": "i"}, {"name": "cache", "image": "i"})
    assert kwargs_for(td, "app")["links"] == {"ecs-shop-7-db-x": "database",
                                              "ecs-shop-7-cache-x": "cache"}


# --- volumes --------------------------------------------------------------------------

def test_volume_plans():
    plans = config.volume_plans(definition(volumes=[
        {"name": "logs", "host": {"sourcePath": "/var/log/app"}},
        {"name": "scratch"},
        {"name": "empty-host", "host": {}},
        {"name": "cache", "dockerVolumeConfiguration": {
            "scope": "task", "driver": "local", "driverOpts": {"type": "tmpfs"},
            "labels": {"a": "b"}}},
        {"name": "common", "dockerVolumeConfiguration": {"scope": "shared",
                                                         "autoprovision": False}}]))
    assert [(p.name, p.kind) for p in plans] == [
        ("logs", "bind"), ("scratch", "task"), ("empty-host", "task"), ("cache", "task"),
        ("common", "shared")]
    assert plans[0].source == "/var/log/app"
    assert plans[3].driver_opts == {"type": "tmpfs"} and plans[3].labels == {"a": "b"}
    assert plans[4].autoprovision is False


def test_mount_points_and_volumes_from():
    td = definition({"name": "app", "image": "i", "mountPoints": [
        {"sourceVolume": "logs", "containerPath": "/logs"},
        {"sourceVolume": "conf", "containerPath": "/etc/app", "readOnly": True}],
        "volumesFrom": [{"sourceContainer": "data", "readOnly": True}]},
        {"name": "data", "image": "i"})
    choices = config.HostChoices(docker_names={"app": "d-app", "data": "d-data"},
                                 volume_sources={"logs": "/var/log/app", "conf": "vol-123"})
    kwargs = kwargs_for(td, "app", choices=choices)
    assert kwargs["volumes"] == ["/var/log/app:/logs:rw", "vol-123:/etc/app:ro"]
    assert kwargs["volumes_from"] == ["d-data:ro"]


# --- start order --------------------------------------------------------------------------

def test_start_order_follows_depends_on_links_and_volumes_from():
    containers = [
        {"name": "app", "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}],
         "links": ["db"]},
        {"name": "migrate", "volumesFrom": [{"sourceContainer": "data"}]},
        {"name": "db"}, {"name": "data"}]
    order = config.start_order(containers)
    assert order.index("data") < order.index("migrate") < order.index("app")
    assert order.index("db") < order.index("app")


def test_start_order_refuses_cycles():
    with pytest.raises(ValueError):
        config.start_order([{"name": "a", "links": ["b"]}, {"name": "b", "links": ["a"]}])


# --- logs ------------------------------------------------------------------------------------

def test_awslogs_runs_on_json_file_and_names_the_stream_as_ecs():
    td = definition({"name": "web", "image": "i", "logConfiguration": {
        "logDriver": "awslogs", "options": {"awslogs-group": "/ecs/shop",
                                            "awslogs-stream-prefix": "shop",
                                            "awslogs-create-group": "true"}}})
    kwargs = kwargs_for(td)
    assert kwargs["log_config"]["type"] == "json-file"
    target = config.AwsLogs.from_label(kwargs["labels"][config.LABEL_AWSLOGS])
    assert target == config.AwsLogs("/ecs/shop", "shop/web/0123456789abcdef", "eu-west-1",
                                    create_group=True)


def test_other_log_drivers_pass_through():
    td = definition({"name": "web", "image": "i", "logConfiguration": {
        "logDriver": "syslog", "options": {"tag": "web"}}})
    kwargs = kwargs_for(td)
    assert kwargs["log_config"] == {"type": "syslog", "config": {"tag": "web"}}
    assert config.LABEL_AWSLOGS not in kwargs["labels"]


def test_docker_log_lines_carry_their_timestamps():
    assert parse_line("2024-05-01T12:00:00.123456789Z hello world", Clock()) == \
        (1714564800123, "hello world")
    assert parse_line("2024-05-01T12:00:00Z ", Clock()) == (1714564800000, "")


def test_a_log_line_without_a_timestamp_is_stamped_by_the_clock():
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert parse_line("no stamp here", clock) == (1767225600000, "no stamp here")


# --- reading Docker back -----------------------------------------------------------------------

def inspect(name: str, essential: bool = True, **state) -> dict:
    return {"Id": f"id-{name}", "Name": f"/ecs-shop-7-{name}-x",
            "Config": {"Labels": {LABEL_TASK_ARN: TASK_ARN, LABEL_CONTAINER_NAME: name,
                                  config.LABEL_ESSENTIAL: str(essential).lower(),
                                  config.LABEL_STOP_TIMEOUT: "9",
                                  config.LABEL_BINDINGS: "[[80, 50000, \"tcp\"]]"},
                       "Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
            "State": {"Running": False, "ExitCode": 0, "OOMKilled": False, "Error": "",
                      "StartedAt": "2024-05-01T12:00:00.5Z", "FinishedAt": "0001-01-01T00:00:00Z",
                      **state}}


def test_inspect_reads_as_container_status():
    running = record_from_inspect(inspect("web", Running=True, Health={"Status": "healthy"}))
    assert running.status.last_status == "RUNNING" and running.status.health_status == "HEALTHY"
    assert running.stop_timeout == 9 and running.has_health_check
    assert running.status.network_bindings == [NetworkBinding(80, 50000)]
    oom = record_from_inspect(inspect("web", ExitCode=137, OOMKilled=True))
    assert (oom.status.last_status, oom.status.exit_code, oom.status.reason) == \
        ("STOPPED", 137, OOM_REASON)
    failed = record_from_inspect(inspect("web", ExitCode=127, Error="exec: nope",
                                         StartedAt="0001-01-01T00:00:00Z"))
    assert failed.status.last_status == "STOPPED" and failed.status.exit_code is None
    assert failed.status.reason == "CannotStartContainerError: exec: nope"


def test_adopted_task_status_and_health():
    task = task_from_inspect(TASK_ARN, [
        inspect("web", Running=True, Health={"Status": "unhealthy"}),
        inspect("init", essential=False, ExitCode=0, FinishedAt="2024-05-01T12:00:01Z")])
    assert task.status.last_status == "RUNNING"
    assert task.status.health_status == task_health(task) == "UNHEALTHY"
    assert task.containers["init"].status.exit_code == 0
    stopped = task_from_inspect(TASK_ARN, [inspect("web", ExitCode=1,
                                                   FinishedAt="2024-05-01T12:00:01Z")])
    assert stopped.status.last_status == "STOPPED"
    assert stopped.status.stop_code == "EssentialContainerExited"
    assert stopped.status.stopped_at.isoformat() == "2024-05-01T12:00:01+00:00"


def test_depends_on_conditions():
    task = task_from_inspect(TASK_ARN, [
        inspect("ok", essential=False, ExitCode=0), inspect("bad", essential=False, ExitCode=3),
        inspect("up", Running=True, Health={"Status": "starting"})])
    ok, bad, up = (task.containers[n] for n in ("ok", "bad", "up"))
    assert condition_holds(ok, "SUCCESS") and condition_holds(ok, "COMPLETE")
    assert condition_holds(bad, "COMPLETE") and not condition_holds(bad, "SUCCESS")
    assert condition_failure(bad, "SUCCESS") == "exited with code 3"
    assert condition_holds(up, "START") and not condition_holds(up, "HEALTHY")
    assert condition_failure(up, "HEALTHY") is None          # may still become healthy
    up.status.health_status = "UNHEALTHY"
    assert condition_failure(up, "HEALTHY") == "is UNHEALTHY"


def test_dependents_stop_first():
    task = task_from_inspect(TASK_ARN, [inspect("app"), inspect("db"), inspect("proxy")])
    task.depends_on = {"app": ["db"], "proxy": ["app"], "db": []}
    assert stop_order(task) == ["proxy", "app", "db"]
