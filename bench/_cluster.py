"""Helpers for the task benchmarks: a local Nozama cluster (server + one Docker agent),
the keys a server with auth on (its default) wants, Docker CLI calls, /proc accounting
and the docs section.

Not a benchmark itself (the leading underscore keeps `make bench` from running it).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
REGION = "us-east-1"
LABEL_INSTANCE = "io.nozama.container-instance-arn"

# Processes doing the benchmark's work besides our own process tree: the Docker daemon
# and what it runs. Names as /proc/PID/comm gives them (at most 15 characters).
DOCKER_COMMS = {"dockerd", "containerd", "containerd-shim", "runc", "docker-proxy", "docker",
                "docker-init", "sleep", "sh"}


# --- processes ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process whose output goes to a file in the work directory."""

    def __init__(self, name: str, command: list[str], log_path: Path):
        self.name, self.command, self.log_path = name, command, log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=ROOT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n"
                               f"{self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def rss_mib(pid: int) -> float:
    """VmRSS of a process, in MiB."""
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def cpu_ticks(pid: int, children: bool = False) -> int:
    """utime + stime of a process (all its threads), in clock ticks; with `children`,
    plus what its reaped children used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def pids_named(*names: str) -> list[int]:
    """Processes whose comm is one of `names` (e.g. the Docker daemon's)."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(f"/proc/{entry.name}/comm").read_text().strip() in names:
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def _snapshot() -> dict[int, tuple[str, int, int, int]]:
    """pid -> (comm, ppid, start time, utime+stime) for every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[int(entry.name)] = (comm, int(fields[1]), int(fields[19]),
                                int(fields[11]) + int(fields[12]))
    return out


class Background:
    """CPU used by processes that are neither ours (this process and its descendants)
    nor Docker's, over a window: other work on the machine that distorts the figures.
    Short-lived processes that come and go inside the window are not seen."""

    def __enter__(self):
        self.t0 = time.monotonic()
        self.before = _snapshot()
        return self

    def __exit__(self, *exc):
        self.cpus = self.measure()
        return False

    def measure(self) -> float:
        after = _snapshot()
        wall = time.monotonic() - self.t0
        ours = {os.getpid()}
        changed = True
        while changed:     # descendants of this process
            changed = False
            for pid, (_, ppid, _, _) in after.items():
                if ppid in ours and pid not in ours:
                    ours.add(pid)
                    changed = True
        used = 0
        for pid, (comm, ppid, start, ticks) in after.items():
            # Kernel threads (children of kthreadd, pid 2) mostly do our containers'
            # cgroup and network teardown: not counted either.
            if pid in ours or pid == 2 or ppid == 2 or comm in DOCKER_COMMS \
                    or comm.startswith("containerd"):
                continue
            old = self.before.get(pid)
            used += ticks - (old[3] if old and old[2] == start else 0)
        return used / HZ / wall if wall > 0 else 0.0


def wait_quiet(limit: float, timeout: float, window: float = 1.0) -> float:
    """Wait (up to `timeout` s) until other processes use under `limit` CPUs over a
    window; the last window's figure."""
    deadline = time.monotonic() + timeout
    while True:
        with Background() as load:
            time.sleep(window)
        if load.cpus < limit or time.monotonic() >= deadline:
            return load.cpus


def _busy_ticks() -> int:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def settle(limit: float = 0.3, timeout: float = 20.0, window: float = 1.0) -> float:
    """Wait (up to `timeout` s) until the whole machine, Docker and the kernel's
    container teardown included, uses under `limit` CPUs over a window; the last
    window's figure. A phase then does not pay for the previous one's leftovers."""
    deadline = time.monotonic() + timeout
    while True:
        t0, b0 = time.monotonic(), _busy_ticks()
        time.sleep(window)
        busy = (_busy_ticks() - b0) / HZ / (time.monotonic() - t0)
        if busy < limit or time.monotonic() >= deadline:
            return busy


# --- Docker -------------------------------------------------------------------

def docker(*args: str, timeout: float = 120.0) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def docker_ids(label: str) -> list[str]:
    return docker("ps", "-aq", "--no-trunc", "--filter", f"label={label}").split()


def docker_rm(ids: list[str]) -> None:
    for i in range(0, len(ids), 50):
        subprocess.run(["docker", "rm", "-f", *ids[i:i + 50]], capture_output=True, timeout=120)


def docker_times(ids: list[str]) -> dict[str, tuple[float, float]]:
    """Container id -> (Created, State.StartedAt) as epoch seconds."""
    out = {}
    for i in range(0, len(ids), 50):
        for attrs in json.loads(docker("inspect", *ids[i:i + 50])):
            out[attrs["Id"]] = (docker_epoch(attrs["Created"]),
                                docker_epoch(attrs["State"]["StartedAt"]))
    return out


def docker_epoch(stamp: str) -> float:
    """RFC 3339 with nanoseconds ('2026-11-26T12:23:46.77442399Z') -> epoch seconds."""
    main, _, fraction = stamp.rstrip("Z").partition(".")
    moment = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


# --- the server and its keys ----------------------------------------------------
# `nozama server` verifies SigV4 on every request by default (--auth on), so the
# benchmarks run against what users run: they call with the administrator key the
# server writes to its data dir at its first start, and give agents a key of their own
# with the permissions `nozama up` gives its agents (never the administrator key).

def wait_health(endpoint: str, server: Process, timeout: float = 60.0) -> None:
    """Until the server answers its (open) health check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check()
        try:
            with urllib.request.urlopen(endpoint + "/_nozama/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nozama server not ready:\n{server.output()}")


def _nozama():
    """This checkout's nozama package importable here (a script's sys.path has bench/,
    not the checkout): the same code as the servers the benchmarks start."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def admin_key(data_dir: Path) -> tuple[str, str]:
    """(access key id, secret) of the administrator key a server wrote into its data dir;
    it is there before the server answers its health check."""
    _nozama()
    from nozama.store import admin_key as admin
    key = admin.read(data_dir)
    if key is None:
        raise RuntimeError(f"no administrator key in {data_dir}")
    return key


