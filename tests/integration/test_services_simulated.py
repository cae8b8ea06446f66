"""Services keep desiredCount tasks running: placement over zones, replacement,
rolling deployments, the circuit breaker, draining — with simulated agents."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from collections import Counter

import pytest

from support.agents import AgentProcess
from support.networks import subnets_of, vpc_of
from support.servers import NozamaServer
from support.services import connected, definition, running_tasks, service, steady
from support.waiting import wait_for


@pytest.fixture
def three_zones(ecs, agents):
    agents(3)
    return wait_for(lambda: len(connected(ecs)) == 3 and connected(ecs))


def test_a_service_spreads_its_tasks_over_zones_and_reaches_steady_state(ecs, three_zones):
    created = ecs.create_service(serviceName="web", taskDefinition=definition(ecs),
                                 desiredCount=6)["service"]
    assert created["status"] == "ACTIVE" and created["desiredCount"] == 6
    assert created["deployments"][0]["status"] == "PRIMARY"
    s = steady(ecs)
    tasks = running_tasks(ecs)
    assert len(tasks) == 6
    assert set(Counter(t["availabilityZone"] for t in tasks).values()) == {2}
    messages = [e["message"] for e in s["events"]]
    assert messages[0] == "(service web) has reached a steady state."
    assert any("has started" in m for m in messages)
    assert ecs.describe_clusters(clusters=["default"])["clusters"][0][
        "activeServicesCount"] == 1


def test_a_stopped_task_is_replaced(ecs, three_zones):
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=2)
    steady(ecs)
    victim = running_tasks(ecs)[0]["taskArn"]
    ecs.stop_task(task=victim, reason="chaos")
    wait_for(lambda: len(running_tasks(ecs)) == 2 and
             victim not in [t["taskArn"] for t in running_tasks(ecs)], timeout=30)


def test_scaling_in_keeps_zones_balanced(ecs, three_zones):
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=6)
    steady(ecs)
    ecs.update_service(service="web", desiredCount=3)
    steady(ecs, count=3)
    wait_for(lambda: len(running_tasks(ecs)) == 3)
    assert sorted(Counter(t["availabilityZone"] for t in running_tasks(ecs)).values()) == \
        [1, 1, 1]


def test_a_new_revision_rolls_out_and_replaces_every_old_task(ecs, three_zones):
    first = definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition=first, desiredCount=3,
                       deploymentConfiguration={"minimumHealthyPercent": 50,
                                                "maximumPercent": 100})
    steady(ecs)
    second = definition(ecs)
    updated = ecs.update_service(service="web", taskDefinition=second)["service"]
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    s = steady(ecs)
    assert s["taskDefinition"] == second
    wait_for(lambda: {t["taskDefinitionArn"] for t in running_tasks(ecs)} == {second}
             and len(running_tasks(ecs)) == 3)
    assert any("deployment completed" in e["message"] for e in s["events"])


def test_the_circuit_breaker_rolls_a_failing_deployment_back(ecs, three_zones):
    good = definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition=good, desiredCount=2,
                       deploymentConfiguration={"deploymentCircuitBreaker": {
                           "enable": True, "rollback": True}})
    steady(ecs)
    bad = definition(ecs, labels={"nozama.simulated.fail": "pull"})
    ecs.update_service(service="web", taskDefinition=bad)

    def rolled_back():
        s = service(ecs)
        return s["taskDefinition"] == good and s
    s = wait_for(rolled_back, timeout=60)
    assert any("deployment failed" in e["message"] for e in s["events"])
    s = steady(ecs)
    assert {t["taskDefinitionArn"] for t in running_tasks(ecs)} == {good}


def errors_alarm(server, region: str):
    """web-errors: ALARM as soon as a second of the custom metric Web/Errors is above 0."""
    cloudwatch = server.client("cloudwatch", region)
    cloudwatch.put_metric_alarm(
        AlarmName="web-errors", Namespace="Web", MetricName="Errors", Statistic="Sum",
        Period=1, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching")
    return cloudwatch


def test_an_alarm_rolls_a_deployment_back_during_its_bake_time(server, region, ecs,
                                                               three_zones):
    cloudwatch = errors_alarm(server, region)
    good = definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition=good, desiredCount=2)
    steady(ecs)
    bad = definition(ecs)
    watched = {"alarms": {"alarmNames": ["web-errors"], "enable": True, "rollback": True},
               "bakeTimeInMinutes": 10}
    ecs.update_service(service="web", taskDefinition=bad, deploymentConfiguration=watched)
    # The new revision runs, then bakes: it is not complete while its alarms may fire.
    wait_for(lambda: {t["taskDefinitionArn"] for t in running_tasks(ecs)} == {bad} and
             len(running_tasks(ecs)) == 2, timeout=30)
    assert service(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    cloudwatch.put_metric_data(Namespace="Web", MetricData=[
        {"MetricName": "Errors", "Value": 3, "StorageResolution": 1}])

    def rolled_back():
        s = service(ecs)
        return s["taskDefinition"] == good and s
    s = wait_for(rolled_back, timeout=30)
    assert any("deployment failed: alarm(s) web-errors went to ALARM" in e["message"]
               for e in s["events"])
    steady(ecs)
    assert {t["taskDefinitionArn"] for t in running_tasks(ecs)} == {good}
    arns = ecs.list_service_deployments(service="web")["serviceDeployments"]
    failed = [d for d in ecs.describe_service_deployments(serviceDeploymentArns=[
        a["serviceDeploymentArn"] for a in arns])["serviceDeployments"]
        if d["status"].startswith("ROLLBACK")]
    assert [d["status"] for d in failed] == ["ROLLBACK_SUCCESSFUL"]
    assert failed[0]["rollback"]["reason"] == "Alarm(s) web-errors went to ALARM."


@pytest.mark.parametrize("configuration, message", [
    ({"alarms": {"alarmNames": ["no-such-alarm"], "enable": True, "rollback": True}},
     "no-such-alarm do not exist"),
    ({"alarms": {"alarmNames": [], "enable": True, "rollback": True}}, "at least one alarm"),
    ({"bakeTimeInMinutes": 1441}, "bakeTimeInMinutes"),
])
def test_bad_deployment_alarms(ecs, configuration, message):
    ecs.create_cluster(clusterName="default")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as info:
        ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=1,
                           deploymentConfiguration=configuration)
    assert message in str(info.value)
    assert ecs.list_services()["serviceArns"] == []


def moved_off(ecs, drained: str, count: int) -> bool:
    """`count` tasks run, none of them on the `drained` instance (one look at the tasks)."""
    running = running_tasks(ecs)
    return len(running) == count and all(t["containerInstanceArn"] != drained for t in running)


def test_draining_an_instance_moves_its_tasks(ecs, three_zones):
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=3)
    steady(ecs)
    drained = running_tasks(ecs)[0]["containerInstanceArn"]
    ecs.update_container_instances_state(containerInstances=[drained], status="DRAINING")
    wait_for(lambda: moved_off(ecs, drained, 3), timeout=30)


def test_delete_service(ecs, three_zones):
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=2)
    steady(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.delete_service(service="web")
    deleted = ecs.delete_service(service="web", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    wait_for(lambda: service(ecs)["status"] == "INACTIVE", timeout=30)
    assert running_tasks(ecs) == []
    assert ecs.list_services()["serviceArns"] == []


def test_service_bad_input_is_refused(ecs, three_zones):
    td = definition(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=-1)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=1,
                           deploymentConfiguration={"minimumHealthyPercent": 150,
                                                    "maximumPercent": 100})
    ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=0)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=1)
    ecs.deregister_task_definition(taskDefinition=td)
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.create_service(serviceName="other", taskDefinition=td, desiredCount=1)
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.update_service(service="missing", desiredCount=1)
    assert len(ecs.list_services()["serviceArns"]) == 1


def test_deployment_history_and_revisions(ecs, three_zones):
    first = definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition=first, desiredCount=2)
    steady(ecs)
    second = definition(ecs)
    ecs.update_service(service="web", taskDefinition=second)
    steady(ecs)
    listed = wait_for(lambda: (found := ecs.list_service_deployments(service="web")[
        "serviceDeployments"]) and all(d["status"] == "SUCCESSFUL" for d in found) and found)
    assert len(listed) == 2
    newest, oldest = listed
    assert newest["createdAt"] >= oldest["createdAt"]
    described = ecs.describe_service_deployments(
        serviceDeploymentArns=[newest["serviceDeploymentArn"]])["serviceDeployments"][0]
    assert described["targetServiceRevision"]["requestedTaskCount"] == 2
    assert described["sourceServiceRevisions"][0]["arn"] == oldest["targetServiceRevisionArn"]
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[
        newest["targetServiceRevisionArn"], oldest["targetServiceRevisionArn"]])
    assert [r["taskDefinition"] for r in revisions["serviceRevisions"]] == [second, first]
    assert ecs.list_service_deployments(service="web", status=["STOPPED"])[
        "serviceDeployments"] == []


def test_stop_service_deployment_rolls_back(ecs, three_zones):
    good = definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition=good, desiredCount=2)
    steady(ecs)
    stuck = definition(ecs, memory=100_000)  # fits nowhere: the deployment can't finish
    ecs.update_service(service="web", taskDefinition=stuck)
    in_progress = ecs.list_service_deployments(service="web", status=["IN_PROGRESS"])[
        "serviceDeployments"][0]["serviceDeploymentArn"]
    wait_for(lambda: any("unable to place a task" in e["message"]
                         for e in service(ecs)["events"]))
    ecs.stop_service_deployment(serviceDeploymentArn=in_progress, stopType="ROLLBACK")
    s = steady(ecs)
    assert s["taskDefinition"] == good
    stopped = ecs.describe_service_deployments(serviceDeploymentArns=[in_progress])[
        "serviceDeployments"][0]
    assert stopped["status"] == "ROLLBACK_SUCCESSFUL"
    assert stopped["rollback"]["reason"] == "Rollback requested by StopServiceDeployment."
    with pytest.raises(ecs.exceptions.ConflictException):
        ecs.stop_service_deployment(serviceDeploymentArn=in_progress)


def test_a_deployment_continues_after_the_control_plane_is_killed(tmp_path, region):
    server = NozamaServer(["--data-dir", str(tmp_path / "cp")], tmp_path / "cp.log").start()
    agents = [AgentProcess(server, region, f"{region}{z}", tmp_path / f"agent-{z}")
              for z in "abc"]
    try:
        ecs = server.client("ecs", region)
        for agent in agents:
            agent.start()
        wait_for(lambda: len(connected(ecs)) == 3)
        ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=6)
        steady(ecs)
        second = definition(ecs)
        ecs.update_service(service="web", taskDefinition=second)
        wait_for(lambda: any(t["taskDefinitionArn"] == second for t in running_tasks(ecs)))
        server.kill()
        server.start()
        ecs = server.client("ecs", region)
        steady(ecs)
        tasks = wait_for(lambda: len(found := running_tasks(ecs)) == 6 and found, timeout=30)
        assert {t["taskDefinitionArn"] for t in tasks} == {second}
        arns = ecs.list_tasks(serviceName="web")["taskArns"]
        assert len(arns) == 6  # no extra or missing tasks
    finally:
        for agent in agents:
            agent.stop()
        server.stop()


def test_invalid_placement_is_refused_before_it_is_stored(ecs, three_zones):
    td = definition(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=1,
                           placementConstraints=[{"type": "memberOf",
                                                  "expression": "attribute:x ==="}])
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=1,
                           placementStrategy=[{"type": "binpack", "field": "disk"}])
    assert ecs.list_services()["serviceArns"] == []


def _stopping_at(task: dict) -> float:
    return task["stoppingAt"].timestamp()


def _drain_one_instance(ecs, minimum: int, maximum: int) -> tuple[list[dict], list[dict]]:
    """Drain an instance of a steady 3-task service: (its tasks, their replacements)."""
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=3,
                       deploymentConfiguration={"minimumHealthyPercent": minimum,
                                                "maximumPercent": maximum})
    steady(ecs)
    drained = running_tasks(ecs)[0]["containerInstanceArn"]
    before = {t["taskArn"] for t in running_tasks(ecs)}
    ecs.update_container_instances_state(containerInstances=[drained], status="DRAINING")
    wait_for(lambda: moved_off(ecs, drained, 3), timeout=30)
    arns = ecs.list_tasks(serviceName="web")["taskArns"] + \
        ecs.list_tasks(serviceName="web", desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(tasks=arns)["tasks"]
    moved = [t for t in tasks if t["taskArn"] in before and t["containerInstanceArn"] == drained]
    replacements = [t for t in tasks if t["taskArn"] not in before]
    assert moved and len(replacements) == len(moved)
    return moved, replacements


def test_draining_starts_replacements_first_when_maximum_percent_allows(ecs, three_zones):
    # 100% minimum healthy: the drained instance's task stops only once its
    # replacement runs elsewhere.
    moved, replacements = _drain_one_instance(ecs, 100, 200)
    latest_start = max(t["startedAt"].timestamp() for t in replacements)
    assert all(_stopping_at(t) >= latest_start for t in moved)


def test_draining_stops_first_when_maximum_percent_leaves_no_room(ecs, three_zones):
    # 0% / 100%: no task may run beyond desiredCount, so the drained task stops first.
    moved, replacements = _drain_one_instance(ecs, 0, 100)
    first_created = min(t["createdAt"].timestamp() for t in replacements)
    assert all(_stopping_at(t) <= first_created for t in moved)


def test_tasks_that_keep_failing_are_throttled(ecs, three_zones):
    # No circuit breaker: the service keeps trying, but less and less often.
    ecs.create_service(serviceName="web", desiredCount=1, taskDefinition=definition(
        ecs, labels={"nozama.simulated.fail": "start"}))
    throttled = "(service web) is unable to consistently start tasks successfully."
    s = wait_for(lambda: any(e["message"].startswith(throttled) for e in service(ecs)["events"])
                 and service(ecs), timeout=30)
    failed = len(ecs.list_tasks(serviceName="web", desiredStatus="STOPPED")["taskArns"])
    # After three failures the next start waits 5 s, then 10 s...
    assert 3 <= failed <= 4
    assert s["status"] == "ACTIVE" and s["runningCount"] == 0


def test_a_cluster_with_an_active_service_cannot_be_deleted(ecs):
    ecs.create_cluster(clusterName="default")
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=0)
    with pytest.raises(ecs.exceptions.ClusterContainsServicesException):
        ecs.delete_cluster(cluster="default")
    assert ecs.describe_clusters()["clusters"][0]["status"] == "ACTIVE"
    ecs.delete_service(service="web")
    wait_for(lambda: service(ecs)["status"] == "INACTIVE")
    assert ecs.delete_cluster(cluster="default")["cluster"]["status"] == "INACTIVE"


def test_load_balancers_of_a_service_are_checked_as_ecs_does(ecs, server, region):
    elb = server.client("elbv2", region)
    ecs.create_cluster(clusterName="default")
    web = ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 64,
        "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]["taskDefinitionArn"]

    def group(name, target_type="instance"):
        return elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc_of(elb),
                                       TargetType=target_type)["TargetGroups"][0][
            "TargetGroupArn"]
    attached, loose, by_ip = group("attached"), group("loose"), group("by-ip", "ip")
    lb = elb.create_load_balancer(Name="web", Subnets=subnets_of(elb))["LoadBalancers"][0]
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                   Port=80, DefaultActions=[
                                       {"Type": "forward", "TargetGroupArn": attached}])[
        "Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=1, Actions=[
        {"Type": "forward", "TargetGroupArn": by_ip}], Conditions=[
        {"Field": "path-pattern", "Values": ["/ip"]}])

    def refused(entry: dict) -> str:
        with pytest.raises(ecs.exceptions.InvalidParameterException) as info:
            ecs.create_service(serviceName="web", taskDefinition=web, desiredCount=0,
                               loadBalancers=[entry])
        return info.value.response["Error"]["Message"]
    assert "did not have a container port 9090" in refused(
        {"targetGroupArn": attached, "containerName": "app", "containerPort": 9090})
    assert "container nope does not exist" in refused(
        {"targetGroupArn": attached, "containerName": "nope", "containerPort": 8080})
    assert "does not have an associated load balancer" in refused(
        {"targetGroupArn": loose, "containerName": "app", "containerPort": 8080})
    assert "incompatible with the bridge network mode" in refused(
        {"targetGroupArn": by_ip, "containerName": "app", "containerPort": 8080})
    assert "Unable to find the target group" in refused(
        {"targetGroupArn": attached + "0", "containerName": "app", "containerPort": 8080})
    assert "Classic Load Balancers" in refused(
        {"loadBalancerName": "classic", "containerName": "app", "containerPort": 8080})
    assert ecs.list_services()["serviceArns"] == []
    entry = {"targetGroupArn": attached, "containerName": "app", "containerPort": 8080}
    created = ecs.create_service(serviceName="web", taskDefinition=web, desiredCount=0,
                                 loadBalancers=[entry], healthCheckGracePeriodSeconds=30)
    assert created["service"]["loadBalancers"] == [entry]
    assert created["service"]["healthCheckGracePeriodSeconds"] == 30
    # A new revision without the port cannot replace it behind the same target group.
    other = ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_service(service="web", taskDefinition=other)
    assert service(ecs)["taskDefinition"] == web


def zones_of(ecs, definition: str) -> list[str]:
    """The zones of the revision's live tasks (one look)."""
    arns = ecs.list_tasks(serviceName="web")["taskArns"]
    if not arns:
        return []
    return sorted(t["availabilityZone"] for t in ecs.describe_tasks(tasks=arns)["tasks"]
                  if t["taskDefinitionArn"] == definition and t["lastStatus"] != "STOPPED")


