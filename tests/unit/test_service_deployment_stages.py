"""The service deployment state machines, stage by stage, under a fake clock.

No server and no agents (tests/unit/service_harness.py): the AWS operation handlers
in-process on a real SQLite store, stand-ins for the agents and the data plane, and
one pass of the service controller per tick of a FakeClock. A bake time of ten
minutes thus takes 600 ticks, not ten minutes.
"""

from __future__ import annotations

import json

import pytest

from nozama.controllers.traffic_shift import STAGES
from nozama.kernel.errors import ServiceError
from nozama.model.deployment_state import DeploymentState, HookState, Rollout
from nozama.store import sql
from nozama.store import target_groups as tg_store
from support.service_harness import ZONES, Balanced, Cloud

@pytest.fixture
def cloud(tmp_path):
    found = Cloud(tmp_path / "data")
    found.instances()
    yield found
    found.store.close()


@pytest.fixture
def balanced(cloud):
    return Balanced(cloud)


def stages_seen(cloud: Cloud, until, ticks: int = 400) -> list[tuple[str, float]]:
    """(lifecycleStage, fake time) each time the stage changes, until `until()`."""
    seen = []
    for _ in range(ticks):
        stage = cloud.deployment().get("lifecycleStage")
        if stage and (not seen or seen[-1][0] != stage):
            seen.append((stage, cloud.clock.now().timestamp()))
        if until():
            return seen
        cloud.tick()
    raise AssertionError(f"not done in {ticks} ticks: {seen}")


def no_private_members(value) -> bool:
    if isinstance(value, dict):
        return all(not k.startswith("_") and no_private_members(v) for k, v in value.items())
    if isinstance(value, list):
        return all(no_private_members(v) for v in value)
    return True


# ---------------------------------------------------------------- traffic shifting

def test_blue_green_goes_through_every_stage_and_bakes_with_blue_running(cloud, balanced):
    first = balanced.create({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2})
    assert balanced.split() == (1, 0) or balanced.split()[1] == 0
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    seen = stages_seen(cloud, lambda: cloud.deployment()["status"] == "SUCCESSFUL")
    names = [s for s, _ in seen]
    # Every stage in ECS's order (hook-only stages pass within one pass, unseen).
    assert names == [s for s in STAGES if s in names]
    assert {"SCALE_UP", "BAKE_TIME", "CLEAN_UP"} <= set(names)
    at = dict(seen)
    # The bake time is bakeTimeInMinutes on the clock, with blue's tasks still running.
    assert at["CLEAN_UP"] - at["BAKE_TIME"] >= 120
    assert balanced.split() == (0, 100)
    assert balanced.weights(balanced.test_rule) == {balanced.green: 1}
    s = cloud.steady()
    assert s["taskDefinition"] == second
    # Blue's tasks drain (deregistration delay: 2 s) and stop.
    cloud.until(lambda: not cloud.running(first), ticks=10)
    assert len(cloud.running(second)) == 2
    shifts = [m for m in cloud.events() if "of production traffic to the new revision" in m]
    assert shifts == [shifts[0]] and "shifted 100%" in shifts[0]

    # The next deployment goes the other way: blue is the alternate now.
    third = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=third)
    cloud.until(lambda: cloud.deployment()["status"] == "SUCCESSFUL", ticks=300)
    assert balanced.split() == (100, 0)


def test_blue_tasks_run_through_the_bake_time(cloud, balanced):
    first = balanced.create({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    cloud.until(lambda: cloud.deployment().get("lifecycleStage") == "BAKE_TIME")
    for _ in range(55):
        cloud.tick()
        assert len(cloud.running(first)) == 2
        assert cloud.deployment()["status"] == "IN_PROGRESS"
    cloud.until(lambda: cloud.deployment()["status"] == "SUCCESSFUL", ticks=30)


@pytest.mark.parametrize("configuration, splits", [
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 20.0,
                                                    "canaryBakeTimeInMinutes": 2}},
     [(80, 20), (0, 100)]),
    ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0,
                                                    "stepBakeTimeInMinutes": 1}},
     [(75, 25), (50, 50), (25, 75), (0, 100)]),
], ids=["canary", "linear"])
def test_production_traffic_moves_step_by_step_each_step_baking(cloud, balanced,
                                                                configuration, splits):
    balanced.create(configuration)
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    bake = 60 * (configuration.get("canaryConfiguration") or
                 configuration.get("linearConfiguration"))[
        "canaryBakeTimeInMinutes" if configuration["strategy"] == "CANARY"
        else "stepBakeTimeInMinutes"]
    seen = []
    for _ in range(800):
        split = balanced.split()
        if split[1] and (not seen or seen[-1][0] != split):
            seen.append((split, cloud.clock.now().timestamp()))
        if cloud.deployment()["status"] == "SUCCESSFUL":
            break
        cloud.tick()
    assert [s for s, _ in seen] == splits
    # Each step bakes its bake time on the clock before the next.
    assert all(later - earlier >= bake for (_, earlier), (_, later) in zip(seen, seen[1:]))
    reasons = [m for m in cloud.events() if "of production traffic to the new revision" in m]
    assert len(reasons) == len(splits)


