"""Container workers on the real Docker Engine, with the Lambda image the tests build
(scripts/build-test-lambda-image.sh): the image's own entrypoint and runtime interface
client talk to the worker's Runtime API, as on Lambda. The image is one the engine holds,
so no registry is involved (test_image_functions.py covers the path through ECR)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import docker
import pytest

from nozama.functions.container_workers import LABEL, ContainerEngine, ContainerWorker
from nozama.functions.workers import Invocation, VersionSpec
from nozama.functions.work_dirs import WorkDirs
from nozama.kernel.clock import Clock
from nozama.store import Store, servers
from nozama.store.db import sqlite_url
from support.registry import build_lambda_image


@pytest.fixture(scope="module")
def image():
    return build_lambda_image()


@pytest.fixture
def engine(tmp_path):
    engine = ContainerEngine(None, Clock(), str(tmp_path / "functions"))
    yield engine
    engine.remove_leftovers()


def spec(image: str, **changes) -> VersionSpec:
    values = dict(region="us-east-1", account="000000000000", function_name="boxed",
                  function_arn="arn:aws:lambda:us-east-1:000000000000:function:boxed",
                  version="$LATEST", revision="r1", runtime="", interpreter="", handler="",
                  timeout=3, memory_mb=128, environment=(), code_dir=Path("/var/task"),
                  log_group="/aws/lambda/boxed", image=image)
    values.update(changes)
    return VersionSpec(**values)


def run(engine, version: VersionSpec, *payloads: dict, env: dict | None = None):
    """The outcomes of invoking one worker with each payload in turn, and the worker."""
    async def main():
        clock = Clock()
        environment = {"AWS_LAMBDA_FUNCTION_NAME": version.function_name,
                       "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_mb),
                       "AWS_LAMBDA_FUNCTION_VERSION": version.version,
                       "LAMBDA_TASK_ROOT": "/var/task", "PATH": "/host/only",
                       **(env or {})}
        worker = ContainerWorker(version, environment, lambda w: None, clock, engine)
        await worker.start()
        outcomes = []
        for number, payload in enumerate(payloads):
            outcomes.append(await worker.invoke(Invocation(
                f"req-{number}", json.dumps(payload).encode(), version.function_arn,
                version.timeout)))
        worker.kill()
        await asyncio.sleep(0.5)
        return outcomes, worker
    return asyncio.run(main())


def test_the_image_answers_through_the_runtime_api(engine, image):
    (first, second), worker = run(engine, spec(image), {"greeting": "hi"}, {})
    answer = json.loads(first.payload)
    assert not first.function_error
    assert answer["greeting"] == "hi" and answer["function_name"] == "boxed"
    assert answer["task_root"] == "/var/task" and answer["cwd"] == "/var/task"
    assert answer["memory_limit_in_mb"] == "128" and answer["release"] == "v1"
    assert b"handling req-0" in first.output and b"req-1" not in first.output
    assert b"handling req-1" in second.output  # the same warm container
    assert first.init_ms is not None and second.init_ms is None
    assert first.max_memory_mb > 0


def test_image_config_overrides_the_command_and_working_directory(engine, image):
    (outcome,), _ = run(engine, spec(image, command=("app.other",), working_directory="/tmp"),
                        {})
    assert json.loads(outcome.payload) == {"handler": "other", "argv_handler": "app.other"}


def test_a_timeout_kills_the_container(engine, image):
    (outcome,), worker = run(engine, spec(image, timeout=1), {"sleep": 5})
    assert outcome.function_error and outcome.error_type == "Sandbox.Timedout"
    assert json.loads(outcome.payload)["errorMessage"] == \
        "RequestId: req-0 Error: Task timed out after 1.00 seconds"
    assert not worker.alive
    client = docker.from_env()
    assert client.containers.list(
        all=True, sparse=True, filters={"label": f"{LABEL}={engine.work_dir}"}) \
        == []


def test_memory_beyond_memory_size_is_out_of_memory(engine, image):
    (outcome,), worker = run(engine, spec(image, memory_mb=128), {"allocate_mb": 400})
    assert outcome.function_error and outcome.error_type == "Runtime.OutOfMemory"
    assert json.loads(outcome.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": "RequestId: req-0 Error: Runtime exited with error: signal: killed"}


def test_leftover_containers_of_the_same_work_dir_are_removed(engine, image, tmp_path):
    client = docker.from_env()
    left = client.containers.run(image, entrypoint=["sleep", "60"], command=[], detach=True,
                                 labels={LABEL: engine.work_dir})
    other = client.containers.run(image, entrypoint=["sleep", "60"], command=[], detach=True,
                                  labels={LABEL: str(tmp_path / "elsewhere")})
    try:
        fresh = ContainerEngine(None, Clock(), engine.work_dir)
        fresh.client()  # the first use removes them
        names = [c.id for c in client.containers.list(all=True, sparse=True)]
        assert left.id not in names and other.id in names
    finally:
        for container in (left, other):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


def test_a_server_removes_the_containers_of_gone_servers_only(image, tmp_path):
    """Servers on one store and host: at start a server removes its own leftovers and
    those of servers gone from the servers table, never a live server's; at stop, its
    own only (functions/work_dirs.py)."""
    store = Store.open(sqlite_url(tmp_path))
    root = tmp_path / "functions"
    with store.write() as conn:
        servers.heartbeat(conn, "live", socket.gethostname(), os.getpid(), "", "", Clock().now(),
                          Clock().now())
    dirs = WorkDirs(store, Clock(), root, "me")
    client = docker.from_env()
    made = {name: client.containers.run(image, entrypoint=["sleep", "60"], command=[],
                                        detach=True, labels={LABEL: str(root / name)})
            for name in ("me", "live", "gone")}
    try:
        engine = ContainerEngine(store, Clock(), str(dirs.own), leftovers=dirs.leftover_test)
        engine.client()  # the first use removes them
        names = {c.id for c in client.containers.list(all=True, sparse=True)}
        assert {name for name, c in made.items() if c.id in names} == {"live"}
        engine.stop()
        assert made["live"].id in {c.id for c in
                                   client.containers.list(all=True, sparse=True)}
    finally:
        for container in made.values():
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
        store.close()


def test_without_a_docker_engine_the_function_cannot_start(tmp_path):
    def no_engine():
        return docker.DockerClient(base_url=f"unix://{tmp_path}/none.sock")
    engine = ContainerEngine(None, Clock(), str(tmp_path), connect=no_engine)
    with pytest.raises(Exception) as info:
        engine.client()
    assert info.value.code == "ResourceConflictException"
    assert "the control plane has no Docker Engine" in str(info.value)


# A runtime of its own (ImageConfig EntryPoint, found through the image's PATH): for each
# invocation it writes `lines` lines to stdout and to stderr, far more than a FIFO holds,
# and posts its response straight after the last.
BURST_RUNTIME = """
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
def write(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
while True:
    with urllib.request.urlopen(api + "next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        lines = json.loads(answer.read())["lines"]
    for fd in (1, 2):
        write(fd, b"".join(b"%s %d %d\\n" % (request_id.encode(), fd, n) for n in range(lines)))
    urllib.request.urlopen(urllib.request.Request(
        api + request_id + "/response", data=json.dumps({"lines": lines}).encode())).read()
"""


def burst(request_id: str, lines: int) -> bytes:
    return b"".join(b"%s %d %d\n" % (request_id.encode(), fd, n)
                    for fd in (1, 2) for n in range(lines))


def test_output_written_before_the_response_is_all_in_its_invocation(engine, image):
    version = spec(image, entry_point=("python3", "-c", BURST_RUNTIME))
    sizes = [20000, 5, 20000, 0, 1]
    outcomes, _ = run(engine, version, *({"lines": n} for n in sizes))
    for number, (outcome, lines) in enumerate(zip(outcomes, sizes)):
        assert json.loads(outcome.payload) == {"lines": lines}
        assert outcome.output == burst(f"req-{number}", lines)


def test_image_config_entry_point_keeps_the_images_command(engine, image):
    (outcome,), _ = run(engine, spec(image, entry_point=("/lambda-entrypoint.sh",)), {})
    assert json.loads(outcome.payload)["task_root"] == "/var/task"
    assert b"handling req-0" in outcome.output


def test_an_entry_point_not_in_the_image_is_an_exit_error(engine, image):
    (outcome,), _ = run(engine, spec(image, entry_point=("no-such-runtime",)), {})
    assert outcome.error_type == "Runtime.ExitError"
    assert json.loads(outcome.payload)["errorMessage"] == \
        "RequestId: req-0 Error: Runtime exited with error: exit status 127"


@pytest.mark.parametrize("busybox", ["missing", "/usr/bin/python3"])
def test_without_a_static_busybox_the_function_cannot_start(engine, image, tmp_path, busybox):
    path = str(tmp_path / busybox) if busybox == "missing" else busybox
    without = ContainerEngine(None, Clock(), engine.work_dir, busybox=path)
    with pytest.raises(Exception) as info:
        run(without, spec(image), {})
    assert info.value.code == "ResourceConflictException"
    assert str(info.value) == (
        "The function cannot start: functions of PackageType Image start in their container "
        f"through a statically linked busybox, and the control plane has none at {path} "
        "(install Debian's package busybox-static).")
    client = docker.from_env()
    assert client.containers.list(
        all=True, sparse=True, filters={"label": f"{LABEL}={engine.work_dir}"}) \
        == []
    assert not any(Path(without.outputs).glob("*"))  # no worker directory left either
