"""Test hosts on one machine: one network namespace per host, all wired to one switch.

The tests of a cluster that spans hosts build the hosts here (issue 17): the control
plane and the load balancers' data plane, two agent hosts in each of three zones, and a
client. Each host is a network namespace with one interface, `eth0`, whose veth peer is
a port of a bridge that lives in a namespace of its own (the switch). Nothing is added
to the machine's own namespace, so its routing never sees the test addresses, and two
Networks (two tests, two pytest-xdist workers) are two separate switches: they reuse
the same addresses without meeting.

Addresses come from 198.18.0.0/15, set aside for benchmarking networks (RFC 2544); the
hosts have no default route, so nothing is sent anywhere else. The `lb` host owns the
load balancers' address pool as a local route ("AnyIP": HAProxy binds any address of
it without adding each one), and every other host routes the pool to it.

Faults: a zone outage takes its hosts' switch ports down (their links lose carrier); a
partition makes two hosts drop what comes from each other (a policy rule in each
namespace, so only iproute2 is needed), silently, as a lost link does.

Processes started with `spawn` run inside a host's namespace. When the Network closes
(the `hosts` fixture's teardown, a `with` block's end, or at exit as a last resort), every
process in its namespaces is killed, whichever session it made for itself (HAProxy
daemonizes), and the namespaces are deleted. Leftovers of a run that was killed before it
could clean up are swept when the next Network is created.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# The switch namespace is `<prefix>-sw`; host namespaces are `<prefix>-<host>`. The
# creator's pid in the prefix tells a live run's namespaces from a dead run's leftovers.
PREFIX_RE = re.compile(r"^nz-(\d+)-\d+$")
NETNS_DIR = Path("/run/netns")
SUBNET_BITS = 16
POOL = "198.18.64.0/24"
# Host name -> (address, zone). Zones are letters: an agent's zone is `<region><zone>`.
LAYOUT = {
    "control": ("198.18.0.1", None),
    "lb": ("198.18.0.2", None),
    "client": ("198.18.0.3", None),
    "a1": ("198.18.1.1", "a"), "a2": ("198.18.1.2", "a"),
    "b1": ("198.18.2.1", "b"), "b2": ("198.18.2.2", "b"),
    "c1": ("198.18.3.1", "c"), "c2": ("198.18.3.2", "c"),
}
# Partition rules sit before the local table, which moves from its usual 0 to make room.
PARTITION_PREF = 10
LOCAL_TABLE_PREF = 100
KILL_GRACE_SECONDS = 2.0

_sequence = itertools.count(1)
_open: dict[str, "Network"] = {}   # prefix -> Network, this process's live ones


class NetnsError(RuntimeError):
    """A namespace command failed: the message holds the command and what it printed."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    zone: str | None
    namespace: str
    owns: tuple[str, ...]   # what its peers reach on it: its address, and the pool for lb


