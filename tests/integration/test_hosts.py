"""Hosts and their addresses: an agent registers where its host is reached, a zone names
its region, an agent whose instance the control plane forgot registers anew, and a data
plane's address pool gives load balancers addresses that other hosts reach."""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys

import pytest

from support.agents import AgentProcess
from support.servers import ROOT, NozamaServer, start_dataplane, store_args
from support.networks import subnets_of
from support.traffic import resolve
from support.waiting import wait_for

from integration.test_tasks_simulated import connected_instances, register, task


def agent_command(server, *args: str, data_dir) -> subprocess.CompletedProcess:
    """`nozama agent` that is expected to refuse to start (it would run forever)."""
    return subprocess.run([sys.executable, "-m", "nozama", "agent", "--endpoint",
                           server.endpoint, "--runtime", "simulated", "--data-dir",
                           str(data_dir), *args], capture_output=True, text=True, timeout=30,
                          cwd=ROOT)


def test_a_task_s_bindings_show_its_host_address(ecs, agents):
    agents(1, extra=["--address", "127.0.0.1"])
    wait_for(lambda: connected_instances(ecs))
    arn = ecs.run_task(taskDefinition=register(ecs))["tasks"][0]["taskArn"]
    running = wait_for(lambda: (t := task(ecs, arn))["lastStatus"] == "RUNNING" and t)
    (binding,) = running["containers"][0]["networkBindings"]
    assert binding["bindIP"] == "127.0.0.1" and binding["hostPort"] >= 49153


def test_a_zone_implies_its_region(server, tmp_path):
    region = "zz-" + "".join(random.choices("abcdefghij", k=10)) + "-2"
    agent = subprocess.Popen([sys.executable, "-m", "nozama", "agent", "--endpoint",
                              server.endpoint, "--availability-zone", f"{region}b",
                              "--runtime", "simulated", "--data-dir", str(tmp_path / "a"),
                              "--credentials-file", str(server.agent_credentials_file()),
                              "--log-level", "warning"], cwd=ROOT)
    try:
        ecs = server.client("ecs", region)
        (arn,) = wait_for(lambda: connected_instances(ecs))
        attributes = ecs.describe_container_instances(containerInstances=[arn])[
            "containerInstances"][0]["attributes"]
        assert {"name": "ecs.availability-zone", "value": f"{region}b"} in attributes
    finally:
        agent.terminate()
        agent.wait(timeout=15)


def test_a_zone_of_another_region_an_address_not_the_host_s_are_refused(server, region,
                                                                          tmp_path):
    ecs = server.client("ecs", region)
    refused = agent_command(server, "--region", region, "--availability-zone", "us-west-2b",
                            data_dir=tmp_path / "a")
    assert refused.returncode == 2
    assert f"'us-west-2b' is not a zone of region {region}" in refused.stderr
    not_a_zone = agent_command(server, "--availability-zone", "moon-1", data_dir=tmp_path / "a")
    assert not_a_zone.returncode == 2 and "is not a zone name" in not_a_zone.stderr
    elsewhere = agent_command(server, "--region", region, "--address", "198.18.250.1",
                              data_dir=tmp_path / "a")
    assert elsewhere.returncode == 2
    assert "198.18.250.1 is not an address of this host" in elsewhere.stderr
    garbage = agent_command(server, "--region", region, "--address", "not-an-ip",
                            data_dir=tmp_path / "a")
    assert garbage.returncode == 2 and "is not an IP address" in garbage.stderr
    # Through the API too: nothing registered.
    with pytest.raises(ecs.exceptions.InvalidParameterException) as error:
        ecs.register_container_instance(instanceIdentityDocument=json.dumps(
            {"instanceId": "i-0123456789abcdef0", "availabilityZone": "us-west-2b"}))
    assert "not a zone of region" in str(error.value)
    for address in ("0.0.0.0", "224.0.0.1", "300.1.1.1", "host.example"):
        with pytest.raises(ecs.exceptions.InvalidParameterException):
            ecs.register_container_instance(instanceIdentityDocument=json.dumps(
                {"instanceId": "i-0123456789abcdef1", "privateIp": address}))
    assert ecs.list_clusters()["clusterArns"] == []   # not even the default cluster


def test_two_hosts_cannot_register_one_address(server, region):
    ecs = server.client("ecs", region)

    def register_host(instance_id: str, address: str):
        return ecs.register_container_instance(instanceIdentityDocument=json.dumps(
            {"instanceId": instance_id, "availabilityZone": f"{region}a",
             "privateIp": address}))["containerInstance"]["containerInstanceArn"]

    first = register_host("i-00000000000000001", "198.18.7.11")
    # The same host again keeps its instance; another host at its address is refused.
    assert register_host("i-00000000000000001", "198.18.7.11") == first
    with pytest.raises(ecs.exceptions.InvalidParameterException) as error:
        register_host("i-00000000000000002", "198.18.7.11")
    assert f"Address 198.18.7.11 is already registered by container instance {first}" in \
        str(error.value)
    assert ecs.list_container_instances()["containerInstanceArns"] == [first]
    # Loopback is shared by the agents of one machine (`nozama up`).
    register_host("i-00000000000000003", "127.0.0.1")
    register_host("i-00000000000000004", "127.0.0.1")
    # Once the first is deregistered, its address is free for a new host.
    ecs.deregister_container_instance(containerInstance=first)
    register_host("i-00000000000000002", "198.18.7.11")