def client(service: str, endpoint: str, key: tuple[str, str], **config):
    """A boto3 client of `service` signing with `key`; `config`: botocore Config options."""
    import boto3
    import botocore.config
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key[0],
        aws_secret_access_key=key[1], config=botocore.config.Config(**config))


def agent_credentials(iam, path: Path, user: str = "bench-agent") -> Path:
    """A credentials file at `path` (for agents' --credentials-file) with a new key of the
    IAM user `user`, made with an agent's permissions if missing. `iam`: an iam client
    with the administrator key."""
    _nozama()
    from nozama.cli.up import new_agent_key
    from nozama.store.admin_key import write_file
    write_file(path, *new_agent_key(iam, user))
    return path


# --- the cluster --------------------------------------------------------------

class Cluster:
    """`nozama server` on a fresh SQLite data dir, and one `nozama agent` (Docker runtime)
    registered in cluster `default`."""

    def __init__(self, cleanup_wait: float = 5.0, cluster: str = "default"):
        self.workdir = Path(tempfile.mkdtemp(prefix="nozama-bench-tasks-"))
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cluster = cluster
        self.cleanup_wait = cleanup_wait
        self.server: Process | None = None
        self.agent: Process | None = None
        self.instance_arn: str | None = None
        self.key: tuple[str, str] | None = None    # the administrator key, once started
        self.ecs = self.logs = None

    def client(self, service: str):
        return client(service, self.endpoint, self.key, retries={"max_attempts": 1},
                      max_pool_connections=20)

    def start(self) -> None:
        data_dir = self.workdir / "server"
        self.server = Process("nozama server", [
            sys.executable, "-m", "nozama", "server", "--port", str(self.port),
            "--data-dir", str(data_dir), "--log-level", "warning"],
            self.workdir / "server.log")
        wait_health(self.endpoint, self.server)
        self.key = admin_key(data_dir)
        self.ecs, self.logs = self.client("ecs"), self.client("logs")
        self.ecs.create_cluster(clusterName=self.cluster)
        credentials = agent_credentials(self.client("iam"), self.workdir / "agent-credentials")
        self.agent = Process("nozama agent", [
            sys.executable, "-m", "nozama", "agent", "--endpoint", self.endpoint,
            "--region", REGION, "--cluster", self.cluster,
            "--availability-zone", "us-east-1a", "--runtime", "docker",
            "--credentials-file", str(credentials),
            "--data-dir", str(self.workdir / "agent"), "--cleanup-wait", f"{self.cleanup_wait:g}"],
            self.workdir / "agent.log")
        self.instance_arn = self._wait_registered()

    def _wait_registered(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.agent.check()
            arns = self.ecs.list_container_instances(cluster=self.cluster)["containerInstanceArns"]
            if arns:
                described = self.ecs.describe_container_instances(
                    cluster=self.cluster, containerInstances=arns)["containerInstances"]
                ready = [i["containerInstanceArn"] for i in described
                         if i["status"] == "ACTIVE" and i["agentConnected"]]
                if ready:
                    return ready[0]
            time.sleep(0.2)
        raise RuntimeError(f"agent did not register:\n{self.agent.output()}")

    def our_containers(self) -> list[str]:
        if not self.instance_arn:
            return []
        return docker_ids(f"{LABEL_INSTANCE}={self.instance_arn}")

    def close(self) -> None:
        # A stopped agent leaves its containers running (to adopt them later): remove them.
        if self.agent:
            self.agent.stop()
        try:
            docker_rm(self.our_containers())
        except Exception as error:  # noqa: BLE001
            print(f"warning: could not remove the agent's containers: {error}", file=sys.stderr)
        if self.server:
            self.server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- the machine and the docs ---------------------------------------------------

def machine() -> dict:
    cpu_model = platform.processor() or "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    ram = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
            break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() \
        or str(os.cpu_count())
    return {"nproc": nproc, "cpu": cpu_model, "ram": ram,
            "os": f"{platform.system()} {platform.release()}"}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for package in ("nozama", "boto3", "docker"):
        try:
            out[package + (" (SDK)" if package == "docker" else "")] = version(package)
        except PackageNotFoundError:
            pass
    try:
        out["Docker Engine"] = docker("version", "--format", "{{.Server.Version}}").strip()
    except (RuntimeError, OSError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "nozama"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if commit:
            out["git"] = commit + (" (nozama/ modified)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def date_u() -> str:
    out = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    return out or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%a %b %d %H:%M:%S UTC %Y")


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        text = str(script.relative_to(ROOT))
    except ValueError:
        text = str(script)
    return shlex.join(["python3", text] + sys.argv[1:])


def write_docs_section(begin: str, end: str, section: str) -> None:
    """Replace the text between the markers (inclusive) with `section`, or append it.
    The file is read just before writing: other benchmarks write their own sections."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    temporary = DOCS.with_suffix(".md.tmp")
    temporary.write_text(text)
    os.replace(temporary, DOCS)


def default_network(ec2) -> tuple[str, list[str]]:
    """The region's default VPC and its default subnets in zones a and b, as EC2 (an ec2
    client of the server) describes them: where a benchmark's load balancer goes."""
    subnets = ec2.describe_subnets(Filters=[
        {"Name": "default-for-az", "Values": ["true"]},
        {"Name": "availability-zone", "Values": [f"{REGION}a", f"{REGION}b"]}])["Subnets"]
    subnets.sort(key=lambda s: s["AvailabilityZone"])
    return subnets[0]["VpcId"], [s["SubnetId"] for s in subnets]