def test_zone_waves_replace_one_task_then_one_zone_at_a_time(ecs, region, three_zones):
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=6,
                       tags=[{"key": "nozama:zone-waves", "value": "true"},
                             {"key": "nozama:zone-wave-bake-seconds", "value": "1"}])
    steady(ecs)
    second = definition(ecs)
    ecs.update_service(service="web", taskDefinition=second)
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        zones = zones_of(ecs, second)
        if not seen or seen[-1] != zones:
            seen.append(zones)
        s = service(ecs)
        if len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        time.sleep(0.05)
    a, b, c = (f"{region}{z}" for z in "abc")
    # The new revision's footprint only grows, wave by wave: never a zone before its turn.
    order = [[a], [a, a], [a, a, b], [a, a, b, b], [a, a, b, b, c], [a, a, b, b, c, c]]
    assert [z for z in seen if z] == [o for o in order if o in seen]
    assert seen[-1] == order[-1]
    assert [e["message"].split(": ", 1)[1] for e in service(ecs)["events"]
            if "zone wave" in e["message"]][::-1] == [
        f"{a}, 1 task.", f"{a}, 2 tasks.", f"{b}, 2 tasks.", f"{c}, 2 tasks."]


def test_a_bad_release_in_zone_waves_never_leaves_its_first_task(server, region, ecs,
                                                                   three_zones):
    cloudwatch = errors_alarm(server, region)
    good = definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition=good, desiredCount=6,
                       deploymentConfiguration={"alarms": {
                           "alarmNames": ["web-errors"], "enable": True, "rollback": True}},
                       tags=[{"key": "nozama:zone-waves", "value": "true"},
                             {"key": "nozama:zone-wave-bake-seconds", "value": "30"}])
    steady(ecs)
    bad = definition(ecs)
    ecs.update_service(service="web", taskDefinition=bad)
    wait_for(lambda: len(running_tasks_of(ecs, bad)) == 1, timeout=30)
    cloudwatch.put_metric_data(Namespace="Web", MetricData=[
        {"MetricName": "Errors", "Value": 1, "StorageResolution": 1}])
    widest = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and service(ecs)["taskDefinition"] != good:
        widest = max(widest, len(zones_of(ecs, bad)))
        time.sleep(0.05)
    steady(ecs)
    assert widest == 1
    assert {t["taskDefinitionArn"] for t in running_tasks(ecs)} == {good}


