"""The load balancer's data plane (`nozama lb`) carrying real traffic on real sockets:
rules, weights, local responses, health checks, draining and per-request errors."""

from __future__ import annotations

import base64
import collections
import hashlib
import http.client
import http.server
import socket
import threading
import time

import pytest
import requests

from support.servers import NozamaServer, start_dataplane, store_args
from support.networks import subnets_of, vpc_of
from support.traffic import PORT, Load, resolve, get, load_balancer, wait_serving
from support.waiting import wait_for


class Backend:
    """A target: an HTTP server on an ephemeral port that says who it is."""

    def __init__(self, name: str):
        self.name = name
        self.healthy = True
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # head and body go out as two writes

            def do_GET(self):
                if self.path == "/health":
                    return self._reply(200 if backend.healthy else 500, b"ok")
                if self.path.startswith("/slow"):
                    time.sleep(float(self.path.rsplit("/", 1)[1]))
                if self.path == "/stream":
                    # A chunked body, sent in pieces.
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in (b"one,", b"two,", b"three"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                        time.sleep(0.05)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if self.path == "/until-close":
                    # No length, no chunks: the body ends when the connection closes.
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"all of it")
                    self.close_connection = True
                    return
                if self.path == "/login":
                    body = f"{backend.name} welcome".encode()
                    self.send_response(200)
                    self.send_header("Set-Cookie", f"session={backend.name}; Path=/")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path == "/reset":
                    # No response: the server closes the connection, with a reset.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    return
                headers = "|".join(f"{k}={self.headers.get(k)}" for k in (
                    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port"))
                self._reply(200, f"{backend.name} {self.path} {headers} "
                                 f"{self.headers.get('X-Amzn-Trace-Id', '')}".encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._reply(200, f"{backend.name} got {len(body)}".encode())

            def _reply(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except ConnectionResetError:  # the load balancer closed a kept-alive connection
                    self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends():
    made = []

    def make(name: str) -> Backend:
        made.append(Backend(name))
        return made[-1]
    yield make
    for backend in made:
        backend.close()


def target_group(elb, name: str, backend: Backend, **extra) -> str:
    arn = elb.create_target_group(
        Name=name, Protocol="HTTP", Port=backend.port, VpcId=vpc_of(elb), TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2, **extra)["TargetGroups"][0][
        "TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1"}])
    return arn


def spread_settles(sample, expected: set) -> None:
    """`sample()` (the backends a burst of requests reached) comes to `expected` once the
    data plane has put every healthy target in service, under load a moment after the
    API says they are healthy, and then stays there."""
    wait_for(lambda: sample() == expected, timeout=20)
    assert sample() == expected


def healthy(elb, *arns: str) -> None:
    def check():
        states = [d["TargetHealth"]["State"] for arn in arns for d in
                  elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]]
        return states and all(s == "healthy" for s in states)
    wait_for(check, timeout=30)


def test_rules_weights_and_local_responses(server, elb, backends):
    blue, green = backends("blue"), backends("green")
    blue_tg, green_tg = target_group(elb, "blue", blue), target_group(elb, "green", green)
    lb_arn, address = load_balancer(elb, "routes")
    listener = elb.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT, DefaultActions=[
            {"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": blue_tg, "Weight": 90},
                {"TargetGroupArn": green_tg, "Weight": 10}]}}])["Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/green/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": green_tg}])
    elb.create_rule(ListenerArn=listener, Priority=2, Conditions=[
        {"Field": "path-pattern", "Values": ["/teapot"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "418", "ContentType": "text/plain", "MessageBody": "short and stout"}}])
    elb.create_rule(ListenerArn=listener, Priority=3, Conditions=[
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Old",
                                                      "Values": ["yes"]}}],
        Actions=[{"Type": "redirect", "RedirectConfig": {
            "Path": "/new/#{path}", "StatusCode": "HTTP_301"}}])
    healthy(elb, blue_tg, green_tg)
    wait_serving(address)

    status, _, body = get(address, "/green/x?y=1")
    assert status == 200 and body.startswith(b"green /green/x?y=1 ")
    assert b"X-Forwarded-For=127.0.0.1|X-Forwarded-Proto=http|X-Forwarded-Port=8080" in body
    assert b"Root=1-" in body
    assert get(address, "/teapot")[::2] == (418, b"short and stout")
    status, headers, _ = get(address, "/page", headers={"X-Old": "yes"})
    assert status == 301 and headers["location"] == f"http://{address}:{PORT}/new/page"
    assert get(address, "/stream")[::2] == (200, b"one,two,three")
    assert get(address, "/until-close")[::2] == (200, b"all of it")
    status, _, body = get(address, "/upload", "POST", b"x" * 300_000)
    assert status == 200 and body.split(b" ", 1)[1] == b"got 300000"

    # Weighted forwarding: exactly 90/10 over whole rounds.
    split = collections.Counter(get(address)[2].split()[0] for _ in range(200))
    assert split == {b"blue": 180, b"green": 20}
    # A change of weights reaches new requests.
    elb.modify_listener(ListenerArn=listener, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": green_tg}])
    wait_for(lambda: all(get(address)[2].startswith(b"green") for _ in range(5)))

    # A deleted listener stops serving: new connections are refused, and a kept-alive
    # one gets at most the answer to a request already on its way (with Connection:
    # close, from the workers of the configuration before), then closes.
    kept = http.client.HTTPConnection(address, PORT, timeout=5)
    kept.request("GET", "/")
    assert kept.getresponse().read().startswith(b"green")
    elb.delete_listener(ListenerArn=listener)

    def refused() -> bool:
        try:
            socket.create_connection((address, PORT), timeout=1).close()
            return False
        except OSError:
            return True
    wait_for(refused)
    try:
        kept.request("GET", "/")
        last = kept.getresponse()
        last.read()
        assert last.getheader("connection") == "close"
    except (OSError, http.client.HTTPException):
        pass
    with pytest.raises((OSError, http.client.HTTPException)):
        kept.request("GET", "/")
        kept.getresponse().read()
    kept.close()


def test_each_failure_is_the_request_s_own(server, elb, backends):
    good = backends("good")
    tg = target_group(elb, "good", good)
    empty = elb.create_target_group(Name="empty", Protocol="HTTP", Port=1, VpcId=vpc_of(elb),
                                    TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    lb_arn, address = load_balancer(elb, "errors")
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb_arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "1"}])
    listener = elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])[
        "Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/empty"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": empty}])
    healthy(elb, tg)
    wait_serving(address)

    assert get(address, "/empty")[0] == 503           # no healthy target in the group
    assert get(address, "/reset")[0] == 502           # the target resets the connection
    assert get(address, "/slow/3")[0] == 504          # silent past the 1 s idle timeout
    with socket.create_connection((address, PORT), timeout=5) as raw:
        raw.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    # ... and none of it touched anyone else.
    assert get(address, "/fine")[0] == 200


def test_unhealthy_targets_lose_traffic_and_deregistered_ones_drain(server, elb, backends):
    one, two = backends("one"), backends("two")
    tg = target_group(elb, "pair", one)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": two.port}])
    lb_arn, address = load_balancer(elb, "health")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    healthy(elb, tg)
    wait_serving(address)
    spread_settles(lambda: {get(address)[2].split()[0] for _ in range(10)}, {b"one", b"two"})

    two.healthy = False

    def health_of(port):
        return next(d["TargetHealth"] for d in elb.describe_target_health(
            TargetGroupArn=tg)["TargetHealthDescriptions"] if d["Target"]["Port"] == port)
    wait_for(lambda: health_of(two.port)["State"] == "unhealthy", timeout=30)
    assert health_of(two.port) == {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                                   "Description": "Health checks failed with these codes: "
                                                  "[500]"}
    assert {get(address)[2].split()[0] for _ in range(10)} == {b"one"}

    # Deregistering `one` while a request is in flight: the request completes, new
    # requests find no healthy target, and `one` leaves once its request is done.
    slow = {}
    request = threading.Thread(target=lambda: slow.setdefault("r", get(address, "/slow/2")))
    request.start()
    time.sleep(0.5)
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": one.port}])
    wait_for(lambda: get(address)[0] == 503)
    request.join()
    assert slow["r"][0] == 200 and slow["r"][2].startswith(b"one /slow/2")
    wait_for(lambda: [d["Target"]["Port"] for d in elb.describe_target_health(
        TargetGroupArn=tg)["TargetHealthDescriptions"]] == [two.port])


@pytest.mark.alone  # asserts a request rate: runs after the parallel tests, by itself
def test_traffic_moves_without_a_single_failed_request(elb, backends):
    blue, green, spare = backends("blue"), backends("green"), backends("spare")
    blue_tg, green_tg = target_group(elb, "blue", blue), target_group(elb, "green", green)
    # green also has a second target, to deregister under load.
    elb.register_targets(TargetGroupArn=green_tg, Targets=[{"Id": "127.0.0.1",
                                                            "Port": spare.port}])
    elb.modify_target_group_attributes(TargetGroupArn=green_tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb_arn, address = load_balancer(elb, "smooth")
    listener = elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": blue_tg}])[
        "Listeners"][0]["ListenerArn"]
    # A rule puts green in use, so that its targets are checked (and healthy) before the swap.
    elb.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/green"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": green_tg}])
    healthy(elb, blue_tg, green_tg)
    wait_serving(address)

    def weights(blue_weight: int) -> list[dict]:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": blue_tg, "Weight": blue_weight},
            {"TargetGroupArn": green_tg, "Weight": 100 - blue_weight}]}}]

    with Load(address) as load:
        time.sleep(1)
        # A blue/green swap of the listener, and back.
        elb.modify_listener(ListenerArn=listener, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": green_tg}])
        time.sleep(1)
        elb.modify_listener(ListenerArn=listener, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": blue_tg}])
        time.sleep(0.5)
        # Shift the weight from blue to green in 10-point steps.
        for green_weight in range(0, 101, 10):
            elb.modify_listener(ListenerArn=listener, DefaultActions=weights(100 - green_weight))
            time.sleep(0.3)
        # Deregister one of green's targets: it drains, the other takes the traffic.
        elb.deregister_targets(TargetGroupArn=green_tg, Targets=[{"Id": "127.0.0.1",
                                                                  "Port": spare.port}])
        time.sleep(1.5)
    assert load.failures == []
    assert load.total / load.seconds >= 500, load.total / load.seconds
    served = {backend for status, backend in load.results}
    assert served == {b"blue", b"green", b"spare"}
    # After the shift and the deregistration, only green's remaining target serves.
    assert {get(address)[2].split()[0] for _ in range(10)} == {b"green"}


@pytest.mark.store_matrix  # the heartbeat's writes and the server's watch on both stores
def test_a_load_balancer_is_provisioning_until_a_data_plane_serves_it(backend, tmp_path):
    """`nozama server` alone: the load balancer says nobody serves it and the server's log
    warns; once `nozama lb` runs, it is active (boto3's waiter sees it) and answers."""
    own = NozamaServer(store_args(backend, tmp_path), tmp_path / "server.log").start()
    lb_process = None
    try:
        elb = own.client("elbv2")
        created = elb.create_load_balancer(Name="unserved", Subnets=subnets_of(elb))[
            "LoadBalancers"][0]
        assert created["State"]["Code"] == "provisioning"
        assert "nozama lb" in created["State"]["Reason"]

        def state():
            return elb.describe_load_balancers(Names=["unserved"])["LoadBalancers"][0][
                "State"]
        wait_for(lambda: "no load balancer data plane has served them" in
                 own.log_path.read_text(), timeout=30)
        assert state()["Code"] == "provisioning"
        assert "WARNING" in own.log_path.read_text()
        lb_process = start_dataplane(own, tmp_path / "lb.log")
        elb.get_waiter("load_balancer_available").wait(
            Names=["unserved"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        assert state() == {"Code": "active"}
        elb.create_listener(LoadBalancerArn=created["LoadBalancerArn"], Protocol="HTTP",
                            Port=PORT, DefaultActions=[{"Type": "fixed-response",
                                                        "FixedResponseConfig": {
                                                            "StatusCode": "200"}}])
        address = wait_for(lambda: resolve(created["DNSName"]))

        def answers() -> bool:
            try:
                return get(address)[0] == 200
            except OSError:  # its listener is not bound yet
                return False
        wait_for(answers)
        assert state() == {"Code": "active"}
        wait_for(lambda: "serves the load balancers again" in own.log_path.read_text(),
                 timeout=30)
        # Its data plane stops: nobody serves it any more, and it says so again.
        lb_process.terminate()
        assert lb_process.wait(timeout=15) == 0
        wait_for(lambda: state()["Code"] == "provisioning", timeout=30)
    finally:
        if lb_process is not None and lb_process.poll() is None:
            lb_process.terminate()
            lb_process.wait(timeout=15)
        own.stop()


def test_a_listener_whose_port_is_taken_impairs_only_its_load_balancer(elb):
    lb_arn, address = load_balancer(elb, "impaired")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
    squatter = socket.create_server((address, PORT + 1))   # another program holds the port
    try:
        elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT + 1,
                            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                                "StatusCode": "204"}}])

        def state():
            return elb.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"][0][
                "State"]
        wait_for(lambda: state()["Code"] == "active_impaired", timeout=30)
        assert f"port {PORT + 1}" in state()["Reason"]
        assert get(address)[0] == 200   # its other listener serves on
    finally:
        squatter.close()
    wait_for(lambda: state() == {"Code": "active"}, timeout=30)
    connection = http.client.HTTPConnection(address, PORT + 1, timeout=5)
    connection.request("GET", "/")
    assert connection.getresponse().status == 204
    connection.close()


