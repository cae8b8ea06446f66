"""The test hosts of tests/support/netns.py: who reaches whom, faults, and cleanup.

A tiny HTTP server answers on a host's address, and a probe run inside another host's
namespace says whether it got the answer. Probes wait one second at most: a host cut
off never answers (its packets are dropped), so "unreachable" is a timeout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.netns import Network, our_namespaces, processes_in
from support.waiting import wait_for

PORT = 8080
# Prints, one line each, the body of GET http://ADDRESS/ for each ADDRESS (host:port) in
# its arguments, or "unreachable": all at once, so a check costs one timeout at most.
PROBE = """
import socket, sys, threading
answers = {}
def get(address):
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            response = b""
            while chunk := sock.recv(4096):
                response += chunk
        answers[address] = response.split(b"\\r\\n\\r\\n", 1)[1].decode()
    except OSError:
        answers[address] = "unreachable"
threads = [threading.Thread(target=get, args=(address,)) for address in sys.argv[1:]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("\\n".join(answers[address] for address in sys.argv[1:]))
"""
# Answers every GET with its argument.
SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[3].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""


def answers(network: Network, probes: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """{source host: [address, or address:port]} -> {source: {address: answer}}, with
    every source's probe running at the same time."""
    def target(address):
        return address if ":" in address else f"{address}:{PORT}"

    started = {source: subprocess.Popen(
        ["ip", "netns", "exec", network.hosts[source].namespace, sys.executable, "-S", "-c",
         PROBE, *map(target, addresses)], stdout=subprocess.PIPE, text=True)
        for source, addresses in probes.items()}
    return {source: dict(zip(probes[source], process.communicate(timeout=10)[0].split("\n")))
            for source, process in started.items()}


def get(network: Network, source: str, address: str) -> str:
    return answers(network, {source: [address]})[source][address]


def serve(network: Network, tmp_path, *names: str, pool: dict[str, str] | None = None
          ) -> list[subprocess.Popen]:
    """Servers on hosts' own addresses (answering their host's name), and on lb at pool
    addresses ({address:port: answer}), all started at once; ready when this returns."""
    servers = {f"{network.hosts[host].address}:{PORT}": (host, host) for host in names}
    servers.update({address: ("lb", answer) for address, answer in (pool or {}).items()})
    processes = [network.spawn(host, [sys.executable, "-S", "-c", SERVER,
                                      *address.split(":"), answer],
                               tmp_path / f"{host}-{address}.log")
                 for address, (host, answer) in servers.items()]
    wanted = {host: {} for host, _ in servers.values()}
    for address, (host, answer) in servers.items():
        wanted[host][address] = answer
    wait_for(lambda: answers(network, wanted) == wanted, timeout=10)
    return processes


def test_hosts_reach_each_other_by_address(hosts, tmp_path):
    serve(hosts, tmp_path, "a1")
    a1 = hosts.hosts["a1"].address
    assert answers(hosts, {"client": [a1], "c2": [a1]}) == {"client": {a1: "a1"},
                                                            "c2": {a1: "a1"}}


def test_nothing_is_added_to_the_machines_own_namespace():
    def root_view():
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        addresses = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
        # Docker's own veths come and go with the containers of tests running meanwhile.
        names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
        return {name for name in names if not name.startswith("veth")}, \
            "198.18." in addresses or "198.19." in addresses

    before = root_view()
    with Network():
        assert root_view() == before
    assert before[1] is False


def test_a_zone_outage_cuts_that_zone_only(hosts, tmp_path):
    serve(hosts, tmp_path, "a1", "b1")
    a1, b1 = hosts.hosts["a1"].address, hosts.hosts["b1"].address

    hosts.zone_down("b")
    assert answers(hosts, {"control": [a1, b1], "client": [a1, b1], "b1": [a1], "b2": [b1]}) \
        == {"control": {a1: "a1", b1: "unreachable"}, "client": {a1: "a1", b1: "unreachable"},
            "b1": {a1: "unreachable"}, "b2": {b1: "unreachable"}}   # every link of b is down

    hosts.zone_up("b")
    wait_for(lambda: answers(hosts, {"control": [b1], "client": [b1], "b2": [b1]})
             == {"control": {b1: "b1"}, "client": {b1: "b1"}, "b2": {b1: "b1"}}, timeout=10)


def test_a_host_outage_cuts_that_host_only(hosts, tmp_path):
    serve(hosts, tmp_path, "c1", "c2")
    c1, c2 = hosts.hosts["c1"].address, hosts.hosts["c2"].address
    hosts.host_down("c1")
    assert answers(hosts, {"client": [c1, c2]}) == {"client": {c1: "unreachable", c2: "c2"}}
    hosts.host_up("c1")
    wait_for(lambda: get(hosts, "client", c1) == "c1", timeout=10)


def test_a_partition_cuts_one_pair_only(hosts, tmp_path):
    serve(hosts, tmp_path, "a1", "control", "lb")
    a1, control, lb = (hosts.hosts[name].address for name in ("a1", "control", "lb"))

    hosts.partition("a1", "control")
    assert answers(hosts, {"control": [a1, lb], "a1": [control, lb], "client": [a1, control]}) \
        == {"control": {a1: "unreachable", lb: "lb"}, "a1": {control: "unreachable", lb: "lb"},
            "client": {a1: "a1", control: "control"}}

    hosts.heal("a1", "control")
    wait_for(lambda: answers(hosts, {"control": [a1], "a1": [control]})
             == {"control": {a1: "a1"}, "a1": {control: "control"}}, timeout=10)


def test_the_pool_is_the_lb_hosts_own(hosts, tmp_path):
    """Any pool address binds on lb without being added (two load balancers on one
    port), and every host reaches it; a partition from lb cuts the pool too."""
    first, second = "198.18.64.7:80", "198.18.64.8:80"
    serve(hosts, tmp_path, pool={first: "first", second: "second"})
    assert answers(hosts, {"client": [first, second], "a1": [first]}) \
        == {"client": {first: "first", second: "second"}, "a1": {first: "first"}}

    hosts.partition("client", "lb")
    assert answers(hosts, {"client": [first], "a1": [first]}) \
        == {"client": {first: "unreachable"}, "a1": {first: "first"}}


def test_two_networks_do_not_meet(tmp_path):
    with Network() as one, Network() as two:
        for network, name in ((one, "one"), (two, "two")):
            (tmp_path / name).mkdir()
            serve(network, tmp_path / name, pool={"198.18.64.1:80": name})
        # The same address in each: each client reaches its own network's server.
        assert get(one, "client", "198.18.64.1:80") == "one"
        assert get(two, "client", "198.18.64.1:80") == "two"


def test_spawn_runs_the_program_itself(hosts, tmp_path):
    process = hosts.spawn("b2", ["sleep", "30"], tmp_path / "sleep.log")
    # `ip netns exec` enters the namespace, then execs: the pid becomes sleep's own.
    wait_for(lambda: _program(process.pid) == b"sleep")
    assert process.pid in processes_in([hosts.hosts["b2"].namespace])
    process.kill()
    assert process.wait(timeout=5) == -9
    assert process.pid not in processes_in(hosts.namespaces())


def test_closing_kills_every_process_and_removes_the_namespaces(tmp_path):
    # A daemon that leaves its session, as HAProxy does, then prints its pid.
    daemonize = ("import os, time\n"
                 "if os.fork() == 0:\n"
                 "    os.setsid()\n"
                 "    if os.fork() == 0:\n"
                 "        print(os.getpid(), flush=True); time.sleep(60)\n")
    log = tmp_path / "daemon.log"
    with pytest.raises(RuntimeError, match="the test failed"):
        with Network() as network:
            spawned = network.spawn("lb", [sys.executable, "-c", daemonize], log)
            namespaces = network.namespaces()
            daemon = int(wait_for(lambda: log.read_text().strip()))
            raise RuntimeError("the test failed")
    assert not any(name in our_namespaces() for name in namespaces)
    assert spawned.poll() is not None
    assert wait_for(lambda: not _alive(daemon), timeout=2)


def test_leftovers_of_a_killed_run_are_swept(tmp_path):
    """A test process killed with -9 never cleans up: the next Network sweeps its hosts
    and the processes left in them."""
    crash = ("import os, sys\n"
             "from support.netns import Network\n"
             "network = Network().create()\n"
             "left = network.spawn('a1', ['sleep', '60'], sys.argv[1])\n"
             "while open(f'/proc/{left.pid}/cmdline').read() != 'sleep\\x0060\\x00':\n"
             "    pass\n"
             "print(network.prefix, left.pid, flush=True)\n"
             "os.kill(os.getpid(), 9)\n")
    killed = subprocess.run([sys.executable, "-c", crash, tmp_path / "left.log"],
                            capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    prefix, left = killed.stdout.split()
    assert killed.returncode == -9 and _alive(int(left))
    assert any(name.startswith(f"{prefix}-") for name in our_namespaces())

    with Network():   # another pytest-xdist worker's may sweep it first: either will do
        pass
    assert not any(name.startswith(f"{prefix}-") for name in our_namespaces())
    assert wait_for(lambda: not _alive(int(left)), timeout=2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _program(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().split(b"\0")[0]


def test_a_client_resolves_a_load_balancer_by_name_from_the_lb_host(hosts, tmp_path):
    """nozama/lb/dns.py on the lb host answers the client host with a pool address,
    where the load balancer (here, a stand-in server) answers."""
    name = "web-1234567890.us-west-2.elb.localhost"
    responder = ("import asyncio, sys\n"
                 "from nozama.lb.dns import DnsResponder\n"
                 "async def main():\n"
                 "    dns = DnsResponder()\n"
                 "    dns.update({sys.argv[1]: '198.18.64.5'})\n"
                 "    await dns.start(sys.argv[2], 53)\n"
                 "    await asyncio.Event().wait()\n"
                 "asyncio.run(main())\n")
    resolve = ("import sys\n"
               "from dnslib import DNSRecord\n"
               "try:\n"
               "    reply = DNSRecord.question(sys.argv[1]).send(sys.argv[2], 53, timeout=1)\n"
               "    print(DNSRecord.parse(reply).a.rdata)\n"
               "except OSError as error:\n"
               "    print('no answer:', error)\n")
    lb = hosts.hosts["lb"].address
    hosts.spawn("lb", [sys.executable, "-c", responder, name, lb], tmp_path / "dns.log",
                cwd=Path(__file__).parent.parent.parent)
    serve(hosts, tmp_path, pool={"198.18.64.5:80": "web"})

    def resolved() -> str:
        return hosts.run("client", [sys.executable, "-c", resolve, name, lb]).stdout.strip()

    wait_for(lambda: resolved() == "198.18.64.5", timeout=10)
    assert get(hosts, "client", "198.18.64.5:80") == "web"
