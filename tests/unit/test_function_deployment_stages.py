"""The function deployment workflow, stage by stage, under a fake clock.

No server and no worker processes (tests/unit/function_harness.py): the workflow of
controllers/function_deployments.py on a real SQLite store, the Lambda handlers
in-process, traffic through the alias counted by the real meters, and hook functions
that answer as each test says. One pass of the workflow per tick of a FakeClock, so a
step that bakes five minutes takes 300 ticks, not five minutes. Each test looks at
what a user sees: the alias as GetAlias shows it, and the deployment as
`nozama functions deployment describe` shows it.
"""

from __future__ import annotations

import pytest

from nozama.controllers import function_deployments as deployments
from nozama.controllers.function_deployments import SETTLE
from nozama.kernel.errors import ServiceError
from nozama.store import function_deployments as deployment_store
from support.function_requests import BAD_DEPLOYMENT_REQUESTS
from support.function_harness import HOOK_TIMEOUT, Lambda, migrated


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return migrated(tmp_path_factory.mktemp("template"))


@pytest.fixture
def lam(tmp_path, template):
    found = Lambda(tmp_path / "data", template)
    found.release()
    yield found
    found.close()


def shifts(lam: Lambda, ident: str, ticks: int = 400, seconds: float = 1.0):
    """(alias routing, fake time) each time the alias's routing changes, until the
    deployment is over."""
    seen = [(lam.routing(), lam.clock.time())]
    for _ in range(ticks):
        if lam.done(ident):
            return seen
        lam.tick(seconds)
        routing = lam.routing()
        if routing != seen[-1][0]:
            seen.append((routing, lam.clock.time()))
    raise AssertionError(f"not done in {ticks} ticks: {seen}")


ORIGINAL = ("1", {})
PROMOTED = ("2", {})


# ----------------------------------------------------------------- promotion

def test_linear_moves_the_alias_step_by_step_each_step_baking(lam):
    lam.load = 20
    changes = lam.changes
    ident = lam.deploy(type="linear", steps=3, interval=30)
    found = lam.describe(ident)
    assert (found["status"], found["stage"], found["step"]) == ("InProgress", "PreTraffic", -1)
    assert found["weights"] == [0.3333, 0.6667, 1.0] and found["bakes"] == [30.0, 30.0, 0.0]
    assert lam.routing() == ORIGINAL  # nothing moves before the workflow's first pass

    seen = shifts(lam, ident)
    assert [routing for routing, _ in seen] == [
        ORIGINAL, ("1", {"2": 0.3333}), ("1", {"2": 0.6667}), PROMOTED]
    times = [at for _, at in seen]
    # The first pass shifts at once; each step then bakes its interval (and the
    # metrics' settling time) on the clock before the next.
    assert times[1] - times[0] == 1
    assert times[2] - times[1] == times[3] - times[2] == 30 + SETTLE + 0.5
    found = lam.describe(ident)
    assert (found["status"], found["stage"], found["weight"]) == ("Succeeded", "Done", 1.0)
    # (A shift's time is the end of the tick whose pass made it.) The pass after the
    # last shift goes on to PostTraffic; with no hook there, the next one succeeds.
    assert found["completedAt"] == (times[3] - 1) + 2
    events = lam.events(ident)
    assert events[0] == ("Deployment of orders version 2 to alias live (from version 1) "
                         "created: linear: 33.33% of traffic for 30 s, 66.67% for 30 s, "
                         "then 100%")
    assert [e.split(":")[0] for e in events[1:]] == [
        "Step 1 of 3", "Step 1 healthy", "Step 2 of 3", "Step 2 healthy", "Step 3 of 3",
        "Succeeded"]
    assert events[1] == "Step 1 of 3: version 2 gets 33.33% of alias live"
    assert events[-1] == "Succeeded: alias live points at version 2"
    # Each healthy step counted the new version's share of the traffic it baked.
    healthy = [int(e.split(": ")[1].split()[0]) for e in events if "healthy" in e]
    assert 7 * 30 <= healthy[0] <= 7 * 33 and 13 * 30 <= healthy[1] <= 13 * 33
    # Every move of the alias was announced, so invocations see it at once.
    assert lam.changes - changes == 3
    assert not [k for k in lam.served if k[1]]


