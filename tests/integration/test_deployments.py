"""Traffic-shifted deployments (BLUE_GREEN, CANARY, LINEAR) of a service behind the load
balancer, under continuous load: promotion without a failed request, rollback by an
alarm, lifecycle hooks, and the configurations ECS refuses.

Tasks run on simulated agents, which answer HTTP on their host ports (a label makes a
revision answer 500 to a share of requests); the load balancer is the real data plane.
"""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from support.agents import AgentPool
from support.deployments import TEST_PORT, Setup, alarm_on_errors
from support.servers import NozamaServer, start_dataplane, store_args, run_nozama
from support.traffic import PORT, Load, get, load_balancer
from support.waiting import wait_for


@pytest.fixture
def setup(server, region, elb, agents):
    return Setup(server, region, elb, agents)


@pytest.mark.parametrize("configuration", [
    {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
    {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 20.0,
                                                   "canaryBakeTimeInMinutes": 0}},
    {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0,
                                                   "stepBakeTimeInMinutes": 0}},
], ids=["blue-green", "canary", "linear"])
@pytest.mark.alone  # asserts a request rate: runs after the parallel tests, by itself
def test_a_good_revision_is_promoted_without_a_failed_request(setup, configuration):
    first = setup.create(configuration)
    assert setup.serving() == setup.task_ids(first)
    second = setup.revision()
    with Load(setup.address, clients=4) as load:
        setup.ecs.update_service(service="web", taskDefinition=second)
        setup.steady()
        time.sleep(0.5)
    assert load.failures == []
    assert load.total / load.seconds >= 300, load.total / load.seconds
    # The new tasks serve production and test traffic; the old ones are gone.
    wait_for(lambda: setup.serving() == setup.task_ids(second))
    assert len(setup.task_ids(second)) == 2
    assert setup.serving(TEST_PORT) == setup.task_ids(second)
    assert setup.task_ids(first) == set()
    assert setup.weights() == {setup.blue: 0, setup.green: 100}
    deployment = setup.deployment()
    assert deployment["status"] == "SUCCESSFUL"
    events = [e["message"] for e in setup.service()["events"]]
    assert any("production traffic shift" in m for m in events)
    shifts = [m for m in events if "of production traffic to the new revision" in m]
    expected = {"BLUE_GREEN": 1, "CANARY": 2, "LINEAR": 4}[configuration["strategy"]]
    assert len(shifts) == expected

    # The next deployment goes the other way: the blue target group is the alternate now.
    third = setup.revision()
    setup.ecs.update_service(service="web", taskDefinition=third)
    setup.steady()
    wait_for(lambda: setup.serving() == setup.task_ids(third))
    assert setup.weights() == {setup.blue: 100, setup.green: 0}


@pytest.fixture
def real_time_setup(real_time_server, region, tmp_path):
    """Setup on the server at production cadence."""
    agents = AgentPool(real_time_server, region, tmp_path)
    yield Setup(real_time_server, region, real_time_server.client("elbv2", region), agents)
    agents.stop()


