#!/usr/bin/env python3
"""Images through Nozama's ECR registry against moving them by hand, side by side.

One local Nozama (a `nozama server` on a fresh SQLite data dir, a `nozama registry` on
127.0.0.1 and one `nozama agent --runtime docker`) and a 50 MB image: a layer of random
bytes (incompressible, as built binaries mostly are) on nozama-test/busybox, built anew
for every round so that nothing is ever already there.

  1. transfer: `docker push` then `docker pull` through the registry (after `docker login`
     with GetAuthorizationToken's password), against `docker save` then `docker load` of
     the same image; between the two halves the image leaves the engine (`docker rmi`), so
     each pull and load really brings the layer in. Rounds alternate which goes first.
  2. task start: RunTask of a task definition naming the image by its ECR repository URI
     until DescribeTasks (polled every 20 ms) shows it RUNNING, on an agent whose engine
     does not have the image, against `docker pull` + `docker run -d` by hand.

Target (issue 19): each Nozama figure at most 1.3x its peer's (medians).

  python3 bench/registry.py                 # ~3 minutes, prints the tables
  python3 bench/registry.py --write-docs    # also updates docs/benchmarks.md

Exit status: 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cluster as cl  # noqa: E402

BASE = "nozama-test/busybox:latest"
REPOSITORY = "bench/payload"
FAMILY = "bench-registry"
SIZE = 50_000_000
TARGET = 1.3
POLL = 0.020
BEGIN_MARK = "<!-- BEGIN bench/registry.py -->"
END_MARK = "<!-- END bench/registry.py -->"


class Registry(cl.Process):
    """`nozama registry` on the cluster's data dir, at 127.0.0.1:<free port>."""

    def __init__(self, cluster: cl.Cluster):
        self.address = f"127.0.0.1:{cl.free_port()}"
        super().__init__("nozama registry", [
            sys.executable, "-m", "nozama", "registry", "--address", self.address,
            "--data-dir", str(cluster.workdir / "server"), "--log-level", "warning"],
            cluster.workdir / "registry.log")
        ecr = cluster.client("ecr")
        deadline = time.monotonic() + 60
        while not ecr.get_authorization_token()["authorizationData"][0][
                "proxyEndpoint"].endswith(self.address):
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"nozama registry did not start:\n{self.output()}")
            time.sleep(0.2)


class Docker:
    """The docker CLI with a DOCKER_CONFIG of the benchmark's own (root's ~/.docker keeps no
    credentials of a benchmark)."""

    def __init__(self, workdir: Path):
        self.env = {**os.environ, "DOCKER_CONFIG": str(workdir / "docker-config"),
                    "DOCKER_BUILDKIT": "0"}

    def __call__(self, *args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run(["docker", *args], input=stdin, capture_output=True,
                              env=self.env, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.decode().strip()}")
        return done.stdout.decode()

    def timed(self, *args: str) -> float:
        started = time.perf_counter()
        self(*args)
        return time.perf_counter() - started

    def forget(self, *names: str) -> None:
        """Remove images by name only (they share layers with nozama-test/busybox)."""
        for name in names:
            subprocess.run(["docker", "rmi", name], capture_output=True, env=self.env)


def build_payload(docker: Docker, workdir: Path, tag: str) -> None:
    """A new 50 MB image `tag`: fresh random bytes, so no registry or engine has its layer."""
    context = workdir / "context"
    context.mkdir(exist_ok=True)
    (context / "payload").write_bytes(os.urandom(SIZE))
    (context / "Dockerfile").write_text(f"FROM {BASE}\nCOPY payload /payload\n")
    docker("build", "-q", "-t", tag, str(context))


class BareDistribution(cl.Process):
    """Docker Distribution alone (the registry `nozama registry` runs), with no auth and
    no front: what a push and a pull cost without anything of Nozama's."""

    def __init__(self, workdir: Path):
        self.address = f"127.0.0.1:{cl.free_port()}"
        config = workdir / "bare-registry.yml"
        config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: "
                          f"{{rootdirectory: {workdir / 'bare-storage'}}}\n"
                          f"http: {{addr: {self.address}}}\n")
        super().__init__("docker-registry", ["docker-registry", "serve", str(config)],
                         workdir / "bare-registry.log")
        deadline = time.monotonic() + 30
        while True:
            self.check()
            try:
                with cl.urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def transfer_round(docker: Docker, workdir: Path, remote: str, bare: str,
                   first: str) -> dict:
    local = "nozama-bench/payload:round"
    times = {}

    def push_pull(reference: str, prefix: str):
        build_payload(docker, workdir, local)
        docker("tag", local, reference)
        cl.settle()
        times[prefix + "push"] = docker.timed("push", reference)
        docker.forget(local, reference)
        cl.settle()
        times[prefix + "pull"] = docker.timed("pull", reference)
        docker.forget(reference, *digests(docker, reference))

    def through_registry():
        push_pull(remote, "")
        push_pull(bare, "bare_")

    def by_hand():
        build_payload(docker, workdir, local)
        archive = workdir / "payload.tar"
        cl.settle()
        times["save"] = docker.timed("save", "-o", str(archive), local)
        docker.forget(local)
        cl.settle()
        times["load"] = docker.timed("load", "-q", "-i", str(archive))
        archive.unlink()
        docker.forget(local)

    order = (through_registry, by_hand) if first == "registry" else (by_hand, through_registry)
    for run in order:
        run()
    return times