def test_canary_keeps_its_share_for_the_interval_then_takes_everything(lam):
    lam.load = 10
    ident = lam.deploy(type="canary", percent=10, interval=60)
    lam.until(lambda: lam.routing() != ORIGINAL, ticks=2)
    assert lam.routing() == ("1", {"2": 0.1})
    for _ in range(61):  # the bake, and the metrics' settling time
        lam.tick()
        assert lam.routing() == ("1", {"2": 0.1}) and lam.status(ident) == "InProgress"
    # All along, the new version had its tenth of the traffic.
    assert lam.served == {("1", False): 9 * 62, ("2", False): 62}
    lam.tick()
    assert lam.routing() == PROMOTED
    lam.until(lambda: lam.done(ident), ticks=3)
    assert lam.status(ident) == "Succeeded"


def test_all_at_once_points_the_alias_at_the_new_version_then_watches(lam):
    lam.load = 10
    ident = lam.deploy(type="all-at-once", interval=30)
    lam.tick()
    assert lam.routing() == PROMOTED
    started = lam.clock.time()
    for _ in range(30):  # the watch: the alias stays, the deployment is not over
        lam.tick()
        assert lam.status(ident) == "InProgress" and lam.routing() == PROMOTED
    lam.until(lambda: lam.done(ident))
    assert lam.status(ident) == "Succeeded"
    assert lam.clock.time() - started <= 30 + SETTLE + 2
    assert lam.events(ident)[-2] == ("Step 1 healthy: 320 invocations of version 2, "
                                     "no errors")


def test_codedeploys_all_at_once_runs_only_with_health_checks_off_and_says_so(lam):
    with pytest.raises(ServiceError) as refused:
        lam.deploy(deploymentConfig="LambdaAllAtOnce")
    assert refused.value.code == "InvalidParameterValueException"
    assert "--no-health-checks" in refused.value.message
    ident = lam.deploy(deploymentConfig="LambdaAllAtOnce", healthChecks=False)
    lam.tick()
    assert lam.routing() == PROMOTED and lam.status(ident) == "InProgress"
    lam.until(lambda: lam.done(ident), ticks=3)
    assert lam.status(ident) == "Succeeded"
    assert lam.events(ident) == [
        "Deployment of orders version 2 to alias live (from version 1) created: "
        "all-at-once: 100%; health checks are off: no step is judged",
        "Step 1 of 1: version 2 gets 100% of alias live",
        "Step 1 not checked: health checks are off",
        "Succeeded: alias live points at version 2"]


# ------------------------------------------- defaults: no step is called healthy unchecked

def test_the_issues_canary_of_0_1_percent_without_an_interval_is_checked(lam):
    """`--type canary --percent 0.1` without --interval went to 100% in half a second
    with zero invocations of the new version. Now it bakes CodeDeploy's 5 minutes at
    0.1% and, the new version never invoked, rolls back."""
    ident = lam.deploy(type="canary", percent=0.1)
    lam.tick()
    assert lam.routing() == ("1", {"2": 0.001})
    assert lam.events(ident)[:2] == [
        "Deployment of orders version 2 to alias live (from version 1) created: "
        "canary: 0.1% of traffic for 300 s, then 100%",
        "Step 1 of 2: version 2 gets 0.1% of alias live"]
    started = lam.clock.time() - 1
    for _ in range(299):
        lam.tick()
        assert lam.routing() == ("1", {"2": 0.001}) and lam.status(ident) == "InProgress"
    lam.until(lambda: lam.done(ident), ticks=5)
    assert lam.clock.time() - 1 >= started + 300 + SETTLE
    assert lam.status(ident) == "RolledBack" and lam.routing() == ORIGINAL
    assert lam.describe(ident)["reason"].startswith(
        "Health check failed at 0.1%: Version 2 was not invoked during the step")


