"""A Nozama cluster over the test hosts of netns.py: the control plane on `control`, the
load balancers' data plane on `lb` (with the pool and the DNS responder), a simulated
agent on each of a1 a2 b1 b2 c1 c2, and the test itself on `client`.

The test thread runs on the client host (`Network.inside`), so its API calls and its
traffic cross the same links as a user's would, and a zone outage cuts them as it would.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
import botocore.config
import requests
from dnslib import DNSRecord, QTYPE

from .netns import Network
from .servers import ROOT, admin_credentials, agent_credentials_text
from .waiting import wait_for

PORT = 4566
DNS_PORT = 53
ZONES = "abc"


class Cluster:
    def __init__(self, network: Network, tmp_path: Path, region: str = "us-east-1"):
        self.network, self.tmp, self.region = network, tmp_path, region
        self.control = network.hosts["control"].address
        self.lb_host = network.hosts["lb"].address
        self.endpoint = f"http://{self.control}:{PORT}"
        self.data_dir = tmp_path / "store"
        self.server: subprocess.Popen | None = None
        self.dataplane: subprocess.Popen | None = None
        self.agents: dict[str, subprocess.Popen] = {}

    # --- processes ---------------------------------------------------------------

    def _nozama(self, host: str, name: str, *args: str) -> subprocess.Popen:
        return self.network.spawn(host, [sys.executable, "-m", "nozama", *args],
                                  self.tmp / f"{name}.log", cwd=ROOT,
                                  env={"NOZAMA_LB_HOSTS_FILE": ""})

    def start_control(self) -> None:
        self.server = self._nozama("control", "server", "server", "--host", self.control,
                                   "--port", str(PORT), "--data-dir", str(self.data_dir))
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.endpoint}/_nozama/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nozama server did not start: " +
                                   (self.tmp / "server.log").read_text()[-2000:])
            time.sleep(0.1)
        # The agents sign with a key of their own, limited to what an agent does.
        self.agent_credentials = self.tmp / "agent-credentials"
        if not self.agent_credentials.exists():
            self.agent_credentials.write_text(agent_credentials_text(self.client("iam")))

    def kill_control(self) -> None:
        self.server.kill()
        self.server.wait()

    def start_dataplane(self) -> None:
        self.dataplane = self._nozama("lb", "lb", "lb", "--data-dir", str(self.data_dir),
                                      "--address-pool", self.network.pool,
                                      "--dns", f"{self.lb_host}:{DNS_PORT}")

    def start_agent(self, host: str, runtime: str = "simulated") -> subprocess.Popen:
        """An agent on `host`. With runtime "docker" it drives the machine's one Docker
        Engine (through its socket, which no network namespace hides), in the root
        network namespace: its containers and pulls are not on the test network."""
        zone = self.network.hosts[host].zone
        self.agents[host] = self._nozama(
            host, f"agent-{host}", "agent", "--endpoint", self.endpoint,
            "--availability-zone", f"{self.region}{zone}", "--runtime", runtime,
            "--data-dir", str(self.tmp / f"agent-{host}"), "--cleanup-wait", "1",
            "--credentials-file", str(self.agent_credentials))
        return self.agents[host]

    def kill_agent(self, host: str) -> None:
        self.agents[host].kill()
        self.agents[host].wait()

    def start(self, agent_hosts=("a1", "a2", "b1", "b2", "c1", "c2")) -> "Cluster":
        self.start_control()
        self.start_dataplane()
        for host in agent_hosts:
            self.start_agent(host)
        return self

    # --- from the client host ------------------------------------------------------

    def client(self, service: str):
        key, secret = admin_credentials(self.data_dir)
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=botocore.config.Config(retries={"max_attempts": 2},
                                                          read_timeout=30))

    def resolve(self, name: str) -> str | None:
        """`name`'s address as the data plane's DNS responder answers it."""
        answer = DNSRecord.parse(DNSRecord.question(name).send(self.lb_host, DNS_PORT,
                                                               timeout=2))
        found = [str(r.rdata) for r in answer.rr if r.rtype == QTYPE.A]
        return found[0] if found else None


class ZonalService:
    """A service spread over the three zones behind an application load balancer (its
    tasks instance targets), with fast health checks and AZ rebalancing: what the zone
    tests and bench/zones.py take a zone away from. Its methods ask the API."""

    def __init__(self, cluster: Cluster, name: str = "web", desired: int = 6,
                 interval: int = 5, timeout: int = 2, unhealthy: int = 2):
        self.cluster, self.name = cluster, name
        self.ecs, self.elb, ec2 = (cluster.client(s) for s in ("ecs", "elbv2", "ec2"))
        wait_for(lambda: len(self.connected()) == len(cluster.agents), timeout=60)
        subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[
            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
        lb = self.elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
        self.dns_name = lb["DNSName"]
        self.tg = self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=lb["VpcId"], TargetType="instance",
            HealthCheckIntervalSeconds=interval, HealthCheckTimeoutSeconds=timeout,
            HealthyThresholdCount=2, UnhealthyThresholdCount=unhealthy)["TargetGroups"][0][
            "TargetGroupArn"]
        self.elb.modify_target_group_attributes(TargetGroupArn=self.tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
        self.elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                 Port=80, DefaultActions=[{"Type": "forward",
                                                           "TargetGroupArn": self.tg}])
        definition = self.ecs.register_task_definition(family=name, containerDefinitions=[{
            "name": "app", "image": "busybox", "memory": 64,
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}])["taskDefinition"]
        self.ecs.create_service(
            serviceName=name, taskDefinition=definition["taskDefinitionArn"],
            desiredCount=desired, healthCheckGracePeriodSeconds=0,
            availabilityZoneRebalancing="ENABLED",
            placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}],
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
            loadBalancers=[{"targetGroupArn": self.tg, "containerName": "app",
                            "containerPort": 80}])
        self.address = wait_for(lambda: cluster.resolve(self.dns_name), timeout=30)
        assert self.address.startswith(cluster.network.pool.rsplit(".", 1)[0])

    def connected(self) -> list[str]:
        try:
            return self.ecs.list_container_instances(filter="agentConnected == true")[
                "containerInstanceArns"]
        except self.ecs.exceptions.ClusterNotFoundException:
            return []

    def instances(self) -> dict[str, tuple[str, str]]:
        """container instance ARN -> (its zone's letter, its EC2 instance id)."""
        arns = self.ecs.list_container_instances()["containerInstanceArns"]
        return {i["containerInstanceArn"]: (next(a["value"] for a in i["attributes"]
                                                  if a["name"] == "ecs.availability-zone")[-1],
                                             i["ec2InstanceId"])
                for i in self.ecs.describe_container_instances(
                    containerInstances=arns)["containerInstances"]}

    def zones(self) -> dict[str, str]:
        """container instance ARN -> its zone's letter."""
        return {arn: zone for arn, (zone, _) in self.instances().items()}

    def tasks(self, desired: str = "RUNNING") -> list[dict]:
        arns = self.ecs.list_tasks(serviceName=self.name, desiredStatus=desired)["taskArns"]
        return self.ecs.describe_tasks(tasks=arns)["tasks"] if arns else []

    def spread(self) -> Counter:
        """The tasks desired and last seen RUNNING, by zone."""
        zones = self.zones()
        return Counter(zones[t["containerInstanceArn"]] for t in self.tasks()
                       if t["lastStatus"] == "RUNNING")

    def health(self) -> list[tuple[str, str]]:
        """(zone, state) of every target."""
        zone_of = {ec2: zone for zone, ec2 in self.instances().values()}
        return [(zone_of.get(d["Target"]["Id"], "?"), d["TargetHealth"]["State"])
                for d in self.elb.describe_target_health(TargetGroupArn=self.tg)[
                    "TargetHealthDescriptions"]]

    def healthy(self) -> int:
        return sum(state == "healthy" for _, state in self.health())

    def out_of_rotation(self, zone: str) -> bool:
        """None of the zone's targets takes requests."""
        return all(state != "healthy" for where, state in self.health() if where == zone)

    def steady(self, spread: dict[str, int]) -> bool:
        return self.spread() == Counter(spread) and self.healthy() == sum(spread.values())