def test_the_split_is_shown_while_a_shift_is_in_progress(cloud, balanced):
    balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    cloud.until(lambda: balanced.split() == (50, 50))
    deployment = cloud.deployment()
    assert deployment["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert "50% of production traffic on the new revision" in deployment["statusReason"]


def test_an_alarm_returns_all_traffic_to_blue_at_once(cloud, balanced):
    cloud.alarm()
    good = balanced.create({"strategy": "CANARY", "canaryConfiguration": {
        "canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10},
        "alarms": {"alarmNames": ["web-errors"], "enable": True, "rollback": True}})
    bad = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=bad)
    cloud.until(lambda: balanced.split() == (90, 10))
    cloud.tick()
    cloud.fire()
    cloud.tick()  # one pass: traffic is back
    assert balanced.split() == (100, 0)
    assert balanced.weights(balanced.test_rule) == {balanced.blue: 1}
    assert cloud.deployment()["status"] == "ROLLBACK_IN_PROGRESS"
    s = cloud.steady()
    assert s["taskDefinition"] == good
    cloud.until(lambda: not cloud.running(bad), ticks=10)
    deployment = cloud.deployment()
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["rollback"]["reason"] == "Alarm(s) web-errors went to ALARM."
    assert any("all traffic is back on" in m for m in cloud.events())


def canary_with_analysis(cloud, balanced) -> tuple[str, str]:
    """A service on a 10% canary with a 10-minute bake, tagged for canary analysis, and a
    new revision deployed up to its canary step: (old revision, new revision)."""
    good = balanced.create({"strategy": "CANARY", "canaryConfiguration": {
        "canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10}})
    cloud.ecs("TagResource", resourceArn=cloud.service()["serviceArn"], tags=[
        {"key": "nozama:canary-analysis", "value": "true"}])
    new = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=new)
    cloud.until(lambda: balanced.split() == (90, 10))
    return good, new


def test_canary_analysis_rolls_back_a_revision_answering_404_with_healthy_targets(
        cloud, balanced):
    # The case: green's matcher accepts 4XX, so its targets are healthy, and it
    # answers 404 to everything; no 5XX, no slower. Before, the analysis passed it early.
    for group in (balanced.blue, balanced.green):
        cloud.elb("ModifyTargetGroup", TargetGroupArn=group, Matcher={"HttpCode": "200-499"})
    good, bad = canary_with_analysis(cloud, balanced)
    health = cloud.elb("DescribeTargetHealth", TargetGroupArn=balanced.green)
    assert [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]] == [
        "healthy", "healthy"]

    def serve():
        cloud.traffic(balanced.lb_arn, balanced.blue, 90)
        cloud.traffic(balanced.lb_arn, balanced.green, 10, {4: 10})
        return cloud.deployment()["status"].startswith("ROLLBACK")
    started = cloud.clock.time()
    cloud.until(serve, ticks=120)
    assert cloud.clock.time() - started < 60  # long before the 10-minute bake ends
    assert balanced.split() == (100, 0)
    s = cloud.steady()
    assert s["taskDefinition"] == good
    deployment = cloud.deployment()
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["rollback"]["reason"].startswith(
        "Automatic canary analysis: 4XX share 100.00% against 0.00% on the previous "
        "revision (significant: z = ")
    decided = [m for m in cloud.events() if m.endswith(" — rolling back.")]
    assert len(decided) == 1
    assert ") canary analysis: 4XX share 100.00% against 0.00% on the previous revision" \
        in decided[0]


def test_canary_analysis_passes_a_revision_with_the_same_4xx_share_early(cloud, balanced):
    # Both revisions answer 404 to one request in ten (clients probing missing paths):
    # no regression, and the canary moves on before its bake time ends.
    good, new = canary_with_analysis(cloud, balanced)

    def serve():
        cloud.traffic(balanced.lb_arn, balanced.blue, 450, {4: 45})
        cloud.traffic(balanced.lb_arn, balanced.green, 50, {4: 5})
        return cloud.deployment()["status"] != "IN_PROGRESS"
    started = cloud.clock.time()
    cloud.until(serve, ticks=200)
    assert cloud.clock.time() - started < 200
    assert cloud.deployment()["status"] == "SUCCESSFUL"
    assert cloud.steady()["taskDefinition"] == new
    passed = [m for m in cloud.events() if "canary analysis passed early" in m]
    assert len(passed) == 1 and "4XX share 10.00% against 10.00%" in passed[0]


def test_a_pause_hook_holds_its_stage_until_continued(cloud, balanced):
    first = balanced.create({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)

    def paused():
        d = cloud.deployment()
        return d.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT" and \
            d["lifecycleHookDetails"] and d
    deployment = cloud.until(paused)
    [hook] = deployment["lifecycleHookDetails"]
    assert (hook["targetType"], hook["status"]) == ("PAUSE", "AWAITING_ACTION")
    assert "0% of production traffic on the new revision" in deployment["statusReason"]
    for _ in range(30):
        cloud.tick()
    # Test traffic reaches green, production blue, while the hook waits.
    assert balanced.weights(balanced.test_rule) == {balanced.green: 1}
    assert balanced.split() == (100, 0)
    assert cloud.deployment()["status"] == "IN_PROGRESS"
    with pytest.raises(ServiceError):
        cloud.ecs("ContinueServiceDeployment",
                  serviceDeploymentArn=deployment["serviceDeploymentArn"], hookId="no-such")
    cloud.ecs("ContinueServiceDeployment",
              serviceDeploymentArn=deployment["serviceDeploymentArn"], hookId=hook["hookId"],
              action="CONTINUE")
    cloud.until(lambda: cloud.deployment()["status"] == "SUCCESSFUL")
    assert balanced.split() == (0, 100)
    assert cloud.steady()["taskDefinition"] == second
    cloud.until(lambda: not cloud.running(first), ticks=10)


def test_a_pause_hook_that_times_out_rolls_back(cloud, balanced):
    first = balanced.create({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
         "timeoutConfiguration": {"timeoutInMinutes": 2, "action": "ROLLBACK"}}]})
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    cloud.until(lambda: cloud.deployment()["lifecycleHookDetails"])
    waited_from = cloud.clock.now().timestamp()
    cloud.until(lambda: cloud.deployment()["status"] != "IN_PROGRESS", ticks=200)
    assert cloud.clock.now().timestamp() - waited_from >= 119
    assert balanced.split() == (100, 0)
    assert cloud.steady()["taskDefinition"] == first
    deployment = cloud.deployment()
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["rollback"]["reason"].startswith("Lifecycle hook pre_production")


def test_stop_service_deployment_returns_traffic_to_blue_at_once(cloud, balanced):
    first = balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    cloud.until(lambda: balanced.split() == (50, 50))
    arn = cloud.deployment()["serviceDeploymentArn"]
    cloud.ecs("StopServiceDeployment", serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert balanced.split() == (100, 0)  # within the call
    assert cloud.steady()["taskDefinition"] == first
    assert cloud.deployment()["status"] == "ROLLBACK_SUCCESSFUL"
    with pytest.raises(ServiceError):
        cloud.ecs("StopServiceDeployment", serviceDeploymentArn=arn)


def test_a_restarted_control_plane_resumes_a_shift_where_it_was(cloud, balanced):
    balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 1}})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    cloud.until(lambda: balanced.split() == (50, 50))
    shifted_at = cloud.clock.now().timestamp()
    cloud.store.close()
    cloud.open()
    for _ in range(30):
        cloud.tick()
        assert balanced.split() == (50, 50)
    deployment = cloud.deployment()
    assert (deployment["status"], deployment["lifecycleStage"]) == (
        "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
    cloud.until(lambda: balanced.split() == (0, 100))
    assert cloud.clock.now().timestamp() - shifted_at >= 60
    assert cloud.steady()["taskDefinition"] == second


def test_a_rolling_update_after_a_blue_green_one_serves_where_production_is(cloud, balanced):
    balanced.create({"strategy": "BLUE_GREEN"})
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    cloud.until(lambda: cloud.deployment()["status"] == "SUCCESSFUL")
    cloud.steady()
    third = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=third,
              deploymentConfiguration={"strategy": "ROLLING"})
    cloud.steady()
    assert balanced.split() == (0, 100)

    def targets(group: str) -> list:
        with cloud.store.read() as conn:
            return tg_store.targets(conn, group)
    cloud.until(lambda: len(targets(balanced.green)) == 2, ticks=10)
    assert {r.health_state for r in targets(balanced.green)} == {"healthy"}
    assert targets(balanced.blue) == []


