"""The progressive delivery acceptance scenario on real Docker containers, under load.

Two revisions of a small HTTP service (busybox httpd, a CGI answering each
request) run on three agents, one per zone, behind the load balancer's data
plane; clients keep sending requests and record every response. A good revision
is promoted with each strategy (blue/green, canary, linear, zone waves) without a
failed request; a bad one, answering 500 to 30% of requests, is rolled back by a
1-second alarm during a 10% canary with fewer than 1% of the attempt's requests
failed and all traffic back on the old revision within 5 seconds of the first bad
response, and again, without an alarm, by automatic canary analysis.
"""

from __future__ import annotations

import time
from functools import partial

import pytest

from support.agents import AgentPool
from support.deployments import Setup, alarm_on_errors
from support.servers import REAL_TIME, NozamaServer, start_dataplane
from support.traffic import Load
from support.waiting import wait_for

IMAGE = "nozama-test/busybox:latest"
APP = "/cgi-bin/app"
# Serve /health statically and /cgi-bin/app by CGI; BAD in tenths is the share of 500s.
SCRIPT = (
    "mkdir -p /tmp/w/cgi-bin && echo ok > /tmp/w/health && printf '#!/bin/sh\\n"
    "if [ $((RANDOM %% 10)) -lt ${BAD:-0} ]; then printf \"Status: 500 Internal Server "
    "Error\\\\r\\\\nContent-Type: text/plain\\\\r\\\\n\\\\r\\\\nbad $HOSTNAME\\\\n\"; else "
    "printf \"Content-Type: text/plain\\\\r\\\\n\\\\r\\\\nok $HOSTNAME\\\\n\"; fi\\n' "
    "> /tmp/w/cgi-bin/app && chmod +x /tmp/w/cgi-bin/app && exec httpd -f -p 8080 -h /tmp/w")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docker-deploy")
    # At production cadence: the failed shares asserted here are over whole attempts,
    # whose length the control plane's cadence sets.
    instance = NozamaServer(["--data-dir", str(tmp / "data")], tmp / "server.log",
                            env=REAL_TIME).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def own_dataplane(server, tmp_path_factory):
    process = start_dataplane(server, tmp_path_factory.mktemp("docker-deploy-lb") / "lb.log")
    yield process
    process.terminate()
    assert process.wait(timeout=15) == 0


@pytest.fixture
def elb(server, region, own_dataplane):
    return server.client("elbv2", region)


class DockerSetup(Setup):
    def revision(self, error_rate: float = 0.0) -> str:
        return self.ecs.register_task_definition(family="web", containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 64, "command": ["sh", "-c", SCRIPT],
            "environment": [{"name": "BAD", "value": str(round(error_rate * 10))}],
            "portMappings": [{"containerPort": 8080, "hostPort": 0}],
            "stopTimeout": 2}])["taskDefinition"]["taskDefinitionArn"]

    def load_balancers(self, test_rule: bool = True) -> list[dict]:
        entries = super().load_balancers(test_rule)
        entries[0]["containerPort"] = 8080
        return entries

    def _group(self, name: str) -> str:
        arn = super()._group(name)
        self.elb.modify_target_group(TargetGroupArn=arn, HealthCheckPath="/health")
        return arn


@pytest.fixture
def setup(server, region, elb, tmp_path):
    agents = AgentPool(server, region, tmp_path)
    made = DockerSetup(server, region, elb, partial(agents, runtime="docker"))
    yield made
    made.ecs.update_service(service="web", desiredCount=0)
    wait_for(lambda: not made.ecs.list_tasks()["taskArns"], timeout=60)
    agents.stop()


@pytest.mark.alone  # asserts a request rate: runs after the parallel tests, by itself
def test_good_and_bad_revisions_on_real_containers(setup):
    alarm_on_errors(setup)
    first = setup.create({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
                          "alarms": {"alarmNames": ["web-5xx"], "enable": True,
                                     "rollback": True}}, count=2)

    # (a) A good revision: promoted with zero failed requests, at >= 300 requests/s.
    good = setup.revision()
    with Load(setup.address, clients=4, path=APP) as load:
        setup.ecs.update_service(service="web", taskDefinition=good)
        setup.steady(timeout=120)
        time.sleep(0.5)
    assert load.failures == []
    assert load.total / load.seconds >= 300, load.total / load.seconds
    assert setup.deployment()["status"] == "SUCCESSFUL"

    # ... and with each other strategy, zone waves included.
    for configuration, tags in (
            ({"strategy": "CANARY", "canaryConfiguration": {
                "canaryPercent": 20.0, "canaryBakeTimeInMinutes": 0}}, []),
            ({"strategy": "LINEAR", "linearConfiguration": {
                "stepPercent": 50.0, "stepBakeTimeInMinutes": 0}}, []),
            ({"strategy": "ROLLING"}, [{"key": "nozama:zone-waves", "value": "true"},
                                       {"key": "nozama:zone-wave-bake-seconds", "value": "1"}])):
        if tags:
            setup.ecs.tag_resource(resourceArn=setup.service()["serviceArn"], tags=tags)
        good = setup.revision()
        with Load(setup.address, clients=4, path=APP) as load:
            setup.ecs.update_service(service="web", taskDefinition=good,
                                     deploymentConfiguration=configuration)
            setup.steady(timeout=120)
            time.sleep(0.5)
        assert load.failures == [], configuration
        assert setup.service()["taskDefinition"] == good
    setup.ecs.untag_resource(resourceArn=setup.service()["serviceArn"],
                             tagKeys=["nozama:zone-waves"])

    # (b) A bad revision in a 10% canary: the alarm rolls it back.
    bad = setup.revision(error_rate=0.3)
    setup.ecs.update_service(service="web", taskDefinition=bad, deploymentConfiguration={
        "strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0,
                                                      "canaryBakeTimeInMinutes": 10}})
    with Load(setup.address, clients=4, path=APP) as load:
        wait_for(lambda: setup.deployment()["status"].startswith("ROLLBACK"), timeout=120)
        rolled_back_at = time.monotonic()
        setup.steady(timeout=120)
        time.sleep(1)
    assert load.failures and {f[0] for f in load.failures} == {500}
    assert load.failed_at[-1] - load.failed_at[0] < 5, load.failed_at[-1] - load.failed_at[0]
    assert load.failed_at[-1] < rolled_back_at + 1
    assert len(load.failures) / load.total < 0.01, (len(load.failures), load.total)
    assert setup.service()["taskDefinition"] == good != first
    assert setup.deployment()["rollback"]["reason"] == "Alarm(s) web-5xx went to ALARM."

    # (c) The same bad revision, no alarm: automatic canary analysis rolls it back.
    setup.ecs.tag_resource(resourceArn=setup.service()["serviceArn"], tags=[
        {"key": "nozama:canary-analysis", "value": "true"}])
    wait_for(lambda: setup.cloudwatch.describe_alarms(AlarmNames=["web-5xx"])[
        "MetricAlarms"][0]["StateValue"] == "OK", timeout=30)
    with Load(setup.address, clients=4, path=APP) as load:
        setup.ecs.update_service(service="web", taskDefinition=bad, deploymentConfiguration={
            "alarms": {"alarmNames": [], "enable": False, "rollback": False}})
        wait_for(lambda: setup.deployment()["status"].startswith("ROLLBACK"), timeout=120)
        setup.steady(timeout=120)
    assert setup.deployment()["rollback"]["reason"].startswith("Automatic canary analysis")
    assert len(load.failures) / load.total < 0.02, (len(load.failures), load.total)
    assert setup.service()["taskDefinition"] == good