class Network:
    """The test hosts: `with Network() as net: net.spawn("a1", [...], log)`.

    Its namespaces are `<prefix>-sw` and `<prefix>-<host>`; the default prefix,
    `nz-<pid>-<n>`, is the shape that sweep_leftovers recognizes."""

    def __init__(self, prefix: str | None = None):
        self.prefix = prefix or f"nz-{os.getpid()}-{next(_sequence)}"
        self.switch = f"{self.prefix}-sw"
        self.pool = POOL
        self.hosts = {name: _host(self.prefix, name, address, zone)
                      for name, (address, zone) in LAYOUT.items()}
        self._processes: list[subprocess.Popen] = []
        self._partitions: set[frozenset[str]] = set()
        self._created = False

    # --- life cycle -----------------------------------------------------------------

    def __enter__(self) -> "Network":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.close()

    def create(self) -> "Network":
        _check_tools()
        sweep_leftovers()
        _open[self.prefix] = self
        self._created = True
        try:
            _ip_batch([f"netns add {ns}" for ns in self.namespaces()])
            _ip_batch(self._switch_commands(), namespace=self.switch)
            _parallel([(["-n", host.namespace, "-batch", "-"], self._host_commands(host))
                       for host in self.hosts.values()])
            # Hosts are not routers; a host that forwarded would also answer a partitioned
            # peer with "unreachable" instead of dropping its packets silently.
            _parallel([(["netns", "exec", host.namespace, "sh", "-c",
                         "echo 0 > /proc/sys/net/ipv4/conf/all/forwarding"], None)
                       for host in self.hosts.values()])
        except BaseException:
            self.close()
            raise
        return self

    def namespaces(self) -> list[str]:
        return [self.switch, *(host.namespace for host in self.hosts.values())]

    def close(self) -> None:
        """Kill every process in the namespaces, then delete them. Safe to call twice."""
        if not self._created:
            return
        for process in self._processes:
            _kill_group(process, signal.SIGTERM)
        _remove(self.namespaces())
        for process in self._processes:
            _kill_group(process, signal.SIGKILL)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._created = False
        _open.pop(self.prefix, None)

    def _switch_commands(self) -> list[str]:
        commands = ["link add br0 type bridge", "link set br0 up"]
        for host in self.hosts.values():
            # The switch-side end is named after its host: zone_down sets it down.
            commands += [f"link add {host.name} type veth peer name eth0 netns {host.namespace}",
                         f"link set {host.name} master br0", f"link set {host.name} up"]
        return commands

    def _host_commands(self, host: Host) -> list[str]:
        lb = self.hosts["lb"]
        commands = ["link set lo up", f"addr add {host.address}/{SUBNET_BITS} dev eth0",
                    "link set eth0 up", f"rule add pref {LOCAL_TABLE_PREF} lookup local",
                    "rule del pref 0"]
        if host is lb:
            commands.append(f"route add local {self.pool} dev lo")
        else:
            commands.append(f"route add {self.pool} via {lb.address} dev eth0 onlink")
        return commands

    # --- processes ------------------------------------------------------------------

    def spawn(self, host: str, argv: list[str], log_path: Path | str,
              env: dict[str, str] | None = None, cwd: Path | str | None = None
              ) -> subprocess.Popen:
        """Start argv inside the host's namespace, output to log_path, in a session of its
        own. `ip netns exec` execs argv, so the Popen's pid is the program's own. env is
        added to this process's environment."""
        namespace = self.hosts[host].namespace
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [_IP, "netns", "exec", namespace, *map(str, argv)], stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                env=None if env is None else {**os.environ, **env}, start_new_session=True)
        self._processes.append(process)
        return process

    def run(self, host: str, argv: list[str], timeout: float = 30, check: bool = True
            ) -> subprocess.CompletedProcess:
        """Run a short command inside the host's namespace; its output as text."""
        command = [_IP, "netns", "exec", self.hosts[host].namespace, *map(str, argv)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise NetnsError(f"{' '.join(command)} exited {result.returncode}: "
                             f"{result.stderr.strip() or result.stdout.strip()}")
        return result

    # --- faults ---------------------------------------------------------------------

    @contextlib.contextmanager
    def inside(self, host: str):
        """Run the calling thread on `host`'s network: the sockets it opens meanwhile (a
        boto3 client's, say) and the threads it starts live there. setns(2) moves one
        thread only, so the rest of the test process is untouched."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(NETNS_DIR / self.hosts[host].namespace, os.O_RDONLY)
        try:
            _setns(target)
            yield self.hosts[host]
        finally:
            _setns(own)
            os.close(own)
            os.close(target)

    def zone_hosts(self, zone: str) -> list[Host]:
        hosts = [host for host in self.hosts.values() if host.zone == zone]
        if not hosts:
            raise ValueError(f"no hosts in zone {zone!r}: zones are a, b and c")
        return hosts

    def zone_down(self, zone: str) -> None:
        self._set_links([host.name for host in self.zone_hosts(zone)], "down")

    def zone_up(self, zone: str) -> None:
        self._set_links([host.name for host in self.zone_hosts(zone)], "up")

    def host_down(self, host: str) -> None:
        """The host's link goes down; its processes keep running, cut off."""
        self._set_links([self.hosts[host].name], "down")

    def host_up(self, host: str) -> None:
        self._set_links([self.hosts[host].name], "up")

    def partition(self, first: str, second: str) -> None:
        """The link between two hosts goes down: each drops what the other sends."""
        self._partition(first, second, "add")

    def heal(self, first: str, second: str) -> None:
        self._partition(first, second, "del")

    def _set_links(self, ports: list[str], state: str) -> None:
        _ip_batch([f"link set {port} {state}" for port in ports], namespace=self.switch)

    def _partition(self, first: str, second: str, action: str) -> None:
        pair = frozenset((first, second))
        if len(pair) != 2:
            raise ValueError(f"a partition is between two hosts, not {first!r} and itself")
        if (pair in self._partitions) == (action == "add"):
            return   # already in that state
        for host, peer in ((first, second), (second, first)):
            # Matched on the way in, before the local table: the packets are dropped
            # without an answer, and ARP from the peer goes unanswered too.
            _ip_batch([f"rule {action} pref {PARTITION_PREF} from {cidr} iif eth0 blackhole"
                       for cidr in self.hosts[peer].owns], namespace=self.hosts[host].namespace)
        if action == "add":
            self._partitions.add(pair)
        else:
            self._partitions.discard(pair)


_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


def _host(prefix: str, name: str, address: str, zone: str | None) -> Host:
    owns = (f"{address}/32", POOL) if name == "lb" else (f"{address}/32",)
    return Host(name, address, zone, f"{prefix}-{name}", owns)


# --- cleanup ----------------------------------------------------------------------------

def our_namespaces() -> list[str]:
    """Every namespace that a Network (of any run) made on this machine."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(name for name in os.listdir(NETNS_DIR)
                  if PREFIX_RE.match(name.rsplit("-", 1)[0]))


def sweep_leftovers() -> list[str]:
    """Delete the namespaces of Networks whose process is gone (a run killed before its
    cleanup), and this process's own that no open Network holds. Returns their names."""
    stale = []
    for name in our_namespaces():
        prefix = name.rsplit("-", 1)[0]
        pid = int(PREFIX_RE.match(prefix).group(1))
        mine_but_closed = pid == os.getpid() and prefix not in _open
        if mine_but_closed or not Path(f"/proc/{pid}").exists():
            stale.append(name)
    if stale:
        _remove(stale, check=False)
    return stale


def processes_in(namespaces: list[str]) -> list[int]:
    """Pids of the processes whose network namespace is one of these."""
    return _pids_in(_namespace_ids(namespaces))


def _remove(namespaces: list[str], check: bool = True) -> None:
    """Kill the processes in the namespaces, then delete them."""
    ids = _namespace_ids(namespaces)
    _kill_all(ids)
    existing = [ns for ns in namespaces if (NETNS_DIR / ns).exists()]
    if existing:
        _ip_batch([f"netns del {ns}" for ns in existing], check=check)
    # A process that was entering one as it was deleted keeps it alive, nameless: by id.
    _kill_all(ids)


def _namespace_ids(namespaces: list[str]) -> set[tuple[int, int]]:
    ids = set()
    for name in namespaces:
        try:
            st = os.stat(NETNS_DIR / name)
        except FileNotFoundError:
            continue
        ids.add((st.st_dev, st.st_ino))
    return ids


def _pids_in(ids: set[tuple[int, int]]) -> list[int]:
    """Pids of the processes in these namespaces (nsfs device and inode, as stat says)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:   # gone, or a zombie: nothing left to kill
            continue
        if (st.st_dev, st.st_ino) in ids:
            pids.append(int(entry))
    return pids


def _kill_all(ids: set[tuple[int, int]]) -> None:
    """SIGTERM, a grace period, then SIGKILL for what is left."""
    pids = _pids_in(ids)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = _pids_in(ids)
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _kill_group(process: subprocess.Popen, signum: int) -> None:
    """Signal a spawned process's session (its group), while its pid is surely ours: not
    yet reaped. Whatever outlived it in a namespace is found by _remove."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


@atexit.register
def _close_all() -> None:
    """The last line of defence: a Network that a test left open (a `with` never exited)."""
    for network in list(_open.values()):
        network.close()


# --- running ip -------------------------------------------------------------------------

_IP = shutil.which("ip") or "/usr/sbin/ip"


def _check_tools() -> None:
    if os.geteuid() != 0:
        raise NetnsError("test hosts are network namespaces: the tests must run as root")
    if not Path(_IP).exists():
        raise NetnsError("`ip` (iproute2) is missing: apt-get install -y iproute2")


def _ip_batch(commands: list[str], namespace: str | None = None, check: bool = True) -> None:
    """Run ip commands in one process (`ip -batch`), inside a namespace if given."""
    args = (["-n", namespace] if namespace else []) + ["-batch", "-"]
    _parallel([(args, commands)], check=check)


def _parallel(jobs: list[tuple[list[str], list[str] | None]], check: bool = True) -> None:
    """Run `ip` once per job at the same time: (arguments, lines for its stdin)."""
    started = []
    for args, lines in jobs:
        process = subprocess.Popen([_IP, *args], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append((args, lines, process))
    failures = []
    for args, lines, process in started:
        stdout, stderr = process.communicate("\n".join(lines or []) + "\n", timeout=30)
        if process.returncode != 0:
            failures.append(f"ip {' '.join(args)} ({'; '.join(lines or [])}) exited "
                            f"{process.returncode}: {(stderr or stdout).strip()}")
    if check and failures:
        raise NetnsError("\n".join(failures))


# --- the fixture ------------------------------------------------------------------------

@pytest.fixture
def hosts():
    """The test hosts of issue 17 (see Network), removed when the test ends, even failing."""
    with Network() as network:
        yield network