def test_a_restarted_data_plane_routes_at_once(backend, tmp_path, backends):
    """Kill -9 the data plane: the next one serves from the health already observed."""
    own = NozamaServer(store_args(backend, tmp_path), tmp_path / "server.log").start()

    def start_lb():
        return start_dataplane(own, tmp_path / "lb.log")
    lb_process = start_lb()
    try:
        elb = own.client("elbv2")
        tg = target_group(elb, "only", backends("only"))
        lb_arn, address = load_balancer(elb, "restart")
        elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        healthy(elb, tg)
        wait_serving(address)
        lb_process.kill()
        lb_process.wait()
        lb_process = start_lb()

        def listening():
            try:
                socket.create_connection((address, PORT), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening)
        assert [get(address)[0] for _ in range(5)] == [200] * 5
    finally:
        lb_process.terminate()
        lb_process.wait(timeout=15)
        own.stop()


@pytest.mark.alone  # asserts a request rate: runs after the parallel tests, by itself
def test_a_service_behind_the_load_balancer_deploys_without_a_failed_request(
        server, region, elb, agents):
    """Simulated tasks answer HTTP on their host ports: the service registers them, the
    load balancer checks and serves them, and a rolling deployment drains the old ones
    before stopping them."""
    ecs = server.client("ecs", region)
    agents(3)
    wait_for(lambda: len(ecs.list_container_instances(filter="agentConnected == true")[
        "containerInstanceArns"]) == 3 if ecs.list_clusters()["clusterArns"] else False)
    tg = elb.create_target_group(
        Name="web", Protocol="HTTP", Port=80, VpcId=vpc_of(elb), TargetType="instance",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
        UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "3"}])
    lb_arn, address = load_balancer(elb, "service")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    definition = ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 64,
        "portMappings": [{"containerPort": 80, "hostPort": 0}]}])["taskDefinition"][
        "taskDefinitionArn"]
    # (No Availability Zone rebalancing: the test counts the tasks a deployment leaves.)
    ecs.create_service(serviceName="web", taskDefinition=definition, desiredCount=2,
                       loadBalancers=[{"targetGroupArn": tg, "containerName": "app",
                                       "containerPort": 80}],
                       availabilityZoneRebalancing="DISABLED")

    def steady():
        s = ecs.describe_services(services=["web"])["services"][0]
        return (s["runningCount"] == 2 and len(s["deployments"]) == 1 and
                s["deployments"][0]["rolloutState"] == "COMPLETED" and s)
    wait_for(steady, timeout=60)
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert len(health) == 2 and all(d["TargetHealth"]["State"] == "healthy" for d in health)
    assert all(d["Target"]["Id"].startswith("i-") for d in health)
    first = {get(address)[2].split()[1] for _ in range(10)}
    assert len(first) == 2  # both tasks serve

    with Load(address, clients=4) as load:
        ecs.update_service(service="web", forceNewDeployment=True)
        time.sleep(1)
        wait_for(steady, timeout=90)
        time.sleep(0.5)
    assert load.failures == []
    assert load.total / load.seconds >= 500, load.total / load.seconds
    now = {get(address)[2].split()[1] for _ in range(10)}
    assert len(now) == 2 and not now & first  # new tasks serve, the old ones are gone
    events = [e["message"] for e in ecs.describe_services(services=["web"])["services"][0][
        "events"]]
    assert any("has begun draining connections on" in m for m in events)