# At production cadence: the failed share is over the whole attempt, whose length the
# control plane's cadence sets (NOZAMA_INTERVAL_SCALE shortens it, not the failures).
def test_an_alarm_rolls_a_bad_canary_back_within_seconds(real_time_setup):
    setup = real_time_setup
    alarm_on_errors(setup)
    good = setup.create({"strategy": "CANARY", "canaryConfiguration": {
        "canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10},
        "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}})
    old_tasks = setup.task_ids(good)
    bad = setup.revision(error_rate=0.3)
    with Load(setup.address, clients=4) as load:
        setup.ecs.update_service(service="web", taskDefinition=bad)
        wait_for(lambda: setup.deployment()["status"].startswith("ROLLBACK"), timeout=60)
        rolled_back_at = time.monotonic()
        setup.steady()
        time.sleep(1)
    assert load.failures, "the bad revision got no traffic"
    assert {f[0] for f in load.failures} == {500}
    # From the first bad response to all traffic back on blue: under 5 seconds.
    assert load.failed_at[-1] - load.failed_at[0] < 5, load.failed_at[-1] - load.failed_at[0]
    assert load.failed_at[-1] < rolled_back_at + 1
    assert len(load.failures) / load.total < 0.01, (len(load.failures), load.total)
    assert setup.serving() == old_tasks
    assert setup.weights() == {setup.blue: 100, setup.green: 0}
    deployment = setup.deployment()
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["rollback"]["reason"] == "Alarm(s) web-5xx went to ALARM."
    service = setup.service()
    assert service["taskDefinition"] == good
    assert any("all traffic is back on" in e["message"] for e in service["events"])


class Hook:
    """An HTTP lifecycle hook that answers what it is told and records its calls."""

    def __init__(self, answer: str):
        self.answer, self.calls = answer, []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hook.calls.append(json.loads(self.rfile.read(
                    int(self.headers["Content-Length"]))))
                body = json.dumps({"hookStatus": hook.answer}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_lifecycle_hooks_pause_continue_and_fail(setup):
    approve = Hook("SUCCEEDED")
    first = setup.create({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]},
        {"targetType": "AWS_LAMBDA", "hookTargetArn": approve.url,
         "lifecycleStages": ["POST_SCALE_UP"]}]})
    second = setup.revision()
    setup.ecs.update_service(service="web", taskDefinition=second)

    def paused():
        d = setup.deployment()
        return d.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT" and \
            d["lifecycleHookDetails"] and d
    deployment = wait_for(paused, timeout=60)
    [hook] = deployment["lifecycleHookDetails"]
    assert (hook["targetType"], hook["status"]) == ("PAUSE", "AWAITING_ACTION")
    assert [c["lifecycleStage"] for c in approve.calls] == ["POST_SCALE_UP"]
    assert approve.calls[0]["serviceDeploymentArn"] == deployment["serviceDeploymentArn"]
    # Paused after the test traffic shift: the test listener reaches green (as soon as the
    # data plane has read the change), production blue.
    wait_for(lambda: setup.serving(TEST_PORT) == setup.task_ids(second))
    assert setup.serving() == setup.task_ids(first)
    assert "0% of production traffic on the new revision" in deployment["statusReason"]
    time.sleep(2)
    assert setup.deployment()["status"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as info:
        setup.ecs.continue_service_deployment(
            serviceDeploymentArn=deployment["serviceDeploymentArn"], hookId="no-such-hook")
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    setup.ecs.continue_service_deployment(
        serviceDeploymentArn=deployment["serviceDeploymentArn"], hookId=hook["hookId"],
        action="CONTINUE")
    setup.steady()
    wait_for(lambda: setup.serving() == setup.task_ids(second))

    # A hook that fails its stage rolls the deployment back.
    setup.ecs.update_service(service="web", deploymentConfiguration={"lifecycleHooks": [
        {"targetType": "AWS_LAMBDA", "hookTargetArn": Hook("FAILED").url,
         "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]}]})
    third = setup.revision()
    setup.ecs.update_service(service="web", taskDefinition=third)
    wait_for(lambda: setup.deployment()["status"] == "ROLLBACK_SUCCESSFUL", timeout=90)
    assert setup.deployment()["rollback"]["reason"].startswith("Lifecycle hook pre_production")
    setup.steady()
    wait_for(lambda: setup.serving() == setup.task_ids(second))
    assert setup.service()["taskDefinition"] == second


def test_stop_service_deployment_rolls_a_shift_back(setup):
    first = setup.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
    setup.ecs.update_service(service="web", taskDefinition=setup.revision())
    wait_for(lambda: setup.weights().get(setup.green) == 50, timeout=60)
    deployment = setup.deployment()
    assert deployment["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert "50% of production traffic on the new revision" in deployment["statusReason"]
    setup.ecs.stop_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                      stopType="ROLLBACK")
    assert setup.weights() == {setup.blue: 100, setup.green: 0}  # at once
    setup.steady()
    wait_for(lambda: setup.serving() == setup.task_ids(first))
    assert setup.deployment()["status"] == "ROLLBACK_SUCCESSFUL"


@pytest.fixture
def plain(server, region, elb, dataplane):
    """The resources of a traffic-shifted service, without agents (for refused requests)."""
    class Plain(Setup):
        def __init__(self):
            self.ecs = server.client("ecs", region)
            self.elb = elb
            self.blue, self.green = self._group("plain-blue"), self._group("plain-green")
            self.lb_arn, self.address = load_balancer(elb, "plain")
            self.listener = self._listener(PORT)
            self.test_listener = self._listener(TEST_PORT)
            self.production_rule = self._default_rule(self.listener)
            self.test_rule = self._default_rule(self.test_listener)
    made = Plain()
    made.ecs.create_cluster(clusterName="default")
    return made


def refused(plain, configuration: dict, load_balancers=None, name: str = "web") -> str:
    with pytest.raises(ClientError) as info:
        plain.ecs.create_service(
            serviceName=name, taskDefinition=plain.revision(), desiredCount=1,
            loadBalancers=plain.load_balancers() if load_balancers is None else load_balancers,
            deploymentConfiguration=configuration)
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    return info.value.response["Error"]["Message"]


@pytest.mark.parametrize("configuration, message", [
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}}, "canaryPercent"),
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 100.5}},
     "canaryPercent"),
    ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 0.0}}, "stepPercent"),
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0,
                                                    "canaryBakeTimeInMinutes": 1441}},
     "Bake times"),
    ({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "AWS_LAMBDA", "lifecycleStages": ["POST_SCALE_UP"],
         "hookTargetArn": "arn:aws:lambda:us-east-1:000000000000:function:check"}]},
     "http(s) URL"),
    ({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "PAUSE",
                                                    "lifecycleStages": []}]},
     "lifecycleStages"),
    ({"strategy": "BLUE_GREEN", "alarms": {"alarmNames": ["no-such-alarm"], "enable": True,
                                           "rollback": True}}, "do not exist"),
])
def test_bad_strategy_configurations(plain, configuration, message):
    assert message in refused(plain, configuration)
    assert plain.ecs.list_services()["serviceArns"] == []


