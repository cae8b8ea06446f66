"""An instance's remainingResources and task counts come from its tasks' reservation
columns (migration 0014 moved them out of the task documents): the same figures as
before, through a burst of reports, and across the migration both ways."""

from __future__ import annotations

import json

import pytest

from nozama.controllers import agents
from nozama.store import Store, sql
from nozama.store import container_instances as instance_store
from support.migrations import downgrade_to
from support.service_harness import Cloud

pytestmark = pytest.mark.store_matrix


def _one_instance(cloud: Cloud) -> str:
    """An instance of 4096 CPU units and 8192 MiB, five TCP ports taken, whose agent polls."""
    arn = cloud.ecs("RegisterContainerInstance", instanceIdentityDocument=json.dumps(
        {"instanceId": "i-1", "availabilityZone": "us-east-1a"}), totalResources=[
        {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
        {"name": "PORTS", "type": "STRINGSET",
         "stringSetValue": ["22", "2375", "2376", "51678", "51679"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}])[
        "containerInstance"]["containerInstanceArn"]
    with cloud.store.write() as conn:
        instance_store.save(conn, arn, agent_connected=True)
    return arn


def _definition(cloud: Cloud, family: str, **container) -> str:
    return cloud.ecs("RegisterTaskDefinition", family=family, containerDefinitions=[{
        "name": "app", "image": "busybox", **container}])["taskDefinition"]["taskDefinitionArn"]


def _start(cloud: Cloud, instance: str, definition: str) -> str:
    return cloud.ecs("StartTask", taskDefinition=definition, containerInstances=[instance])[
        "tasks"][0]["taskArn"]


def _report(cloud: Cloud, instance: str, task: str, status: str) -> None:
    agents.report(cloud.ctx, instance, [{"taskArn": task, "lastStatus": status}])


def _described(cloud: Cloud, instance: str) -> dict:
    found = cloud.ecs("DescribeContainerInstances", containerInstances=[instance])[
        "containerInstances"][0]
    return {"remaining": {r["name"]: r.get("integerValue", r.get("stringSetValue"))
                          for r in found["remainingResources"]},
            "running": found["runningTasksCount"], "pending": found["pendingTasksCount"]}


def test_a_burst_of_reports_keeps_the_figures_exact(tmp_path, store_url):
    cloud = Cloud(tmp_path / "data", store_url)
    instance = _one_instance(cloud)  # 4096 CPU units, 8192 MiB
    plain = _definition(cloud, "plain", cpu=10, memory=20)
    tcp = [_definition(cloud, f"tcp{p}", cpu=1, memoryReservation=8, memory=64, portMappings=[
        {"containerPort": 80, "hostPort": p}, {"containerPort": 53, "hostPort": p + 1,
                                               "protocol": "udp"}]) for p in (9000, 8000)]
    tasks = [_start(cloud, instance, plain) for _ in range(30)]
    ported = [_start(cloud, instance, d) for d in tcp]
    assert _described(cloud, instance) == {"remaining": {
        "CPU": 4096 - 300 - 2, "MEMORY": 8192 - 600 - 16, "PORTS": ["22", "2375", "2376",
        "51678", "51679", "9000", "8000"], "PORTS_UDP": ["9001", "8001"]},
        "running": 0, "pending": 32}
    for task in tasks[:20] + ported[:1]:
        _report(cloud, instance, task, "RUNNING")
    for task in tasks[:5]:
        _report(cloud, instance, task, "STOPPED")
    _report(cloud, instance, ported[1], "STOPPED")  # its ports are free again
    assert _described(cloud, instance) == {"remaining": {
        "CPU": 4096 - 250 - 1, "MEMORY": 8192 - 500 - 8, "PORTS": ["22", "2375", "2376",
        "51678", "51679", "9000"], "PORTS_UDP": ["9001"]}, "running": 16, "pending": 10}
    # The freed port takes a task again.
    _start(cloud, instance, tcp[1])
    assert _described(cloud, instance)["remaining"]["PORTS"][-2:] == ["9000", "8000"]


def test_migration_moves_reservations_into_columns_and_back(tmp_path, store_url):
    cloud = Cloud(tmp_path / "data", store_url)
    instance = _one_instance(cloud)
    ported = _definition(cloud, "ported", cpu=7, memory=30, portMappings=[
        {"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "hostPort": 5353,
                                                  "protocol": "udp"}])
    first, second = _start(cloud, instance, ported), _start(cloud, instance,
                                                            _definition(cloud, "plain", memory=50))
    _report(cloud, instance, first, "RUNNING")
    before = _described(cloud, instance)
    assert before["remaining"]["PORTS"][-1] == "8080" and before["running"] == 1
    cloud.store.close()

    store = Store.open(store_url, migrate=False)
    downgrade_to(store, "0014")
    with store.read() as conn:
        docs = {r.arn: r.doc for r in sql.all_rows(conn, "SELECT arn, doc FROM tasks")}
    # What the code before 0015 wrote in each task's document.
    assert docs[first]["reservation"] == {"cpu": 7, "memory": 30, "ports": [8080],
                                          "portsUdp": [5353]}
    assert docs[second]["reservation"] == {"cpu": 0, "memory": 50, "ports": [],
                                           "portsUdp": []}
    store.close()

    cloud.open()  # migrates to the head again: the columns are filled from the documents
    with cloud.store.read() as conn:
        rows = {r.arn: r for r in sql.all_rows(conn, "SELECT * FROM tasks")}
    assert (rows[first].reserved_cpu, rows[first].reserved_memory, rows[first].reserved_ports,
            rows[first].reserved_ports_udp) == (7, 30, "8080", "5353")
    assert "reservation" not in rows[first].doc
    assert _described(cloud, instance)["remaining"] == before["remaining"]
    _report(cloud, instance, second, "RUNNING")
    _report(cloud, instance, first, "STOPPED")
    after = _described(cloud, instance)
    assert (after["running"], after["pending"]) == (1, 0)
    assert after["remaining"]["CPU"] == before["remaining"]["CPU"] + 7
    assert "8080" not in after["remaining"]["PORTS"] and after["remaining"]["PORTS_UDP"] == []