def group_targets(cloud: Cloud, group: str) -> int:
    with cloud.store.read() as conn:
        return sum(r.state == "registered" for r in tg_store.targets(conn, group))


def test_a_blue_task_that_dies_during_a_shift_is_replaced_in_blue(cloud, balanced):
    # ECS keeps blue at its full size until CLEAN_UP (it must be able to take all the
    # traffic back): a blue task that dies while blue still serves is replaced. Before,
    # blue went on with one task short, carrying half the traffic on one task.
    first = balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    cloud.until(lambda: balanced.split() == (50, 50))
    victim = cloud.running(first)[0]["taskArn"]
    cloud.kill(victim)
    cloud.until(lambda: victim not in [t["taskArn"] for t in cloud.running()], ticks=5)
    cloud.until(lambda: len(cloud.running(first)) == 2, ticks=5)
    assert victim not in [t["taskArn"] for t in cloud.running(first)]
    # The replacement serves from blue's target group, beside blue's other task.
    cloud.until(lambda: group_targets(cloud, balanced.blue) == 2, ticks=5)
    assert len(cloud.running(second)) == 2
    cloud.tick()  # the counts are those a pass saw
    s = cloud.service()
    assert [d["desiredCount"] for d in s["deployments"]] == [2, 2]
    assert [d["runningCount"] for d in s["deployments"]] == [2, 2]
    assert balanced.split() == (50, 50)
    assert cloud.deployment()["status"] == "IN_PROGRESS"
    # In CLEAN_UP, once no traffic is left on it, blue goes and is not replaced.
    cloud.until(lambda: cloud.deployment()["status"] == "SUCCESSFUL", ticks=700)
    cloud.until(lambda: not cloud.running(first), ticks=10)
    for _ in range(5):
        cloud.tick()
    assert not cloud.running(first) and len(cloud.running(second)) == 2