def test_strategies_need_their_load_balancer_configuration(plain):
    blue_green = {"strategy": "BLUE_GREEN"}
    assert "needs a load balancer" in refused(plain, blue_green, load_balancers=[])
    entry = plain.load_balancers()[0]
    without = {k: v for k, v in entry.items() if k != "advancedConfiguration"}
    assert "advancedConfiguration" in refused(plain, blue_green, [without])
    same = {**entry, "advancedConfiguration": {**entry["advancedConfiguration"],
                                               "alternateTargetGroupArn": plain.blue}}
    assert "must differ" in refused(plain, blue_green, [same])
    other_rule = plain.elb.create_rule(
        ListenerArn=plain.listener, Priority=5, Conditions=[
            {"Field": "path-pattern", "Values": ["/other"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])[
        "Rules"][0]["RuleArn"]
    elsewhere = {**entry, "advancedConfiguration": {**entry["advancedConfiguration"],
                                                    "productionListenerRule": other_rule}}
    assert "does not forward to the target group" in refused(plain, blue_green, [elsewhere])
    missing = {**entry, "advancedConfiguration": {
        **entry["advancedConfiguration"],
        "testListenerRule": plain.production_rule[:-4] + "beef"}}
    assert "Unable to find the listener rule" in refused(plain, blue_green, [missing])
    # An alternate target group that another service already uses.
    plain.ecs.create_service(serviceName="first", taskDefinition=plain.revision(),
                             desiredCount=0, loadBalancers=plain.load_balancers(),
                             deploymentConfiguration=blue_green)
    assert "already used by the service first" in refused(plain, blue_green, name="second")
    assert plain.ecs.list_services()["serviceArns"] == [
        plain.ecs.describe_services(services=["first"])["services"][0]["serviceArn"]]


def test_nozama_deploy_follows_a_deployment_to_its_end(setup, server, region):
    first = setup.create({"strategy": "BLUE_GREEN"})
    second = setup.revision()
    done = run_nozama(server, region, "deploy", "web", "--task-definition", second,
                  "--strategy", "CANARY", "--canary-percent", "50", "--canary-bake-minutes",
                  "0")
    assert done.returncode == 0, done.stdout + done.stderr
    frames = done.stdout.split("service web: ")
    assert frames[-1].startswith("deployment SUCCESSFUL")
    assert any("stage SCALE_UP" in f for f in frames)
    assert "deploy-green" in done.stdout and "traffic" in done.stdout
    assert setup.service()["taskDefinition"] == second != first
    # Watching a deployment that is over says how it ended, at once.
    again = run_nozama(server, region, "watch", "web")
    assert again.returncode == 0 and "deployment SUCCESSFUL" in again.stdout
    missing = run_nozama(server, region, "watch", "nothing-here")
    assert missing.returncode == 2 and "nozama watch:" in missing.stderr


def test_a_hook_that_cannot_be_reached_fails_its_stage(setup, server, region):
    first = setup.create({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "AWS_LAMBDA", "hookTargetArn": "http://127.0.0.1:9/unreachable",
         "lifecycleStages": ["POST_SCALE_UP"]}]})
    # `nozama deploy` follows it to the rollback, and says so with its exit status.
    done = run_nozama(server, region, "deploy", "web", "--task-definition", setup.revision())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "deployment ROLLBACK_SUCCESSFUL" in done.stdout
    assert setup.deployment()["status"] == "ROLLBACK_SUCCESSFUL"
    setup.steady()
    assert setup.service()["taskDefinition"] == first
    wait_for(lambda: setup.serving() == setup.task_ids(first))