def test_a_bare_deploy_is_codedeploys_linear_every_minute_and_checks_the_first_step(lam):
    ident = lam.deploy()
    found = lam.describe(ident)
    assert found["type"] == "linear" and found["bakes"] == [60.0] * 9 + [0.0]
    assert found["healthChecks"] is True
    lam.until(lambda: lam.done(ident), ticks=70)
    assert lam.status(ident) == "RolledBack" and lam.routing() == ORIGINAL
    assert "was not invoked" in lam.describe(ident)["reason"]
    assert not [e for e in lam.events(ident) if "healthy" in e]


@pytest.mark.parametrize("params,words", [
    ({"type": "canary", "percent": 0.1, "interval": 0}, "--no-health-checks"),
    ({"type": "linear", "interval": 0}, "--no-health-checks"),
    ({"type": "all-at-once"}, "--interval SECONDS"),
    ({"type": "linear", "healthChecks": "no"}, "healthChecks must be true or false"),
    ({"deploymentConfig": "LambdaCanary10Percent5Minutes", "interval": 0}, "interval, not both"),
])
def test_the_api_refuses_an_unchecked_plan_by_default(lam, params, words):
    with pytest.raises(ServiceError) as refused:
        lam.deploy(**params)
    assert refused.value.code == "InvalidParameterValueException"
    assert words in refused.value.message
    assert deployments.listing(lam.ctx, None) == []