def digests(docker: Docker, reference: str) -> list[str]:
    repository = reference.rsplit(":", 1)[0]
    listed = docker("images", "--digests", "--format", "{{.Repository}}@{{.Digest}}",
                    repository)
    return [line for line in listed.split() if "@sha256:" in line]


def forget_payloads(docker: Docker) -> None:
    """Every name and digest reference the benchmark's images got, in any registry."""
    listed = docker("images", "--digests", "--format",
                    "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}")
    docker.forget(*[name for line in listed.splitlines() if "payload" in line
                    for name in line.split() if not name.endswith((":<none>", "@<none>"))])


def login(docker: Docker, cluster: cl.Cluster, registry: Registry) -> str:
    data = cluster.client("ecr").get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
    docker("login", registry.address, "-u", "AWS", "--password-stdin",
           stdin=password.encode())
    return password


def run_task_until_running(cluster: cl.Cluster) -> float:
    started = time.perf_counter()
    task = cluster.ecs.run_task(cluster=cluster.cluster, taskDefinition=FAMILY)["tasks"][0]
    while True:
        found = cluster.ecs.describe_tasks(cluster=cluster.cluster,
                                           tasks=[task["taskArn"]])["tasks"][0]
        if found["lastStatus"] == "RUNNING":
            elapsed = time.perf_counter() - started
            cluster.ecs.stop_task(cluster=cluster.cluster, task=task["taskArn"])
            return elapsed
        if found["lastStatus"] == "STOPPED":
            raise RuntimeError(f"task stopped: {found.get('stoppedReason')} "
                               f"{[c.get('reason') for c in found['containers']]}")
        time.sleep(POLL)


def start_round(docker: Docker, workdir: Path, cluster: cl.Cluster, uri: str, remote: str,
                first: str) -> dict:
    """One RunTask and one pull + run by hand, each of a new image under the same tag (the
    agent always pulls an ECR image; the engine must not have it)."""
    times = {}

    def fresh_image():
        local = "nozama-bench/payload:round"
        build_payload(docker, workdir, local)
        docker("tag", local, remote)
        docker("push", remote)
        docker.forget(local, remote, uri, *digests(docker, remote), *digests(docker, uri))
        cl.settle()

    def nozama():
        fresh_image()
        times["runtask"] = run_task_until_running(cluster)

    def by_hand():
        fresh_image()
        started = time.perf_counter()
        docker("pull", remote)
        container = docker("run", "-d", "--memory", "16m", remote, "sleep", "3600").strip()
        times["pull_run"] = time.perf_counter() - started
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)

    for run in ((nozama, by_hand) if first == "nozama" else (by_hand, nozama)):
        run()
    docker.forget(remote, uri, *digests(docker, remote), *digests(docker, uri))
    return times