@pytest.mark.store_matrix  # deployment state read back after kill -9: on both stores
def test_a_control_plane_killed_mid_shift_resumes_where_it_was(backend, tmp_path):
    """kill -9 the control plane halfway through a linear shift: traffic keeps its split
    meanwhile (the data plane does not need the control plane), and the restarted
    control plane carries on from the recorded stage and weights."""
    own = NozamaServer(store_args(backend, tmp_path), tmp_path / "server.log").start()
    lb = start_dataplane(own, tmp_path / "lb.log")
    agents = AgentPool(own, "us-east-1", tmp_path)
    try:
        setup = Setup(own, "us-east-1", own.client("elbv2"), agents, name="resume")
        first = setup.create({"strategy": "LINEAR", "linearConfiguration": {
            "stepPercent": 50.0, "stepBakeTimeInMinutes": 10}})
        second = setup.revision()
        setup.ecs.update_service(service="web", taskDefinition=second)
        wait_for(lambda: setup.weights().get(setup.green) == 50, timeout=60)
        own.kill()
        with Load(setup.address, clients=2) as load:
            time.sleep(1.5)
        assert load.failures == [] and load.total > 100
        served = setup.serving()
        own.start()
        assert served & setup.task_ids(first) and served & setup.task_ids(second)
        deployment = setup.deployment()
        assert (deployment["status"], deployment["lifecycleStage"]) == (
            "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
        assert "50% of production traffic on the new revision" in deployment["statusReason"]
        time.sleep(2)  # a few passes of the restarted controller: nothing moves
        assert setup.weights() == {setup.blue: 50, setup.green: 50}
        setup.ecs.stop_service_deployment(
            serviceDeploymentArn=deployment["serviceDeploymentArn"], stopType="ROLLBACK")
        setup.steady()
        wait_for(lambda: setup.serving() == setup.task_ids(first))
    finally:
        agents.stop()
        lb.terminate()
        lb.wait(timeout=15)
        if own.process.poll() is None:
            own.stop()


def test_canary_analysis_rolls_back_a_bad_revision_without_an_alarm(setup):
    good = setup.create({"strategy": "CANARY", "canaryConfiguration": {
        "canaryPercent": 20.0, "canaryBakeTimeInMinutes": 10}})
    arn = setup.service()["serviceArn"]
    setup.ecs.tag_resource(resourceArn=arn, tags=[
        {"key": "nozama:canary-analysis", "value": "true"}])
    with Load(setup.address, clients=4) as load:
        setup.ecs.update_service(service="web", taskDefinition=setup.revision(error_rate=0.3))
        wait_for(lambda: setup.deployment()["status"].startswith("ROLLBACK"), timeout=60)
        setup.steady()
    deployment = setup.deployment()
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment["rollback"]["reason"].startswith(
        "Automatic canary analysis: 5XX share ")
    assert load.failures and load.failed_at[-1] - load.failed_at[0] < 10
    assert setup.service()["taskDefinition"] == good


def test_canary_analysis_promotes_a_good_revision_before_its_bake_time_ends(setup):
    setup.create({"strategy": "CANARY", "canaryConfiguration": {
        "canaryPercent": 30.0, "canaryBakeTimeInMinutes": 30}})
    setup.ecs.tag_resource(resourceArn=setup.service()["serviceArn"], tags=[
        {"key": "nozama:canary-analysis", "value": "true"}])
    second = setup.revision()
    with Load(setup.address, clients=4) as load:
        setup.ecs.update_service(service="web", taskDefinition=second)
        setup.steady(timeout=120)  # far less than the 30 minutes of the canary's bake
    assert load.failures == []
    assert setup.deployment()["status"] == "SUCCESSFUL"
    assert any("canary analysis passed early" in e["message"]
               for e in setup.service()["events"])


def test_identity_sticky_canaries_shard_users_not_requests(setup):
    setup.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 30.0, "stepBakeTimeInMinutes": 10}})
    setup.ecs.tag_resource(resourceArn=setup.service()["serviceArn"], tags=[
        {"key": "nozama:canary-identity", "value": "header:X-User"}])
    second = setup.revision()
    setup.ecs.update_service(service="web", taskDefinition=second)
    wait_for(lambda: setup.weights().get(setup.green) == 30, timeout=60)
    green_tasks = setup.task_ids(second)
    time.sleep(0.2)  # the data plane reads the new weights

    def revision_of(user: int) -> bool:
        status, _, body = get(setup.address, headers={"X-User": f"user-{user}"})
        assert status == 200
        return body.split()[1].decode() in green_tasks
    seen = {user: {revision_of(user) for _ in range(3)} for user in range(300)}
    # Each user sees one revision, every time.
    assert all(len(revisions) == 1 for revisions in seen.values())
    on_green = sum(revisions == {True} for revisions in seen.values())
    assert 60 <= on_green <= 120, on_green  # 30% of 300 users
    # Requests without the identity are shared by weight, as usual.
    anonymous = [get(setup.address)[2].split()[1].decode() in green_tasks for _ in range(100)]
    assert 20 <= sum(anonymous) <= 40
    setup.ecs.stop_service_deployment(
        serviceDeploymentArn=setup.deployment()["serviceDeploymentArn"], stopType="ROLLBACK")
    setup.steady()