def test_a_desired_count_change_during_a_shift_resizes_green_and_blue(cloud, balanced):
    # UpdateService's desiredCount starts no deployment: it is the primary's (green's)
    # count, and blue, at a scale of 100% until CLEAN_UP, follows it. Before, only green
    # was resized: blue stayed at 2 while the service asked for 4, then 1.
    first = balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    cloud.until(lambda: balanced.split() == (50, 50))
    cloud.ecs("UpdateService", service="web", desiredCount=4)
    cloud.until(lambda: (len(cloud.running(first)), len(cloud.running(second))) == (4, 4),
                ticks=10)
    cloud.until(lambda: (group_targets(cloud, balanced.blue),
                         group_targets(cloud, balanced.green)) == (4, 4), ticks=5)
    s = cloud.service()
    assert s["desiredCount"] == 4
    assert [(d["status"], d["desiredCount"]) for d in s["deployments"]] == [
        ("PRIMARY", 4), ("ACTIVE", 4)]
    assert balanced.split() == (50, 50) and cloud.deployment()["status"] == "IN_PROGRESS"

    cloud.ecs("UpdateService", service="web", desiredCount=1)
    cloud.until(lambda: (len(cloud.running(first)), len(cloud.running(second))) == (1, 1),
                ticks=10)
    assert [d["desiredCount"] for d in cloud.service()["deployments"]] == [1, 1]

    # A rollback returns all traffic to a blue of the service's size.
    cloud.ecs("UpdateService", service="web", desiredCount=3)
    cloud.until(lambda: len(cloud.running(first)) == 3, ticks=10)
    cloud.ecs("StopServiceDeployment", serviceDeploymentArn=cloud.deployment()[
        "serviceDeploymentArn"], stopType="ROLLBACK")
    assert balanced.split() == (100, 0)
    s = cloud.steady()
    assert (s["taskDefinition"], s["desiredCount"], s["runningCount"]) == (first, 3, 3)
    cloud.until(lambda: not cloud.running(second), ticks=10)
    assert len(cloud.running(first)) == 3