def test_an_agent_the_control_plane_does_not_know_registers_anew(tmp_path, region):
    """A fresh control plane: the agent's saved instance is unknown there."""
    old = NozamaServer(["--data-dir", str(tmp_path / "old")], tmp_path / "old.log").start()
    agent = AgentProcess(old, region, f"{region}a", tmp_path / "agent").start()
    try:
        (arn,) = wait_for(lambda: connected_instances(old.client("ecs", region)))
    finally:
        agent.stop()
        old.stop()
    new = NozamaServer(["--data-dir", str(tmp_path / "new")], tmp_path / "new.log").start()
    log = tmp_path / "agent.log"
    agent = AgentProcess(new, region, f"{region}a", tmp_path / "agent")
    agent.args[agent.args.index("warning")] = "info"
    agent.process = subprocess.Popen(agent.args, cwd=ROOT, stdout=open(log, "wb"),
                                     stderr=subprocess.STDOUT)
    try:
        (new_arn,) = wait_for(lambda: connected_instances(new.client("ecs", region)),
                              timeout=30)
        assert new_arn != arn
        assert f"the control plane does not know container instance {arn}" in log.read_text()
        assert "unreachable" not in log.read_text()
    finally:
        agent.stop()
        new.stop()


@pytest.fixture
def pool_server(tmp_path):
    own = NozamaServer(store_args("sqlite", tmp_path), tmp_path / "server.log").start()
    processes = []
    yield own, processes
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)
    own.stop()


def test_load_balancers_take_the_addresses_of_the_data_plane_s_pool(pool_server, tmp_path):
    own, processes = pool_server
    elb = own.client("elbv2")
    # Made before the data plane runs: a loopback address, moved into the pool later.
    early = elb.create_load_balancer(Name="early", Subnets=subnets_of(elb))["LoadBalancers"][0]
    # 127.0.0.0/8 is all this host's: a pool of two addresses, somewhere in it.
    pool = f"127.{random.randrange(80, 250)}.{random.randrange(256)}.0/30"
    processes.append(start_dataplane(own, tmp_path / "lb.log", "--address-pool", pool))
    prefix = pool.rsplit(".", 1)[0]
    moved = wait_for(lambda: (a := resolve(early["DNSName"])) and a.startswith(prefix) and a)
    late = elb.create_load_balancer(Name="late", Subnets=subnets_of(elb))["LoadBalancers"][0]
    late_address = wait_for(lambda: resolve(late["DNSName"]))
    assert late_address in {f"{prefix}.1", f"{prefix}.2"} - {moved}
    # Both listen on port 80, each on its own address of the pool.
    for balancer in (early, late):
        elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP",
                            Port=80, DefaultActions=[{"Type": "fixed-response",
                                                      "FixedResponseConfig": {
                                                          "StatusCode": "200",
                                                          "MessageBody": balancer[
                                                              "LoadBalancerName"]}}])
    for address, name in ((moved, "early"), (late_address, "late")):
        assert wait_for(lambda: _answer(address) == name)
    # The pool is taken: a clear error, and nothing is created.
    with pytest.raises(elb.exceptions.InvalidSubnetException) as error:
        elb.create_load_balancer(Name="third", Subnets=subnets_of(elb))
    assert f"address pool {pool} (2 addresses) is taken" in str(error.value)
    assert sorted(b["LoadBalancerName"] for b in elb.describe_load_balancers()[
        "LoadBalancers"]) == ["early", "late"]
    elb.delete_load_balancer(LoadBalancerArn=late["LoadBalancerArn"])
    third = elb.create_load_balancer(Name="third", Subnets=subnets_of(elb))["LoadBalancers"][0]
    assert wait_for(lambda: resolve(third["DNSName"])).startswith(prefix)


def _answer(address: str) -> str | None:
    try:
        connection = http.client.HTTPConnection(address, 80, timeout=2)
        connection.request("GET", "/")
        return connection.getresponse().read().decode()
    except OSError:
        return None


def test_a_pool_this_host_does_not_own_is_refused(pool_server, tmp_path):
    own, processes = pool_server
    for pool, message in (("198.18.250.0/30", "198.18.250.0 is not an address of this host"),
                          ("10.0.0.1/24", "is not an IPv4 network"),
                          ("nonsense", "is not an IPv4 network")):
        process = start_dataplane(own, tmp_path / "lb.log", "--address-pool", pool)
        assert process.wait(timeout=30) == 2
        assert message in (tmp_path / "lb.log").read_text()