def test_a_task_that_fails_its_target_health_checks_is_replaced(server, region, elb, agents):
    ecs = server.client("ecs", region)
    agents(1)
    wait_for(lambda: ecs.list_clusters()["clusterArns"] and ecs.list_container_instances(
        filter="agentConnected == true")["containerInstanceArns"])
    # The simulated container answers 200; this group only accepts 201.
    tg = elb.create_target_group(
        Name="picky", Protocol="HTTP", Port=80, VpcId=vpc_of(elb), TargetType="instance",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
        UnhealthyThresholdCount=2, Matcher={"HttpCode": "201"})["TargetGroups"][0][
        "TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    lb_arn, _ = load_balancer(elb, "picky")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    definition = ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": 64,
        "portMappings": [{"containerPort": 80}]}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(serviceName="web", taskDefinition=definition, desiredCount=1,
                       loadBalancers=[{"targetGroupArn": tg, "containerName": "app",
                                       "containerPort": 80}])

    def replaced():
        stopped = ecs.list_tasks(serviceName="web", desiredStatus="STOPPED")["taskArns"]
        return stopped and ecs.describe_tasks(tasks=stopped)["tasks"][0]
    task = wait_for(replaced, timeout=60)
    assert task["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
    events = [e["message"] for e in ecs.describe_services(services=["web"])["services"][0][
        "events"]]
    assert any(f"failed ELB health checks in (target-group {tg})" in m for m in events)
    # The deployment never completes: its task is never healthy.
    assert ecs.describe_services(services=["web"])["services"][0]["deployments"][0][
        "rolloutState"] == "IN_PROGRESS"


def test_sticky_sessions(elb, backends):
    blue, green, other = backends("blue"), backends("green"), backends("other")
    blue_tg, green_tg = target_group(elb, "blue", blue), target_group(elb, "green", green)
    # blue's own stickiness (lb_cookie), over two targets.
    elb.register_targets(TargetGroupArn=blue_tg, Targets=[{"Id": "127.0.0.1",
                                                           "Port": other.port}])
    elb.modify_target_group_attributes(TargetGroupArn=blue_tg, Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"},
        {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "120"}])
    lb_arn, address = load_balancer(elb, "sticky")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": blue_tg, "Weight": 50},
                             {"TargetGroupArn": green_tg, "Weight": 50}],
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300}}}])
    healthy(elb, blue_tg, green_tg)
    wait_serving(address)

    def backend_with(cookie: str | None) -> tuple[bytes, dict]:
        connection = http.client.HTTPConnection(address, PORT, timeout=10)
        connection.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read()
        cookies = {}
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookies[key] = rest.split(";", 1)[0]
                assert "Expires=" in value and "Path=/" in value
        connection.close()
        return body.split()[0], cookies

    # Without cookies the weights spread requests over every group and target.
    spread_settles(lambda: {backend_with(None)[0] for _ in range(12)},
                   {b"blue", b"green", b"other"})
    # With them, a client stays where it first landed.
    for _ in range(4):
        first, cookies = backend_with(None)
        assert "AWSALBTG" in cookies
        jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
        assert {backend_with(f"session=1; {jar}")[0] for _ in range(10)} == {first}
        if first != b"green":
            assert "AWSALB" in cookies  # blue's own stickiness picked the target


WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's


class EchoTunnelBackend:
    """A target that accepts upgrades (as a WebSocket server would) and then echoes
    bytes; plain requests (health checks) get 200."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            if b"upgrade: websocket" not in head.lower():
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                   b"Connection: close\r\n\r\nok")
                return
            key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest())
            connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                               b"\r\n\r\n")
            if rest:
                connection.sendall(rest)
            while chunk := connection.recv(4096):
                connection.sendall(chunk)

    def close(self):
        self.sock.close()


def test_websocket_upgrades_pass_through(elb):
    echo = EchoTunnelBackend()
    try:
        tg = target_group(elb, "ws", echo)  # its health checks are plain requests: 200
        lb_arn, address = load_balancer(elb, "ws")
        elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        healthy(elb, tg)
        wait_serving(address)
        with socket.create_connection((address, PORT), timeout=5) as raw:
            raw.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                        b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += raw.recv(4096)
            assert head.startswith(b"HTTP/1.1 101")
            assert b"upgrade: websocket" in head.lower()
            for message in (b"hello", b"\x81\x05world", b"x" * 100_000):
                raw.sendall(message)
                echoed = b""
                while len(echoed) < len(message):
                    echoed += raw.recv(65536)
                assert echoed == message
    finally:
        echo.close()


def test_application_cookie_stickiness(elb, backends):
    one, two = backends("one"), backends("two")
    tg = target_group(elb, "app-sticky", one)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": two.port}])
    with pytest.raises(elb.exceptions.ClientError) as refused:
        elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "stickiness.enabled", "Value": "true"},
            {"Key": "stickiness.type", "Value": "app_cookie"}])
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"},
        {"Key": "stickiness.type", "Value": "app_cookie"},
        {"Key": "stickiness.app_cookie.cookie_name", "Value": "session"}])
    lb_arn, address = load_balancer(elb, "appsticky")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    healthy(elb, tg)
    wait_serving(address)

    def request(path: str, cookie: str | None = None):
        connection = http.client.HTTPConnection(address, PORT, timeout=10)
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read()
        cookies = [v.split(";", 1)[0] for n, v in response.getheaders()
                   if n.lower() == "set-cookie"]
        connection.close()
        return body.split()[0], cookies

    # Until the application sets its cookie, nothing sticks.
    assert request("/")[1] == []
    spread_settles(lambda: {request("/")[0] for _ in range(6)}, {b"one", b"two"})
    who, cookies = request("/login")
    assert f"session={who.decode()}" in cookies
    sticky = [c for c in cookies if c.startswith("AWSALBAPP-0=")]
    assert len(sticky) == 1
    assert {request("/", f"session=x; {sticky[0]}")[0] for _ in range(8)} == {who}


def test_request_metrics_reach_cloudwatch_and_prometheus(server, region, elb, backends):
    web = backends("web")
    tg = target_group(elb, "metered", web)
    empty = elb.create_target_group(Name="metered-empty", Protocol="HTTP", Port=1,
                                    VpcId=vpc_of(elb), TargetType="ip")["TargetGroups"][0][
        "TargetGroupArn"]
    lb_arn, address = load_balancer(elb, "metered")
    listener = elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])[
        "Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/empty"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": empty}])
    healthy(elb, tg)
    wait_serving(address)
    started = time.time()
    for _ in range(40):
        assert get(address, "/hello")[0] == 200
    for _ in range(3):
        assert get(address, "/empty")[0] == 503

    cloudwatch = server.client("cloudwatch", region)
    lb_dim = {"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/")[1]}
    tg_dim = {"Name": "TargetGroup", "Value": tg.split(":")[-1]}

    def total(name: str, dims: list[dict], stat: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ApplicationELB", MetricName=name, Dimensions=dims,
            StartTime=started - 120, EndTime=time.time() + 60, Period=60,
            Statistics=[stat])["Datapoints"]
        return sum(p[stat] for p in points)

    # One request made before `started` (the wait above) may fall in the same minute.
    wait_for(lambda: total("HTTPCode_ELB_503_Count", [lb_dim]) == 3, timeout=30)
    assert 40 <= total("RequestCount", [lb_dim]) <= 45
    assert total("RequestCount", [lb_dim, tg_dim]) == total("RequestCount", [lb_dim])
    assert total("HTTPCode_Target_2XX_Count", [lb_dim, tg_dim]) == \
        total("RequestCount", [lb_dim, tg_dim])
    assert total("HealthyHostCount", [lb_dim, tg_dim], "Maximum") == 1
    times = cloudwatch.get_metric_statistics(
        Namespace="AWS/ApplicationELB", MetricName="TargetResponseTime",
        Dimensions=[lb_dim, tg_dim], StartTime=started - 120, EndTime=time.time() + 60,
        Period=60, ExtendedStatistics=["p50", "p99"])["Datapoints"]
    assert times and all(0 < p["ExtendedStatistics"]["p50"] <= p["ExtendedStatistics"]["p99"]
                         < 1 for p in times)
    names = {m["MetricName"] for m in cloudwatch.list_metrics(
        Namespace="AWS/ApplicationELB", Dimensions=[lb_dim])["Metrics"]}
    assert {"RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_ELB_5XX_Count",
            "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount",
            "ActiveConnectionCount"} <= names

    # The same, as Prometheus scrapes it.
    # Prometheus gives a key by HTTP Basic.
    text = requests.get(f"{server.endpoint}/metrics", auth=server.credentials, timeout=5).text
    labels = f'region="{region}",account="000000000000",load_balancer="{lb_dim["Value"]}"'
    count = total("RequestCount", [lb_dim])
    assert f"aws_application_elb_request_count_total{{{labels}}} {int(count)}\n" in text
    assert "# TYPE aws_application_elb_target_response_time summary" in text
    assert f'aws_application_elb_healthy_host_count{{{labels},target_group="' \
        f'{tg_dim["Value"]}"}} 1\n' in text