def test_a_deployment_cannot_start_while_another_shifts_traffic(cloud, balanced):
    balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
    cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())
    cloud.until(lambda: balanced.split() == (50, 50))
    with pytest.raises(ServiceError, match="shifting traffic"):
        cloud.ecs("UpdateService", service="web", taskDefinition=cloud.revision())


def test_a_deleted_service_drains_and_stops_every_task(cloud, balanced):
    balanced.create({"strategy": "BLUE_GREEN"})
    cloud.ecs("DeleteService", service="web", force=True)
    cloud.until(lambda: cloud.service()["status"] == "INACTIVE")
    assert not cloud.ecs("ListTasks")["taskArns"]
    with cloud.store.read() as conn:
        assert tg_store.targets(conn, balanced.blue) == []


# ---------------------------------------------------------------- zone waves

def zones_of(cloud: Cloud, definition: str) -> list[str]:
    arns = cloud.ecs("ListTasks", serviceName="web")["taskArns"]
    return sorted(t["availabilityZone"] for t in cloud.ecs("DescribeTasks", tasks=arns)["tasks"]
                  if t["taskDefinitionArn"] == definition and t["lastStatus"] != "STOPPED")


def waves_service(cloud: Cloud, bake: int, configuration: dict | None = None) -> str:
    good = cloud.revision()
    cloud.ecs("CreateService", serviceName="web", taskDefinition=good, desiredCount=6,
              deploymentConfiguration=configuration or {},
              tags=[{"key": "nozama:zone-waves", "value": "true"},
                    {"key": "nozama:zone-wave-bake-seconds", "value": str(bake)}])
    cloud.steady()
    return good


def test_zone_waves_replace_one_task_then_one_zone_at_a_time(cloud):
    waves_service(cloud, bake=20)
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    seen = []
    for _ in range(300):
        zones = zones_of(cloud, second)
        if zones and (not seen or seen[-1][0] != zones):
            seen.append((zones, cloud.clock.now().timestamp()))
        s = cloud.service()
        if len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        cloud.tick()
    a, b, c = ZONES
    order = [[a], [a, a], [a, a, b], [a, a, b, b], [a, a, b, b, c], [a, a, b, b, c, c]]
    footprints = [z for z, _ in seen]
    # The new revision's footprint only grows, wave by wave: never a zone before its turn.
    assert footprints == [o for o in order if o in footprints]
    assert footprints[-1] == order[-1]
    waves = [e for e in reversed(cloud.service()["events"]) if "zone wave" in e["message"]]
    assert [e["message"].split(": ", 1)[1] for e in waves] == [
        f"{a}, 1 task.", f"{a}, 2 tasks.", f"{b}, 2 tasks.", f"{c}, 2 tasks."]
    # Each wave bakes (20 s on the clock) before the next starts.
    starts = [e["createdAt"] for e in waves]
    assert all(later - earlier >= 20 for earlier, later in zip(starts, starts[1:]))


def wave_footprints(cloud: Cloud, definition: str, ticks: int = 400) -> list[list[str]]:
    """The zones of the new revision's tasks each time they change, until the service is
    steady on it."""
    seen = []
    for _ in range(ticks):
        zones = zones_of(cloud, definition)
        if zones and (not seen or seen[-1] != zones):
            seen.append(zones)
        s = cloud.service()
        if len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED" \
                and s["runningCount"] == s["desiredCount"]:
            return seen
        cloud.tick()
    raise AssertionError(f"not steady in {ticks} ticks: {seen}")


def wave_messages(cloud: Cloud) -> list[str]:
    return [m.split(": ", 1)[1] for m in cloud.events() if ") zone wave " in m]


