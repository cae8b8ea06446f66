"""A service on three simulated agents behind a production and a test listener, for the
traffic-shifted deployment tests (BLUE_GREEN, CANARY, LINEAR) on simulated and Docker tasks."""

from __future__ import annotations

from .networks import vpc_of
from .traffic import PORT, get, load_balancer
from .waiting import wait_for

TEST_PORT = PORT + 1


class Setup:
    """A service on three simulated agents behind a production and a test listener."""

    def __init__(self, server, region, elb, agents, name="deploy"):
        self.ecs = server.client("ecs", region)
        self.cloudwatch = server.client("cloudwatch", region)
        self.elb = elb
        agents(3)
        wait_for(lambda: self.ecs.list_clusters()["clusterArns"] and len(
            self.ecs.list_container_instances(filter="agentConnected == true")[
                "containerInstanceArns"]) == 3, timeout=30)
        self.blue, self.green = (self._group(f"{name}-{color}") for color in ("blue", "green"))
        self.lb_arn, self.address = load_balancer(elb, name)
        self.listener = self._listener(PORT)
        self.test_listener = self._listener(TEST_PORT)
        self.production_rule = self._default_rule(self.listener)
        self.test_rule = self._default_rule(self.test_listener)

    def _group(self, name: str) -> str:
        arn = self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=vpc_of(self.elb), TargetType="instance",
            HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
            UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
        self.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
        return arn

    def _listener(self, port: int) -> str:
        return self.elb.create_listener(
            LoadBalancerArn=self.lb_arn, Protocol="HTTP", Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.blue}])[
            "Listeners"][0]["ListenerArn"]

    def _default_rule(self, listener: str) -> str:
        return self.elb.describe_rules(ListenerArn=listener)["Rules"][-1]["RuleArn"]

    def revision(self, error_rate: float = 0.0) -> str:
        labels = {"nozama.simulated.error-rate": str(error_rate)} if error_rate else {}
        return self.ecs.register_task_definition(family="web", containerDefinitions=[{
            "name": "app", "image": "busybox", "memory": 64, "dockerLabels": labels,
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}])["taskDefinition"][
            "taskDefinitionArn"]

    def load_balancers(self, test_rule: bool = True) -> list[dict]:
        advanced = {"alternateTargetGroupArn": self.green,
                    "productionListenerRule": self.production_rule,
                    "roleArn": "arn:aws:iam::000000000000:role/ecsInfrastructure"}
        if test_rule:
            advanced["testListenerRule"] = self.test_rule
        return [{"targetGroupArn": self.blue, "containerName": "app", "containerPort": 80,
                 "advancedConfiguration": advanced}]

    def create(self, configuration: dict, count: int = 2) -> str:
        definition = self.revision()
        # Without Availability Zone rebalancing: a deployment that leaves two tasks in
        # one zone would be followed by a move, and these tests count tasks at its end.
        self.ecs.create_service(serviceName="web", taskDefinition=definition,
                                desiredCount=count, loadBalancers=self.load_balancers(),
                                deploymentConfiguration=configuration,
                                availabilityZoneRebalancing="DISABLED")
        self.steady()
        return definition

    def service(self) -> dict:
        return self.ecs.describe_services(services=["web"])["services"][0]

    def steady(self, timeout: float = 90) -> dict:
        def check():
            s = self.service()
            return (s["runningCount"] == s["desiredCount"] and len(s["deployments"]) == 1 and
                    s["deployments"][0]["rolloutState"] == "COMPLETED" and s)
        return wait_for(check, timeout=timeout)

    def deployment(self) -> dict:
        """The newest service deployment, as DescribeServiceDeployments shows it."""
        arn = self.ecs.list_service_deployments(service="web")["serviceDeployments"][0][
            "serviceDeploymentArn"]
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"][0]

    def serving(self, port: int = PORT) -> set[str]:
        """The task ids that answer (twenty requests)."""
        return {get_on(self.address, port)[2].split()[1].decode() for _ in range(20)}

    def task_ids(self, definition: str) -> set[str]:
        arns = self.ecs.list_tasks(serviceName="web")["taskArns"]
        return {t["taskArn"].rsplit("/", 1)[1] for t in self.ecs.describe_tasks(tasks=arns)[
            "tasks"] if t["taskDefinitionArn"] == definition and t["lastStatus"] == "RUNNING"}

    def weights(self) -> dict[str, int]:
        action = self.elb.describe_rules(RuleArns=[self.production_rule])["Rules"][0][
            "Actions"][0]
        return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"][
            "TargetGroups"]}


def get_on(address: str, port: int):
    if port == PORT:
        return get(address)
    import http.client
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def alarm_on_errors(setup: Setup) -> None:
    """web-5xx: ALARM as soon as a second has a 5XX answer from any target."""
    setup.cloudwatch.put_metric_alarm(
        AlarmName="web-5xx", Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=1,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", Dimensions=[
            {"Name": "LoadBalancer", "Value": setup.lb_arn.split(":loadbalancer/")[1]}])