@pytest.mark.alone  # asserts a request rate: runs after the parallel tests, by itself
def test_zone_waves_behind_the_load_balancer_fail_no_request(setup):
    """A rolling deployment in zone waves, under load: no request fails."""
    first = setup.revision()
    setup.ecs.create_service(
        serviceName="web", taskDefinition=first, desiredCount=3,
        loadBalancers=[{k: v for k, v in setup.load_balancers()[0].items()
                        if k != "advancedConfiguration"}],
        tags=[{"key": "nozama:zone-waves", "value": "true"},
              {"key": "nozama:zone-wave-bake-seconds", "value": "1"}])
    setup.steady()
    second = setup.revision()
    with Load(setup.address, clients=4) as load:
        setup.ecs.update_service(service="web", taskDefinition=second)
        setup.steady(timeout=120)
        time.sleep(0.5)
    assert load.failures == []
    assert load.total / load.seconds >= 300, load.total / load.seconds
    wait_for(lambda: setup.serving() == setup.task_ids(second))
    waves = [e["message"] for e in setup.service()["events"] if "zone wave" in e["message"]]
    assert len(waves) == 3


def test_a_deleted_service_drains_and_stops_every_task(setup):
    setup.create({"strategy": "BLUE_GREEN"})
    setup.ecs.delete_service(service="web", force=True)

    def gone():
        return not setup.ecs.list_tasks()["taskArns"] and setup.ecs.describe_services(
            services=["web"])["services"][0]["status"] == "INACTIVE"
    wait_for(gone, timeout=30)
    wait_for(lambda: setup.elb.describe_target_health(TargetGroupArn=setup.blue)[
        "TargetHealthDescriptions"] == [], timeout=15)


def test_a_rolling_update_after_a_blue_green_one_serves_where_production_is(setup):
    setup.create({"strategy": "BLUE_GREEN"})
    setup.ecs.update_service(service="web", taskDefinition=setup.revision())
    setup.steady()
    assert setup.weights() == {setup.blue: 0, setup.green: 100}
    third = setup.revision()
    with Load(setup.address, clients=4) as load:
        setup.ecs.update_service(service="web", taskDefinition=third,
                                 deploymentConfiguration={"strategy": "ROLLING"})
        setup.steady()
        time.sleep(0.5)
    assert load.failures == []
    wait_for(lambda: setup.serving() == setup.task_ids(third))
    assert [d["TargetHealth"]["State"] for d in setup.elb.describe_target_health(
        TargetGroupArn=setup.green)["TargetHealthDescriptions"]] == ["healthy"] * 2