def test_a_desired_count_given_with_the_revision_spreads_over_every_zone(cloud):
    # 6 tasks, 2 a zone; the new revision with desiredCount 9. The scheduler keeps a
    # service spread over its zones: 3 a zone, wave by wave. Before, the whole change
    # went to the last wave (us-east-1c: 5 tasks, the others 2).
    waves_service(cloud, bake=5)
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second, desiredCount=9)
    seen = wave_footprints(cloud, second)
    a, b, c = ZONES
    assert seen[-1] == [a] * 3 + [b] * 3 + [c] * 3
    assert wave_messages(cloud) == [f"{a}, 1 task.", f"{a}, 3 tasks.", f"{b}, 3 tasks.",
                                    f"{c}, 3 tasks."]
    # Never a zone before its turn.
    assert [sorted(set(z)) for z in seen] == [[a]] * sum(set(z) == {a} for z in seen) + [
        [a, b]] * sum(set(z) == {a, b} for z in seen) + [[a, b, c]] * sum(
        set(z) == {a, b, c} for z in seen)


def test_a_desired_count_lowered_during_zone_waves_is_spread_and_completes(cloud):
    # desiredCount 6 -> 3 while zone a's wave bakes: each zone keeps one task, zone a's
    # surplus new task stops at once, b and c get one each in their waves. Before, the
    # plan kept 2 a zone, the new revision ended with 6 tasks for a desiredCount of 3,
    # and the deployment never completed.
    good = waves_service(cloud, bake=20)
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    a, b, c = ZONES
    cloud.until(lambda: zones_of(cloud, second) == [a, a] and
                not [z for z in zones_of(cloud, good) if z == a], ticks=60)
    cloud.ecs("UpdateService", service="web", desiredCount=3)
    seen = wave_footprints(cloud, second)
    assert seen[0] == [a, a] and seen[1] == [a]
    assert seen[-1] == [a, b, c]
    assert [t["taskDefinitionArn"] for t in cloud.running()] == [second] * 3
    assert any("zone waves planned again for a desired count of 3: "
               f"{a} 1, {b} 1, {c} 1." in m for m in cloud.events())
    assert wave_messages(cloud)[-2:] == [f"{b}, 1 task.", f"{c}, 1 task."]


def test_a_desired_count_raised_during_zone_waves_grows_done_zones_in_place(cloud):
    # desiredCount 6 -> 9 once zone a's wave is done: zone a grows to 3 at once (in
    # zone a), b and c get 3 each in their waves. Before, b's and c's waves were of 2
    # and the 3 extra tasks started only after the last wave, wherever they fitted.
    waves_service(cloud, bake=20)
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    a, b, c = ZONES
    cloud.until(lambda: zones_of(cloud, second) == [a, a], ticks=60)
    cloud.ecs("UpdateService", service="web", desiredCount=9)
    cloud.tick()
    cloud.tick()
    assert zones_of(cloud, second) == [a, a, a]
    seen = wave_footprints(cloud, second)
    assert seen[-1] == [a] * 3 + [b] * 3 + [c] * 3
    assert wave_messages(cloud)[-2:] == [f"{b}, 3 tasks.", f"{c}, 3 tasks."]


def test_a_bad_release_in_zone_waves_never_leaves_its_first_task(cloud):
    cloud.alarm()
    good = waves_service(cloud, bake=30, configuration={"alarms": {
        "alarmNames": ["web-errors"], "enable": True, "rollback": True}})
    bad = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=bad)
    cloud.until(lambda: len(cloud.running(bad)) == 1)
    cloud.tick()
    cloud.fire()
    widest = 0
    for _ in range(120):
        widest = max(widest, len(zones_of(cloud, bad)))
        if cloud.service()["taskDefinition"] == good:
            break
        cloud.tick()
    cloud.steady()
    assert widest == 1
    assert {t["taskDefinitionArn"] for t in cloud.running()} == {good}


# ---------------------------------------------------------------- rolling, breaker, alarms

def rolling_service(cloud: Cloud, configuration: dict, count: int = 2) -> str:
    good = cloud.revision()
    cloud.ecs("CreateService", serviceName="web", taskDefinition=good, desiredCount=count,
              deploymentConfiguration=configuration)
    cloud.steady()
    return good


def test_a_rolling_update_replaces_every_old_task_within_its_bounds(cloud):
    rolling_service(cloud, {"minimumHealthyPercent": 50, "maximumPercent": 100}, count=4)
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    for _ in range(60):
        live = cloud.running()
        assert len(live) >= 2  # minimumHealthyPercent 50 of 4
        cloud.tick()
        s = cloud.service()
        if len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED":
            break
    assert {t["taskDefinitionArn"] for t in cloud.running()} == {second}
    assert any("deployment completed" in m for m in cloud.events())
    assert cloud.events()[-1].endswith("has reached a steady state.")