def running_tasks_of(ecs, definition_arn: str) -> list[dict]:
    return [t for t in running_tasks(ecs) if t["taskDefinitionArn"] == definition_arn]


def test_services_report_cpu_and_memory_utilization(server, region, ecs, agents):
    agents(2)
    wait_for(lambda: len(connected(ecs)) == 2)
    definition_arn = ecs.register_task_definition(family="busy", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 128, "cpu": 256,
        "dockerLabels": {"nozama.simulated.cpu-percent": "50",
                         "nozama.simulated.memory-percent": "25"}}])["taskDefinition"][
        "taskDefinitionArn"]
    ecs.create_service(serviceName="web", taskDefinition=definition_arn, desiredCount=2)
    steady(ecs)
    cloudwatch = server.client("cloudwatch", region)

    def average(metric: str, dims: list[dict]) -> float | None:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ECS", MetricName=metric, Dimensions=dims,
            StartTime=datetime.now(timezone.utc) - timedelta(minutes=5),
            EndTime=datetime.now(timezone.utc) + timedelta(minutes=1), Period=300,
            Statistics=["Average"], Unit="Percent")["Datapoints"]
        return points[0]["Average"] if points else None
    service_dims = [{"Name": "ClusterName", "Value": "default"},
                    {"Name": "ServiceName", "Value": "web"}]
    cpu = wait_for(lambda: average("CPUUtilization", service_dims), timeout=30)
    assert 45 <= cpu <= 55
    assert 24 <= average("MemoryUtilization", service_dims) <= 26
    assert 45 <= average("CPUUtilization", service_dims[:1]) <= 55