def median(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def report(transfer: list[dict], starts: list[dict], args) -> tuple[str, bool]:
    push_pull = [r["push"] + r["pull"] for r in transfer]
    save_load = [r["save"] + r["load"] for r in transfer]
    figures = [
        ("pull, against load", median(transfer, "pull"), median(transfer, "load")),
        ("pull, against a pull from Docker Distribution alone", median(transfer, "pull"),
         median(transfer, "bare_pull")),
        ("push, against a push to Docker Distribution alone", median(transfer, "push"),
         median(transfer, "bare_push")),
        ("push + pull, against save + load", statistics.median(push_pull),
         statistics.median(save_load)),
        ("RunTask to RUNNING, against pull + run by hand", median(starts, "runtask"),
         median(starts, "pull_run")),
    ]
    rows = ["| round | push | pull | push, bare | pull, bare | save | load "
            "| RunTask → RUNNING | pull + run |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, (t, s) in enumerate(zip(transfer, starts), 1):
        rows.append(f"| {i} | {t['push']:.2f} s | {t['pull']:.2f} s | {t['bare_push']:.2f} s "
                    f"| {t['bare_pull']:.2f} s | {t['save']:.2f} s | {t['load']:.2f} s "
                    f"| {s['runtask']:.2f} s | {s['pull_run']:.2f} s |")
    bare = statistics.median(r["bare_push"] + r["bare_pull"] for r in transfer)
    checks = [(ours / peer <= TARGET, f"{name}: {ours:.2f} s against {peer:.2f} s "
               f"= {ours / peer:.2f}x (target at most {TARGET}x)")
              for name, ours, peer in figures]
    machine = cl.machine()
    section = "\n".join([
        BEGIN_MARK,
        "## Images: Nozama's ECR registry against moving them by hand (bench/registry.py)",
        "",
        f"{cl.date_u()}; {machine['nproc']} cores ({machine['cpu']}), {machine['ram']}; "
        f"`{cl.command_line()}`.",
        "",
        f"A {SIZE // 1_000_000} MB layer of random bytes on nozama-test/busybox, built anew "
        "for every measurement; the registry is `nozama registry` on 127.0.0.1 (HAProxy "
        "front, gate, Docker Distribution 2.8); rounds alternate which side goes first; "
        "medians.",
        "",
        *rows,
        "",
        *[f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in checks],
        "",
        "\"Bare\" is Docker Distribution alone on another port (no auth, no front, no "
        "gate), the same image: what the registry protocol costs without Nozama. "
        "`docker push` compresses each layer with gzip as it sends it (in the Docker client) "
        "and a pull decompresses it; `docker save` and `docker load` copy the layer as it is. "
        f"Push + pull to the bare registry take {bare:.2f} s, "
        f"{bare / statistics.median(save_load):.2f}x save + load: the protocol's "
        "compression, not Nozama, is what the push + pull target misses by.",
        END_MARK,
    ])
    return section, all(ok for ok, _ in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    cluster = cl.Cluster()
    registry = bare = None
    docker = Docker(cluster.workdir)
    try:
        cluster.start()
        registry = Registry(cluster)
        ecr = cluster.client("ecr")
        uri = ecr.create_repository(repositoryName=REPOSITORY)["repository"][
            "repositoryUri"] + ":latest"
        remote = f"{registry.address}/{cl.REGION}/{REPOSITORY}:latest"
        cluster.ecs.register_task_definition(family=FAMILY, containerDefinitions=[{
            "name": "payload", "image": uri, "command": ["sleep", "3600"], "memory": 16,
            "stopTimeout": 1}])
        login(docker, cluster, registry)
        bare = BareDistribution(cluster.workdir)
        bare_reference = f"{bare.address}/payload:latest"
        transfer, starts = [], []
        for i in range(args.rounds):
            transfer.append(transfer_round(docker, cluster.workdir, remote, bare_reference,
                                           "registry" if i % 2 == 0 else "hand"))
            starts.append(start_round(docker, cluster.workdir, cluster, uri, remote,
                                      "nozama" if i % 2 == 0 else "hand"))
            print(f"round {i + 1}: {transfer[-1]} {starts[-1]}", flush=True)
        section, ok = report(transfer, starts, args)
    finally:
        for process in (registry, bare):
            if process is not None:
                process.stop()
        forget_payloads(docker)
        cluster.close()
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