def test_the_circuit_breaker_trips_at_its_threshold_and_rolls_back(cloud):
    good = rolling_service(cloud, {"deploymentCircuitBreaker": {"enable": True,
                                                                "rollback": True}})
    bad = cloud.revision()
    cloud.failing.add(bad)
    cloud.ecs("UpdateService", service="web", taskDefinition=bad)
    arn = cloud.deployment()["serviceDeploymentArn"]
    cloud.until(lambda: cloud.service()["taskDefinition"] == good)
    failed = cloud.ecs("DescribeServiceDeployments", serviceDeploymentArns=[arn])[
        "serviceDeployments"][0]
    breaker = failed["deploymentCircuitBreaker"]
    assert breaker["status"] == "TRIGGERED"
    assert breaker["failureCount"] >= breaker["threshold"] == 3
    assert any("deployment failed: tasks failed to start" in m for m in cloud.events())
    cloud.steady()
    failed = cloud.ecs("DescribeServiceDeployments", serviceDeploymentArns=[arn])[
        "serviceDeployments"][0]
    assert failed["status"] == "ROLLBACK_SUCCESSFUL"
    assert failed["rollback"]["reason"] == "Circuit breaker: tasks failed to start."
    assert {t["taskDefinitionArn"] for t in cloud.running()} == {good}


def test_the_circuit_breaker_without_rollback_stops_the_deployment(cloud):
    good = rolling_service(cloud, {"deploymentCircuitBreaker": {"enable": True,
                                                                "rollback": False}})
    bad = cloud.revision()
    cloud.failing.add(bad)
    cloud.ecs("UpdateService", service="web", taskDefinition=bad)
    cloud.until(lambda: cloud.service()["deployments"][0]["rolloutState"] == "FAILED")
    for _ in range(20):
        cloud.tick()
    s = cloud.service()
    assert s["taskDefinition"] == bad and s["deployments"][0]["rolloutState"] == "FAILED"
    assert cloud.deployment()["status"] == "STOPPED"
    assert {t["taskDefinitionArn"] for t in cloud.running()} == {good}


def test_tasks_that_keep_failing_are_throttled(cloud):
    bad = cloud.revision()
    cloud.failing.add(bad)
    cloud.ecs("CreateService", serviceName="web", taskDefinition=bad, desiredCount=1)
    throttled = "(service web) is unable to consistently start tasks successfully."
    cloud.until(lambda: any(m.startswith(throttled) for m in cloud.events()))

    def failed() -> int:
        return len(cloud.ecs("ListTasks", serviceName="web", desiredStatus="STOPPED")[
            "taskArns"])
    assert 3 <= failed() <= 4
    # After three failures the next start waits 5 s, then 10 s, 20 s...
    for wait in (5, 10, 20):
        count, since = failed(), cloud.clock.now().timestamp()
        cloud.until(lambda: failed() > count, ticks=30)
        waited = cloud.clock.now().timestamp() - since
        assert waited >= wait - 2, (wait, waited)
    assert cloud.service()["runningCount"] == 0