def test_alarms_and_health_checks_off_do_not_go_together(lam):
    lam.cloudwatch("PutMetricAlarm", AlarmName="errors", Namespace="AWS/Lambda",
                   MetricName="Errors", Statistic="Sum", Period=60, EvaluationPeriods=1,
                   Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    with pytest.raises(ServiceError) as refused:
        lam.deploy(type="linear", interval=0, healthChecks=False, alarms=["errors"])
    assert "not both" in refused.value.message


def test_an_interval_of_0_with_health_checks_off_shifts_and_says_no_step_was_checked(lam):
    ident = lam.deploy(type="linear", steps=2, interval=0, healthChecks=False)
    lam.until(lambda: lam.done(ident), ticks=5)
    assert lam.status(ident) == "Succeeded"
    events = lam.events(ident)
    assert events[0].endswith("linear: 50% of traffic, then 100%; health checks are off: "
                              "no step is judged")
    assert "Step 1 not checked: health checks are off" in events
    assert not [e for e in events if "healthy" in e]


def test_health_checks_off_still_bakes_the_interval_unjudged(lam):
    ident = lam.deploy(type="canary", percent=5, interval=30, healthChecks=False)
    lam.tick()
    for _ in range(29):
        lam.tick()
        assert lam.routing() == ("1", {"2": 0.05})
    lam.until(lambda: lam.done(ident), ticks=5)
    assert lam.status(ident) == "Succeeded"  # no invocations, yet not judged: says so
    assert "Step 1 not checked: health checks are off" in lam.events(ident)


def test_a_record_from_before_the_option_is_judged_even_with_a_zero_bake(lam):
    """A deployment recorded by an older Nozama with an interval of 0 and no
    healthChecks key is judged, not waved through."""
    ident = lam.deploy(type="linear", steps=2, interval=0, healthChecks=False)
    with lam.store.write() as conn:
        row = deployment_store.get(conn, lam.ctx.region, lam.ctx.account_id, ident)
        doc = {k: v for k, v in row.doc.items() if k not in ("healthChecks", "plan")}
        deployment_store.save(conn, row.id, doc)
    lam.until(lambda: lam.done(ident), ticks=10)
    assert lam.status(ident) == "RolledBack"
    assert "was not invoked" in lam.describe(ident)["reason"]


def test_a_codedeploy_linear_configuration_takes_ten_steps_of_a_minute(lam):
    lam.load = 10
    ident = lam.deploy(deploymentConfig="LambdaLinear10PercentEvery1Minute")
    seen = shifts(lam, ident, seconds=10)
    assert [routing for routing, _ in seen][1:] == [
        ("1", {"2": i / 10}) for i in range(1, 10)] + [PROMOTED]
    gaps = [b - a for (_, a), (_, b) in zip(seen[1:], seen[2:])]
    assert all(60 + SETTLE <= gap <= 70 + SETTLE for gap in gaps)
    assert lam.describe(ident)["deploymentConfig"] == "LambdaLinear10PercentEvery1Minute"
    assert lam.status(ident) == "Succeeded"


# ----------------------------------------------------------------- rolling back

def test_errors_of_the_new_version_roll_back_at_once_with_a_small_blast_radius(lam):
    lam.load = 20
    lam.broken.add("2")
    ident = lam.deploy(type="canary", percent=10, interval=300)
    lam.tick()
    assert lam.routing() == ("1", {"2": 0.1})
    lam.tick()  # the first second's errors are in: not the five minutes of the bake
    found = lam.describe(ident)
    assert found["status"] == "RolledBack" and found["stage"] == "Done"
    assert found["reason"] == "Health check failed at 10%: Version 2 had 2 errors"
    assert found["weight"] == 0.0
    assert lam.events(ident)[-1] == ("Rolled back: Health check failed at 10%: Version 2 "
                                     "had 2 errors; alias live points at version 1 again")
    assert lam.routing() == ORIGINAL
    lam.tick()
    # The blast radius: one second of the canary's share of the traffic.
    assert lam.served == {("1", False): 18 + 20 + 20, ("2", True): 2}


def test_errors_while_all_at_once_watches_take_the_alias_back(lam):
    lam.load = 10
    ident = lam.deploy(type="all-at-once", interval=30)
    for _ in range(10):
        lam.tick()
    assert lam.routing() == PROMOTED and lam.status(ident) == "InProgress"
    lam.broken.add("2")
    lam.tick()
    lam.tick()
    found = lam.describe(ident)
    assert found["status"] == "RolledBack"
    assert found["reason"] == "Health check failed at 100%: Version 2 had 10 errors"
    assert lam.routing() == ORIGINAL


def test_errors_of_the_new_version_invoked_directly_count_too(lam):
    lam.load = 10
    ident = lam.deploy(type="linear", steps=2, interval=60)
    for _ in range(10):
        lam.tick()
    assert lam.status(ident) == "InProgress"
    lam.invoke_version("2", 3, failed=1)
    lam.tick()
    lam.tick()
    assert lam.describe(ident)["reason"] == "Health check failed at 50%: Version 2 had 1 errors"
    assert lam.routing() == ORIGINAL


def test_errors_of_the_original_version_do_not_fail_the_step(lam):
    lam.load = 10
    lam.broken.add("1")
    ident = lam.deploy(type="linear", steps=2, interval=30)
    lam.until(lambda: lam.done(ident))
    assert lam.status(ident) == "Succeeded"


def test_errors_after_the_step_was_judged_healthy_fail_the_next_step(lam):
    lam.load = 20
    ident = lam.deploy(type="linear", steps=4, interval=30)
    lam.until(lambda: lam.routing() == ("1", {"2": 0.5}))
    lam.broken.add("2")
    lam.until(lambda: lam.done(ident), ticks=4)
    assert lam.describe(ident)["reason"].startswith("Health check failed at 50%: Version 2 had")
    assert lam.routing() == ORIGINAL


def test_an_alarm_in_alarm_rolls_back_mid_step(lam):
    lam.load = 10
    lam.cloudwatch("PutMetricAlarm", AlarmName="orders-latency", Namespace="Shop",
                   MetricName="CheckoutLatency", Statistic="Maximum", Period=60,
                   EvaluationPeriods=1, Threshold=500,
                   ComparisonOperator="GreaterThanThreshold")
    ident = lam.deploy(type="linear", steps=2, interval=600, alarms=["orders-latency"])
    for _ in range(30):
        lam.tick()
    assert lam.routing() == ("1", {"2": 0.5}) and lam.status(ident) == "InProgress"
    lam.cloudwatch("SetAlarmState", AlarmName="orders-latency", StateValue="ALARM",
                   StateReason="test")
    lam.tick()
    found = lam.describe(ident)
    assert found["status"] == "RolledBack"
    assert found["reason"] == "Health check failed at 50%: Alarm orders-latency is in ALARM"
    assert lam.routing() == ORIGINAL


def test_an_alarm_already_firing_fails_the_first_step(lam):
    lam.cloudwatch("PutMetricAlarm", AlarmName="errors", Namespace="Shop",
                   MetricName="Errors", Statistic="Sum", Period=60, EvaluationPeriods=1,
                   Threshold=0, ComparisonOperator="GreaterThanThreshold")
    lam.cloudwatch("SetAlarmState", AlarmName="errors", StateValue="ALARM", StateReason="t")
    ident = lam.deploy(type="canary", percent=5, interval=60, alarms=["errors"])
    lam.tick()
    assert lam.routing() == ("1", {"2": 0.05})  # the shift happens, then the check fails it
    lam.tick()
    assert lam.describe(ident)["reason"] == "Health check failed at 5%: Alarm errors is in ALARM"
    assert lam.routing() == ORIGINAL


def test_a_step_without_invocations_fails_once_it_is_over(lam):
    ident = lam.deploy(type="linear", steps=2, interval=20)
    lam.tick()
    started = lam.clock.time() - 1
    # Silence proves nothing either way until the step is over.
    lam.until(lambda: lam.done(ident), ticks=40)
    assert lam.clock.time() - 1 >= started + 20 + SETTLE
    found = lam.describe(ident)
    assert found["reason"] == (
        "Health check failed at 50%: Version 2 was not invoked during the step, so its health "
        "is unknown (allow this with --allow-no-invocations)")
    assert lam.routing() == ORIGINAL


def test_a_step_without_invocations_passes_when_allowed(lam):
    ident = lam.deploy(type="linear", steps=2, interval=20, allowNoInvocations=True)
    seen = shifts(lam, ident)
    assert [routing for routing, _ in seen] == [ORIGINAL, ("1", {"2": 0.5}), PROMOTED]
    assert "Step 1 healthy: 0 invocations of version 2, no errors" in lam.events(ident)
    assert lam.status(ident) == "Succeeded"


# ----------------------------------------------------------------- hooks

def test_hooks_run_before_the_first_shift_and_after_the_last(lam):
    lam.hook("before", "hang")
    lam.hook("after", "hang")
    ident = lam.deploy(type="all-at-once", healthChecks=False, preTrafficHook="before", postTrafficHook="after",
                       allowNoInvocations=True)
    for _ in range(10):  # the alias waits for the pre-traffic hook
        lam.tick()
        assert lam.routing() == ORIGINAL and lam.status(ident) == "InProgress"
    assert lam.describe(ident)["preTrafficHookStatus"] == "InProgress"
    assert lam.runtime.invoked == [("before", {
        "DeploymentId": ident, "LifecycleEventHookExecutionId": f"{ident}-preTrafficHook"})]
    lam.runtime.answer("Succeeded")
    lam.settle()
    assert lam.describe(ident)["preTrafficHookStatus"] == "Succeeded"
    lam.tick()
    assert lam.routing() == PROMOTED
    lam.until(lambda: lam.runtime.pending, ticks=5)
    for _ in range(10):  # the deployment waits for the post-traffic hook, on 100%
        lam.tick()
        assert lam.routing() == PROMOTED and lam.status(ident) == "InProgress"
    lam.runtime.answer("Succeeded")
    lam.settle()
    lam.tick()
    assert lam.status(ident) == "Succeeded"
    assert [name for name, _ in lam.runtime.invoked] == ["before", "after"]
    assert [e for e in lam.events(ident) if "Hook" in e] == [
        "Running preTrafficHook function before", "preTrafficHook succeeded",
        "Running postTrafficHook function after", "postTrafficHook succeeded"]
    assert lam.runtime.in_flight == 0


@pytest.mark.parametrize("answer, failure", [
    ("Failed", "the function answered status 'Failed'"),
    ("raise", 'the function failed: {"errorType": "RuntimeError", "errorMessage": "no"}'),
    ("hang", "the function failed: {\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":"
             f"\"RequestId: r Error: Task timed out after {HOOK_TIMEOUT:.2f} seconds\"}}"),
    ("throttled", "throttled"),
], ids=["fails", "raises", "times-out", "throttled"])
def test_a_failed_pre_traffic_hook_rolls_back_before_any_traffic_moved(lam, answer, failure):
    lam.hook("check", answer)
    ident = lam.deploy(type="linear", steps=2, interval=60, preTrafficHook="check")
    started = lam.clock.time()
    seen = shifts(lam, ident, ticks=HOOK_TIMEOUT + 5)
    assert [routing for routing, _ in seen] == [ORIGINAL]  # traffic never moved
    found = lam.describe(ident)
    assert found["status"] == "RolledBack"
    assert found["reason"] == f"preTrafficHook function check failed: {failure}"
    assert found["preTrafficHookStatus"] == failure
    assert f"preTrafficHook failed: {failure}" in lam.events(ident)
    # A hook that hangs is ended by its own Timeout on the clock; the others at once.
    took = lam.clock.time() - started
    assert (HOOK_TIMEOUT <= took <= HOOK_TIMEOUT + 3) if answer == "hang" else took <= 3


def test_a_deployment_that_moved_no_traffic_leaves_the_alias_as_it_was(lam):
    """Its RevisionId too: a client that read the alias can still update it with it."""
    before = lam.alias()
    lam.hook("check", "Failed")
    ident = lam.deploy(type="all-at-once", healthChecks=False, preTrafficHook="check")
    lam.until(lambda: lam.done(ident), ticks=5)
    assert lam.status(ident) == "RolledBack"
    assert lam.alias() == before
    lam.call("UpdateAlias", FunctionName="orders", Name="live", Description="checked",
             RevisionId=before["RevisionId"])


def test_a_failed_post_traffic_hook_takes_the_alias_back_from_the_new_version(lam):
    lam.hook("verify", "Failed")
    ident = lam.deploy(type="canary", percent=50, interval=10, postTrafficHook="verify",
                       allowNoInvocations=True)
    seen = shifts(lam, ident)
    assert [routing for routing, _ in seen] == [
        ORIGINAL, ("1", {"2": 0.5}), PROMOTED, ORIGINAL]
    found = lam.describe(ident)
    assert found["status"] == "RolledBack"
    assert found["reason"] == ("postTrafficHook function verify failed: the function "
                               "answered status 'Failed'")


def test_a_hook_function_deleted_after_the_start_fails_the_hook(lam):
    lam.hook("check")
    ident = lam.deploy(type="all-at-once", healthChecks=False, preTrafficHook="check")
    lam.call("DeleteFunction", FunctionName="check")
    lam.until(lambda: lam.done(ident), ticks=5)
    assert lam.describe(ident)["reason"].startswith(
        "preTrafficHook function check failed: Function not found")
    assert lam.routing() == ORIGINAL


# ----------------------------------------------------------------- stopping

def test_stop_rolls_back_at_once_and_only_once(lam):
    ident = lam.deploy(type="canary", percent=10, interval=600, allowNoInvocations=True)
    lam.tick()
    assert lam.routing() == ("1", {"2": 0.1})
    stopped = lam.workflow.stop(lam.ctx, ident)
    assert stopped["status"] == "RolledBack" and stopped["reason"] == "Stopped on request"
    assert lam.routing() == ORIGINAL
    assert lam.events(ident)[-1] == ("Rolled back: Stopped on request; alias live points at "
                                     "version 1 again")
    with pytest.raises(ServiceError) as again:
        lam.workflow.stop(lam.ctx, ident)
    assert again.value.code == "ResourceConflictException"
    with pytest.raises(ServiceError) as unknown:
        lam.workflow.stop(lam.ctx, "d-NOPE")
    assert unknown.value.code == "ResourceNotFoundException"
    lam.tick()
    assert lam.describe(ident) == stopped  # finished: the workflow leaves it alone


def test_stop_while_a_hook_runs_rolls_back_and_the_hooks_answer_changes_nothing(lam):
    lam.hook("slow", "hang")
    ident = lam.deploy(type="all-at-once", healthChecks=False, preTrafficHook="slow")
    lam.tick()
    assert lam.runtime.pending
    assert lam.workflow.stop(lam.ctx, ident)["status"] == "RolledBack"
    lam.runtime.answer("Succeeded")
    lam.settle()
    lam.tick()
    found = lam.describe(ident)
    assert found["status"] == "RolledBack" and found["reason"] == "Stopped on request"
    assert "preTrafficHook succeeded" not in lam.events(ident)
    assert lam.routing() == ORIGINAL


def test_a_new_deployment_can_follow_a_stopped_one(lam):
    first = lam.deploy(type="canary", percent=10, interval=600, allowNoInvocations=True)
    lam.tick()
    with pytest.raises(ServiceError) as busy:
        lam.deploy(type="linear")
    assert busy.value.code == "ResourceConflictException"
    lam.workflow.stop(lam.ctx, first)
    second = lam.deploy(type="all-at-once", healthChecks=False)
    lam.until(lambda: lam.done(second), ticks=5)
    assert lam.status(second) == "Succeeded" and lam.routing() == PROMOTED


# ----------------------------------------------------------------- restarts

def test_a_restarted_workflow_resumes_the_step_it_was_in(lam):
    ident = lam.deploy(type="linear", steps=3, interval=60, allowNoInvocations=True)
    lam.until(lambda: lam.routing() == ("1", {"2": 0.6667}))
    step_started = lam.describe(ident)["stepStartedAt"]
    for _ in range(30):
        lam.tick()
    lam.restart()
    # The alias kept its split, the step its start: it bakes what was left of it.
    assert lam.routing() == ("1", {"2": 0.6667})
    lam.until(lambda: lam.routing() == PROMOTED, ticks=40)
    assert lam.clock.time() - 1 == pytest.approx(step_started + 60 + SETTLE, abs=1)
    lam.until(lambda: lam.done(ident), ticks=5)
    assert lam.status(ident) == "Succeeded"
    events = lam.events(ident)
    assert [e for e in events if e.startswith("Step")] == [
        "Step 1 of 3: version 2 gets 33.33% of alias live",
        "Step 1 healthy: 0 invocations of version 2, no errors",
        "Step 2 of 3: version 2 gets 66.67% of alias live",
        "Step 2 healthy: 0 invocations of version 2, no errors",
        "Step 3 of 3: version 2 gets 100% of alias live"]


def test_a_hook_lost_in_a_restart_runs_again(lam):
    lam.hook("check", "hang")
    ident = lam.deploy(type="all-at-once", healthChecks=False, preTrafficHook="check")
    lam.tick()
    assert lam.describe(ident)["preTrafficHookStatus"] == "InProgress"
    lam.restart()
    lam.runtime.answers["check"] = "Succeeded"
    lam.until(lambda: lam.done(ident), ticks=10)
    assert lam.status(ident) == "Succeeded"
    assert lam.events(ident).count("Running preTrafficHook function check") == 2
    assert lam.routing() == PROMOTED


def test_a_function_deleted_mid_deployment_fails_it(lam):
    ident = lam.deploy(type="linear", steps=4, interval=60, allowNoInvocations=True)
    lam.tick()
    lam.call("DeleteFunction", FunctionName="orders")
    lam.tick()
    found = lam.describe(ident)
    assert found["status"] == "Failed" and found["reason"].startswith("Function not found")
    assert lam.events(ident)[-1].endswith("nothing left to roll back")


# ----------------------------------------------------------------- requests

@pytest.mark.parametrize("change,code,message", BAD_DEPLOYMENT_REQUESTS)
def test_bad_deployment_requests_are_refused_and_change_nothing(lam, change, code, message):
    with pytest.raises(ServiceError) as refused:
        lam.deploy(**{"type": "linear", **change})
    assert refused.value.code == code and message in refused.value.message
    lam.tick()
    assert lam.routing() == ORIGINAL
    assert deployments.listing(lam.ctx, None) == []
