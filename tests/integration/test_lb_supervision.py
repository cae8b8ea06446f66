"""`nozama lb` supervises an HAProxy that outlives it: HAProxy killed is back within a
second with the health it had; the controller killed leaves the traffic flowing, and the
next one adopts the running HAProxy instead of starting a second; SIGTERM stops both."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from nozama.lb.haproxy_config import socket_dir

from support.servers import NozamaServer, haproxy_dir, start_dataplane, store_args
from support.traffic import PORT, Load, get, load_balancer, wait_serving
from support.waiting import wait_for

from integration.test_lb_dataplane import Backend, healthy, target_group


def masters(run_dir: Path) -> list[int]:
    """The HAProxy masters running on this directory's configuration."""
    config = str(run_dir / "haproxy.cfg").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if command and b"haproxy" in command[0] and config in command and \
                not _is_haproxy(parent, config):
            found.append(int(entry.name))
    return found


def _is_haproxy(pid: int, config: bytes) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(command) and b"haproxy" in command[0] and config in command


@pytest.fixture
def setup(tmp_path):
    own = NozamaServer(store_args("sqlite", tmp_path), tmp_path / "server.log").start()
    processes = []

    def start_lb():
        processes.append(start_dataplane(own, tmp_path / "lb.log"))
        return processes[-1]
    backend = Backend("web")
    yield own, start_lb, backend, tmp_path
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)
    backend.close()
    own.stop()


def serving(setup) -> tuple:
    own, start_lb, backend, tmp_path = setup
    lb = start_lb()
    elb = own.client("elbv2")
    tg = target_group(elb, "web", backend)
    lb_arn, address = load_balancer(elb, "supervised")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    healthy(elb, tg)
    wait_serving(address)
    return lb, elb, tg, address, haproxy_dir(tmp_path / "lb.log", own)


def test_haproxy_killed_is_back_within_a_second_without_a_health_flap(setup):
    lb, elb, tg, address, run_dir = serving(setup)
    [master] = masters(run_dir)

    def answers() -> bool:
        try:
            return get(address)[0] == 200
        except OSError:
            return False
    states = set()
    with Load(address, clients=2) as load:   # under load
        time.sleep(0.5)
        os.kill(master, signal.SIGKILL)
        killed = time.monotonic()
        # Back: a new HAProxy serves (the killed one's worker may answer for a moment).
        while not (masters(run_dir) not in ([], [master]) and answers()):
            states.add(elb.describe_target_health(TargetGroupArn=tg)[
                "TargetHealthDescriptions"][0]["TargetHealth"]["State"])
            assert time.monotonic() - killed < 5, "HAProxy is not back"
        back = time.monotonic() - killed
        time.sleep(0.5)
    assert back < 1.5, back   # restarted within 1 s; the rest is this loop's own pace
    # Back with the health the controller knew: every target ready at once, no flap.
    assert states <= {"healthy"}
    # (A connection a client began just before this loop saw HAProxy back may still be
    # refused: its failure is recorded a few milliseconds after.)
    late = [round(at - killed, 3) for at in load.failed_at if at > killed + back + 0.05]
    assert load.failed_at and not late, (back, late, load.failures[-3:])
    assert len(masters(run_dir)) == 1 and masters(run_dir) != [master]


def test_the_controller_killed_leaves_traffic_flowing_and_the_next_adopts_haproxy(setup):
    own, start_lb, _, _ = setup
    lb, elb, tg, address, run_dir = serving(setup)
    [master] = masters(run_dir)
    with Load(address, clients=4) as load:
        time.sleep(0.5)
        lb.kill()
        lb.wait()
        time.sleep(1.5)            # nobody drives HAProxy: it serves on
        start_lb()
        time.sleep(2)
    assert load.failures == [] and load.total > 100
    assert masters(run_dir) == [master]   # adopted, not a second one
    # The adopting controller drives it: a new rule reaches the traffic.
    listener = elb.describe_listeners(LoadBalancerArn=elb.describe_load_balancers(
        Names=["supervised"])["LoadBalancers"][0]["LoadBalancerArn"])["Listeners"][0]
    elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/teapot"]}], Actions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418"}}])
    wait_for(lambda: get(address, "/teapot")[0] == 418)
    assert masters(run_dir) == [master]


def test_sigterm_stops_haproxy_gracefully(setup):
    lb, elb, tg, address, run_dir = serving(setup)
    assert len(masters(run_dir)) == 1
    lb.terminate()
    assert lb.wait(timeout=15) == 0
    assert masters(run_dir) == []
    with pytest.raises(OSError):
        socket.create_connection((address, PORT), timeout=1).close()


def reloads(run_dir: Path) -> int:
    """How many times the HAProxy master has reloaded (its master CLI's count)."""
    with socket.socket(socket.AF_UNIX) as master:
        master.connect(f"{socket_dir(run_dir)}/master.sock")
        master.sendall(b"show proc\n")
        master.shutdown(socket.SHUT_WR)
        text = b""
        while chunk := master.recv(65536):
            text += chunk
    line = next(line for line in text.decode().splitlines() if " master " in f" {line} ")
    return int(line.split()[2])


def test_refused_requests_change_nothing_and_leave_haproxy_untouched(setup):
    own = setup[0]
    lb, elb, tg, address, run_dir = serving(setup)
    acm = own.client("acm")
    listener = elb.describe_listeners(LoadBalancerArn=elb.describe_load_balancers(
        Names=["supervised"])["LoadBalancers"][0]["LoadBalancerArn"])["Listeners"][0]
    elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/one"]}], Actions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    time.sleep(1)   # the creations' own reloads are done
    before = reloads(run_dir), (run_dir / "haproxy.cfg").read_bytes()
    from support import certificates
    expired = certificates.expired(["old.example"])
    good, other = certificates.certificate(["a.example"]), certificates.certificate(["b"])
    refused = [
        lambda: elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
            {"Field": "path-patern", "Values": ["/x"]}], Actions=[
            {"Type": "forward", "TargetGroupArn": tg}]),
        lambda: elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
            {"Field": "path-pattern", "Values": ["/x"]}], Actions=[
            {"Type": "forward", "TargetGroupArn": tg}]),
        lambda: elb.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[
            {"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": tg, "Weight": 1000}]}}]),
        lambda: elb.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Path": "/a\nb", "StatusCode": "HTTP_301"}}]),
        lambda: acm.import_certificate(Certificate=expired.certificate,
                                       PrivateKey=expired.private_key),
        lambda: acm.import_certificate(Certificate=good.certificate,
                                       PrivateKey=other.private_key),
        lambda: acm.import_certificate(Certificate=b"not a certificate",
                                       PrivateKey=good.private_key),
        lambda: elb.modify_listener(ListenerArn=listener["ListenerArn"], Protocol="HTTPS",
                                    SslPolicy="ELBSecurityPolicy-Nonexistent",
                                    Certificates=[{"CertificateArn": "arn:aws:acm:us-east-1:"
                                                   "000000000000:certificate/nope"}]),
    ]
    for request in refused:
        with pytest.raises(Exception) as error:   # botocore's ClientError, of two services
            request()
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)
    time.sleep(1)   # what would have followed a change
    assert (reloads(run_dir), (run_dir / "haproxy.cfg").read_bytes()) == before
    assert acm.list_certificates()["CertificateSummaryList"] == []
    assert get(address)[0] == 200