def test_an_alarm_during_the_bake_time_rolls_a_rolling_deployment_back(cloud):
    cloud.alarm()
    good = rolling_service(cloud, {})
    bad = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=bad, deploymentConfiguration={
        "alarms": {"alarmNames": ["web-errors"], "enable": True, "rollback": True},
        "bakeTimeInMinutes": 10})
    cloud.until(lambda: {t["taskDefinitionArn"] for t in cloud.running()} == {bad})
    # Steady, and baking: not complete while its alarms may still fire (ten minutes).
    for _ in range(500):
        cloud.tick()
    assert cloud.service()["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert any("is baking for 10 minutes" in m for m in cloud.events())
    cloud.fire()
    cloud.until(lambda: cloud.service()["taskDefinition"] == good)
    assert any("deployment failed: alarm(s) web-errors went to ALARM" in m
               for m in cloud.events())
    cloud.steady()
    assert {t["taskDefinitionArn"] for t in cloud.running()} == {good}
    statuses = [d["status"] for d in cloud.ecs("ListServiceDeployments", service="web")[
        "serviceDeployments"]]
    assert statuses == ["SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]


def test_a_baked_deployment_completes_when_its_bake_time_is_over(cloud):
    cloud.alarm()
    rolling_service(cloud, {"alarms": {"alarmNames": ["web-errors"], "enable": True,
                                       "rollback": True}, "bakeTimeInMinutes": 1})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    cloud.until(lambda: any("is baking" in m for m in cloud.events()))
    baking_from = cloud.clock.now().timestamp()
    cloud.steady(ticks=90)
    assert cloud.clock.now().timestamp() - baking_from >= 59


def test_stop_service_deployment_rolls_a_rolling_deployment_back(cloud):
    good = rolling_service(cloud, {})
    stuck = cloud.ecs("RegisterTaskDefinition", family="web", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 100_000}])["taskDefinition"][
        "taskDefinitionArn"]  # fits nowhere: the deployment can't finish
    cloud.ecs("UpdateService", service="web", taskDefinition=stuck)
    arn = cloud.ecs("ListServiceDeployments", service="web", status=["IN_PROGRESS"])[
        "serviceDeployments"][0]["serviceDeploymentArn"]
    cloud.until(lambda: any("unable to place a task" in m for m in cloud.events()))
    cloud.ecs("StopServiceDeployment", serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert cloud.steady()["taskDefinition"] == good
    stopped = cloud.ecs("DescribeServiceDeployments", serviceDeploymentArns=[arn])[
        "serviceDeployments"][0]
    assert stopped["status"] == "ROLLBACK_SUCCESSFUL"
    assert stopped["rollback"]["reason"] == "Rollback requested by StopServiceDeployment."


# ---------------------------------------------------------------- the record and its shapes

def test_history_and_revisions_and_no_private_members_in_any_answer(cloud, balanced):
    first = balanced.create({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    cloud.until(lambda: cloud.deployment()["lifecycleHookDetails"])
    answers = [cloud.ecs("DescribeServices", services=["web"]),
               cloud.ecs("UpdateService", service="web"),
               cloud.ecs("ListServiceDeployments", service="web"),
               cloud.deployment()]
    assert all(no_private_members(a) for a in answers)
    cloud.ecs("ContinueServiceDeployment",
              serviceDeploymentArn=cloud.deployment()["serviceDeploymentArn"],
              hookId=cloud.deployment()["lifecycleHookDetails"][0]["hookId"])
    cloud.until(lambda: cloud.deployment()["status"] == "SUCCESSFUL")
    newest, oldest = cloud.ecs("ListServiceDeployments", service="web")["serviceDeployments"]
    described = cloud.ecs("DescribeServiceDeployments", serviceDeploymentArns=[
        newest["serviceDeploymentArn"]])["serviceDeployments"][0]
    assert described["targetServiceRevision"]["requestedTaskCount"] == 2
    assert described["sourceServiceRevisions"][0]["arn"] == oldest["targetServiceRevisionArn"]
    revisions = cloud.ecs("DescribeServiceRevisions", serviceRevisionArns=[
        newest["targetServiceRevisionArn"], oldest["targetServiceRevisionArn"]])
    assert [r["taskDefinition"] for r in revisions["serviceRevisions"]] == [second, first]
    with cloud.store.read() as conn:
        row = sql.one(conn, "SELECT * FROM services")
    assert no_private_members(row.doc)
    assert DeploymentState.from_json(row.deployment_state).to_json() == row.deployment_state


def test_the_deployment_state_round_trips_through_json():
    state = DeploymentState(revisions={"arn:rev": {"taskDefinition": "td"}}, steady=True)
    state.add(Rollout(
        id="ecs-svc/1", arn="arn:dep/1", revision_arn="arn:rev", sources=["arn:rev0"],
        configuration={"strategy": "CANARY"}, groups=["tg-a"], blue="ecs-svc/0",
        stage="PRODUCTION_TRAFFIC_SHIFT", stage_at=5.0, percent=12.5, step=0, step_at=6.0,
        analysis_from=8, hooks={"h": HookState("h", "PAUSE", "AWAITING_ACTION", 9.0,
                                               "ROLLBACK", "POST_SCALE_UP")},
        waves=[("us-east-1a", 1)], wave=1, wave_at=3.0, old_zones={"us-east-1a": 2},
        waves_for=2,
        deployment={"id": "ecs-svc/1", "desiredCount": 2}))
    stored = json.loads(json.dumps(state.to_json()))
    again = DeploymentState.from_json(stored)
    assert again == state
    assert again.find("ecs-svc/1").failed_hook is None
    assert DeploymentState.from_json(None) == DeploymentState()
