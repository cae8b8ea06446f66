"""Invoke through boto3 against a live server: what a caller and a function see.

Functions run for real, in worker processes running awslambdaric: the handler's
result and errors, timeouts, memory limits and exits, the logs (tail and
CloudWatch Logs), asynchronous invocations and their durable queue, concurrency
limits, weighted aliases, AWS/Lambda metrics and alarms, and that no worker
process outlives its function or its server. Expectations follow Lambda's
documented behaviour and messages, not Nozama's implementation.
"""

from __future__ import annotations

import base64
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

from support.packages import zip_package
from support.errors import error_of
from support.roles import LAMBDA_ROLE, lambda_role
from support.waiting import wait_for

ACCOUNT = "000000000000"
ROLE = LAMBDA_ROLE

# One module of handlers; each function picks its own with Handler.
APP = '''\
import json, os, subprocess, sys, time

def echo(event, context):
    return event

def describe(event, context):
    print("describing", context.aws_request_id)
    custom = context.client_context.custom if context.client_context else None
    return {
        "event": event,
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("AWS_LAMBDA_", "AWS_REGION", "LAMBDA_", "STAGE"))},
        "cwd": os.getcwd(),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_context": custom,
    }

def pid(event, context):
    if event.get("fail"):
        raise ValueError("no such order: %s" % event["fail"])
    if event.get("print"):
        print(event["print"])
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "version": context.function_version,
            "stage": os.environ.get("STAGE")}

def big(event, context):
    return "x" * event["bytes"]

def hog(event, context):
    blocks = [bytearray(1 << 20) for _ in range(event["mb"])]
    return len(blocks)

def leave(event, context):
    if event.get("hard"):
        os._exit(event["code"])
    sys.exit(event["code"])

def spawn(event, context):
    """Leave a process running behind the handler (and, if asked, the worker exiting)."""
    child = subprocess.Popen(["sleep", "300"])
    if event.get("exit"):
        os._exit(3)
    return {"worker": os.getpid(), "child": child.pid}

def touch(event, context):
    """Side effects a test can see: a file per run, and a slow first run."""
    path = event["path"]
    with open(path, "a") as runs:
        runs.write("ran\\n")
    if event.get("hang_once") and sum(1 for _ in open(path)) == 1:
        time.sleep(60)
    time.sleep(event.get("sleep", 0))
    return "done"

def fail(event, context):
    with open(event["path"], "a") as runs:
        runs.write("ran\\n")
    raise RuntimeError("always")

def sink(event, context):
    """A destination: each record it is sent, a line of JSON in SINK_PATH."""
    with open(os.environ["SINK_PATH"], "a") as out:
        out.write(json.dumps(event) + "\\n")
'''

# A module whose import takes longer than the function's Timeout.
SLOW_INIT = '''\
import time
time.sleep(1.5)

def handler(event, context):
    return context.get_remaining_time_in_millis()
'''


# --- helpers -------------------------------------------------------------------

def lambda_client(server, region: str, **config):
    """A Lambda client that never retries: each call is one invocation (botocore retries a
    throttled one, a 429, even with max_attempts 1 in its legacy mode). The server has
    the role the functions run as."""
    lambda_role(server)
    return boto3.client("lambda", endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=server.credentials[0],
        aws_secret_access_key=server.credentials[1],
                        config=botocore.config.Config(retries={"total_max_attempts": 1},
                                                      **config))


@pytest.fixture
def lam(server, region):
    client = lambda_client(server, region)
    yield client
    # Warm workers would otherwise idle for ten minutes: delete what the test made.
    for function in client.list_functions()["Functions"]:
        client.delete_function(FunctionName=function["FunctionName"])


@pytest.fixture
def logs(server, region):
    return server.client("logs", region)


@pytest.fixture
def cloudwatch(server, region):
    return server.client("cloudwatch", region)


def package(source: str = APP, **others: str) -> bytes:
    """app.py with `source`, and other modules by name."""
    return zip_package(app=source, **others)


def create(lam, name: str, handler: str = "app.echo", **params) -> dict:
    params = {"Runtime": "python3.11", "Role": ROLE, "Handler": handler,
              "Code": {"ZipFile": package()}, **params}
    return lam.create_function(FunctionName=name, **params)


def invoke(lam, name: str, event=None, **params) -> tuple[dict, object]:
    """The Invoke response, and its payload decoded (None when empty)."""
    if event is not None:
        params["Payload"] = json.dumps(event).encode()
    answer = lam.invoke(FunctionName=name, **params)
    body = answer["Payload"].read()
    return answer, json.loads(body) if body else None


def arn(region: str, name: str, qualifier: str | None = None) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}" + (
        f":{qualifier}" if qualifier else "")


def workers(region: str, name: str | None = None) -> set[int]:
    """PIDs of the worker processes running a function (or any) of `region`."""
    wanted = {f"AWS_REGION={region}".encode()}
    if name is not None:
        wanted.add(f"AWS_LAMBDA_FUNCTION_NAME={name}".encode())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = set(Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"))
        except OSError:  # gone, or not ours
            continue
        if wanted <= environ:
            found.add(int(entry))
    return found


def log_messages(logs, name: str) -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise
    return [event["message"].rstrip("\n") for event in events]


def statistics(cloudwatch, metric: str, dimensions: dict, **params) -> list[dict]:
    now = datetime.now(timezone.utc)
    if "ExtendedStatistics" not in params:
        params.setdefault("Statistics", ["Sum", "SampleCount"])
    return cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=3600,
        **params)["Datapoints"]


def total(cloudwatch, metric: str, dimensions: dict) -> float:
    return sum(point["Sum"] for point in statistics(cloudwatch, metric, dimensions))


# --- RequestResponse -----------------------------------------------------------

def test_request_response_answers_the_handlers_result(lam, logs, region):
    create(lam, "orders", "app.describe", Timeout=30, MemorySize=256,
           Environment={"Variables": {"STAGE": "test"}})
    context = base64.b64encode(json.dumps({"custom": {"tenant": "acme"}}).encode()).decode()
    answer, body = invoke(lam, "orders", {"order": 7}, ClientContext=context)
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    # Lambda types a function's answer as JSON.
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert "FunctionError" not in answer and "LogResult" not in answer
    assert body["event"] == {"order": 7}
    assert body["client_context"] == {"tenant": "acme"}
    # The invocation's request id is the one the response carries.
    assert body["aws_request_id"] == answer["ResponseMetadata"]["RequestId"]
    env = body["env"]
    assert env["STAGE"] == "test"
    assert (env["AWS_LAMBDA_FUNCTION_NAME"], env["AWS_LAMBDA_FUNCTION_VERSION"]) == (
        "orders", "$LATEST")
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == region
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/orders"
    assert body["cwd"] == env["LAMBDA_TASK_ROOT"]
    assert (Path(env["LAMBDA_TASK_ROOT"]) / "app.py").read_text() == APP
    assert 25_000 < body["remaining_ms"] <= 30_000
    assert (body["function_name"], body["function_version"]) == ("orders", "$LATEST")
    assert str(body["memory_limit_in_mb"]) == "256"
    assert body["invoked_function_arn"] == arn(region, "orders")
    assert body["log_group_name"] == "/aws/lambda/orders"
    # Its output goes to the log stream the function is told about.
    wait_for(lambda: any(m.startswith("describing ") for m in log_messages(logs, "orders")))
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/orders")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [body["log_stream_name"]]

    # No payload is an empty object; $LATEST named explicitly shows in the invoked ARN.
    answer, body = invoke(lam, arn(region, "orders"), Qualifier="$LATEST")
    assert answer["ExecutedVersion"] == "$LATEST" and body["event"] == {}
    assert body["invoked_function_arn"] == arn(region, "orders", "$LATEST")


def test_each_version_runs_its_own_code(lam, region):
    def source(answer: str) -> bytes:
        return package(APP + f"\ndef which(event, context):\n    return {answer!r}\n")

    create(lam, "orders", "app.which", Code={"ZipFile": source("one")})
    assert lam.publish_version(FunctionName="orders")["Version"] == "1"
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    assert invoke(lam, "orders")[1] == "one"       # a warm $LATEST worker of the old code
    lam.update_function_code(FunctionName="orders", ZipFile=source("two"))

    def run(name: str, **params) -> tuple[str, str]:
        answer, body = invoke(lam, name, **params)
        assert "FunctionError" not in answer, body
        return answer["ExecutedVersion"], body

    assert run("orders") == ("$LATEST", "two")
    assert run("orders", Qualifier="1") == ("1", "one")
    assert run("orders:1") == ("1", "one")
    assert run(arn(region, "orders", "live")) == ("1", "one")
    assert run("orders", Qualifier="live") == ("1", "one")
    assert lam.publish_version(FunctionName="orders")["Version"] == "2"
    lam.update_alias(FunctionName="orders", Name="live", FunctionVersion="2")
    assert run("orders:live") == ("2", "two")
    assert run("orders", Qualifier="1") == ("1", "one")


def test_versions_see_their_own_configuration(lam, region):
    create(lam, "orders", "app.describe", Environment={"Variables": {"STAGE": "one"}})
    lam.publish_version(FunctionName="orders")
    lam.update_function_configuration(FunctionName="orders", MemorySize=512,
                                      Environment={"Variables": {"STAGE": "two"}})
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    _, one = invoke(lam, "orders:live")
    assert (one["env"]["STAGE"], one["env"]["AWS_LAMBDA_FUNCTION_VERSION"]) == ("one", "1")
    assert one["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert one["invoked_function_arn"] == arn(region, "orders", "live")
    _, latest = invoke(lam, "orders")
    assert (latest["env"]["STAGE"], latest["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) == (
        "two", "512")


# --- function errors -----------------------------------------------------------

def function_error(answer: dict, body: dict) -> str:
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled", body
    return body["errorType"]


def test_a_handler_that_cannot_load_is_a_function_error(lam):
    create(lam, "missing", "nowhere.handler")
    answer, body = invoke(lam, "missing")
    assert function_error(answer, body) == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'nowhere'")
    create(lam, "absent", "app.nothing")
    answer, body = invoke(lam, "absent")
    assert function_error(answer, body) == "Runtime.HandlerNotFound"
    # The next invocation tries again (and fails the same way), it does not hang.
    answer, body = invoke(lam, "missing")
    assert function_error(answer, body) == "Runtime.ImportModuleError"


def test_an_exception_is_a_function_error_and_the_worker_stays(lam):
    create(lam, "orders", "app.pid")
    _, warm = invoke(lam, "orders")
    answer, body = invoke(lam, "orders", {"fail": 7})
    assert function_error(answer, body) == "ValueError"
    assert body["errorMessage"] == "no such order: 7"
    assert any('app.py", line' in frame and "in pid" in frame for frame in body["stackTrace"])
    # Lambda keeps the execution environment after a handled error.
    assert invoke(lam, "orders")[1]["pid"] == warm["pid"]


def test_a_timeout_kills_the_worker_and_the_next_invocation_gets_a_new_one(lam, region):
    create(lam, "slow", "app.pid", Timeout=1)
    _, warm = invoke(lam, "slow")
    started = time.monotonic()
    answer, body = invoke(lam, "slow", {"sleep": 30}, LogType="Tail")
    assert time.monotonic() - started < 4
    assert function_error(answer, body) == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    report = base64.b64decode(answer["LogResult"]).decode().rstrip("\n").split("\n")[-1]
    assert report.startswith("REPORT RequestId: ") and "Status: timeout" in report
    wait_for(lambda: warm["pid"] not in workers(region, "slow"), timeout=5)
    answer, body = invoke(lam, "slow")
    assert "FunctionError" not in answer and body["pid"] != warm["pid"]


def test_running_out_of_memory_ends_the_worker(lam, region):
    create(lam, "hog", "app.hog", MemorySize=128)
    answer, body = invoke(lam, "hog", {"mb": 16})
    assert (answer.get("FunctionError"), body) == (None, 16)
    answer, body = invoke(lam, "hog", {"mb": 300})
    assert function_error(answer, body) == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")
    answer, body = invoke(lam, "hog", {"mb": 16})
    assert (answer.get("FunctionError"), body) == (None, 16)
    assert len(workers(region, "hog")) == 1


def test_a_handler_that_exits_is_a_runtime_exit_error(lam, region):
    create(lam, "quits", "app.leave")
    for event, reason in (({"code": 3}, "Runtime exited with error: exit status 3"),
                          ({"code": 7, "hard": True}, "Runtime exited with error: exit status 7"),
                          ({"code": 0, "hard": True}, "Runtime exited without providing a reason")):
        answer, body = invoke(lam, "quits", event)
        assert function_error(answer, body) == "Runtime.ExitError"
        assert body["errorMessage"].endswith(f" Error: {reason}")
    wait_for(lambda: not workers(region, "quits"), timeout=5)


def test_initialization_does_not_count_against_the_timeout(lam):
    """Lambda gives init its own 10 s; Timeout starts when the handler is called."""
    create(lam, "heavy", "slow.handler", Timeout=1,
           Code={"ZipFile": package(slow=SLOW_INIT)})
    answer, remaining = invoke(lam, "heavy", LogType="Tail")
    assert "FunctionError" not in answer, remaining
    assert 800 < remaining <= 1000
    report = base64.b64decode(answer["LogResult"]).decode().rstrip("\n").split("\n")[-1]
    init_ms = float(report.split("Init Duration: ")[1].split(" ms")[0])
    assert init_ms >= 1500


def test_payloads_up_to_6_mb_pass_and_larger_responses_are_a_function_error(lam):
    create(lam, "large", "app.echo", MemorySize=512)
    six_mb = json.dumps("x" * (6 * 1024 * 1024 - 2)).encode()
    answer = lam.invoke(FunctionName="large", Payload=six_mb)
    assert "FunctionError" not in answer and answer["Payload"].read() == six_mb
    lam.update_function_configuration(FunctionName="large", Handler="app.big")
    answer, body = invoke(lam, "large", {"bytes": 7 * 1024 * 1024})
    assert function_error(answer, body) == "Function.ResponseSizeTooLarge"
    assert body["errorMessage"] == ("Response payload size exceeded maximum allowed payload "
                                    "size (6291556 bytes).")
    # Beyond what the HTTP server keeps in memory (16 MB), the same answer.
    answer, body = invoke(lam, "large", {"bytes": 20 * 1024 * 1024})
    assert function_error(answer, body) == "Function.ResponseSizeTooLarge"
    answer, body = invoke(lam, "large", {"bytes": 10})
    assert "FunctionError" not in answer and body == "x" * 10


def test_an_invocation_runs_to_its_end_when_the_caller_hangs_up(server, lam, logs, region):
    create(lam, "orders", "app.pid", Timeout=10)
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=1)
    _, warm = invoke(lam, "orders")
    impatient = lambda_client(server, region, read_timeout=0.5)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.invoke(FunctionName="orders", Payload=b'{"sleep": 1.5, "print": "finished"}')

    def finished():
        return "finished" in log_messages(logs, "orders")
    wait_for(finished, timeout=10)
    # The worker finished it and is warm again; its concurrency slot is free.
    time.sleep(0.2)
    _, again = invoke(lam, "orders")
    assert again["pid"] == warm["pid"]
    assert workers(region, "orders") == {warm["pid"]}


# --- logs ----------------------------------------------------------------------

def test_tail_and_cloudwatch_logs_show_the_invocation(lam, logs):
    create(lam, "chatty", "app.pid")
    answer, _ = invoke(lam, "chatty", {"print": "hello from the handler"}, LogType="Tail")
    request_id = answer["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(answer["LogResult"]).decode().rstrip("\n").split("\n")
    assert f"START RequestId: {request_id} Version: $LATEST" in tail
    assert "hello from the handler" in tail
    assert tail[-2] == f"END RequestId: {request_id}"
    assert tail[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in tail[-1]

    # A long output: the tail is its last 4 KB, and still ends with the REPORT line.
    answer, _ = invoke(lam, "chatty", {"print": "x" * 10_000 + "\nlast words"}, LogType="Tail")
    raw = base64.b64decode(answer["LogResult"])
    assert len(raw) <= 4096
    assert b"last words\nEND RequestId: " in raw and b"\nREPORT RequestId: " in raw
    second = answer["ResponseMetadata"]["RequestId"]

    def shipped():
        messages = log_messages(logs, "chatty")
        return messages if any(m.startswith(f"REPORT RequestId: {second}")
                               for m in messages) else None

    messages = wait_for(shipped, timeout=10)
    for line in (f"START RequestId: {request_id} Version: $LATEST", "hello from the handler",
                 f"END RequestId: {request_id}", "x" * 10_000, "last words"):
        assert line in messages
    assert messages.index(f"START RequestId: {request_id} Version: $LATEST") < \
        messages.index("hello from the handler") < messages.index(f"END RequestId: {request_id}")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/chatty")["logStreams"]
    assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]


# --- Event and DryRun ----------------------------------------------------------

def test_event_runs_later_and_dry_run_not_at_all(lam, logs, region, tmp_path):
    create(lam, "later", "app.touch")
    marker = tmp_path / "runs"
    answer, body = invoke(lam, "later", {"path": str(marker)}, InvocationType="DryRun")
    assert (answer["StatusCode"], body) == (204, None)
    assert "content-type" not in answer["ResponseMetadata"]["HTTPHeaders"]  # nothing to type
    answer, body = invoke(lam, "later", {"path": str(marker)}, InvocationType="Event")
    assert (answer["StatusCode"], body) == (202, None)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert "content-type" not in answer["ResponseMetadata"]["HTTPHeaders"]
    assert "ExecutedVersion" not in answer and "FunctionError" not in answer
    wait_for(marker.exists, timeout=10)
    time.sleep(0.5)
    assert marker.read_text() == "ran\n"  # once: the DryRun did not run it
    request_id = answer["ResponseMetadata"]["RequestId"]
    wait_for(lambda: f"END RequestId: {request_id}" in log_messages(logs, "later"), timeout=10)

    # DryRun checks the function exists and the caller may call it, and starts nothing.
    lam.create_function(FunctionName="idle", Runtime="python3.11", Role=ROLE,
                        Handler="app.echo", Code={"ZipFile": package()})
    assert invoke(lam, "idle", InvocationType="DryRun")[0]["StatusCode"] == 204
    with pytest.raises(ClientError) as info:
        invoke(lam, "nothing", InvocationType="DryRun")
    assert error_of(info)[0] == "ResourceNotFoundException"
    assert not workers(region, "idle")


def test_event_invoke_config_retries_and_destinations(own_server, region, tmp_path):
    own_server.env = {"NOZAMA_LAMBDA_RETRY_SECONDS": "0.5"}  # Lambda's 1 and 2 minutes
    own_server.start()
    lam = lambda_client(own_server, region)
    records = tmp_path / "records"
    create(lam, "sink", "app.sink", Environment={"Variables": {"SINK_PATH": str(records)}})
    create(lam, "flaky", "app.fail")
    create(lam, "steady", "app.touch")
    lam.put_function_event_invoke_config(
        FunctionName="flaky", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn(region, "sink")}})
    lam.put_function_event_invoke_config(
        FunctionName="steady", DestinationConfig={"OnSuccess": {"Destination": arn(region, "sink")}})

    def sent() -> list[dict]:
        return [json.loads(line) for line in records.read_text().splitlines()] \
            if records.exists() else []

    # A failing event runs once and retries once; then the failure record goes to the sink.
    runs = tmp_path / "flaky-runs"
    answer, _ = invoke(lam, "flaky", {"path": str(runs)}, InvocationType="Event")
    wait_for(lambda: len(sent()) == 1, timeout=30)
    [failure] = sent()
    assert runs.read_text() == "ran\n" * 2
    assert failure["version"] == "1.0" and failure["timestamp"].endswith("Z")
    assert failure["requestContext"] == {
        "requestId": answer["ResponseMetadata"]["RequestId"],
        "functionArn": arn(region, "flaky", "$LATEST"), "condition": "RetriesExhausted",
        "approximateInvokeCount": 2}
    assert failure["requestPayload"] == {"path": str(runs)}
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                          "functionError": "Unhandled"}
    assert failure["responsePayload"]["errorMessage"] == "always"

    # A success goes to OnSuccess, after one run.
    steady = tmp_path / "steady-runs"
    invoke(lam, "steady", {"path": str(steady)}, InvocationType="Event")
    wait_for(lambda: len(sent()) == 2, timeout=30)
    success = sent()[1]
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert success["responsePayload"] == "done" and steady.read_text() == "ran\n"

    # No retries at all: one run, no destination configured, nothing sent.
    lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=0)
    once = tmp_path / "once"
    invoke(lam, "flaky", {"path": str(once)}, InvocationType="Event")
    wait_for(once.exists, timeout=10)
    time.sleep(2)
    assert once.read_text() == "ran\n" and len(sent()) == 2
    own_server.stop()


def test_invoke_async_queues_an_event(lam, tmp_path):
    create(lam, "legacy", "app.touch")
    marker = tmp_path / "runs"
    answer = lam.invoke_async(FunctionName="legacy",
                              InvokeArgs=json.dumps({"path": str(marker)}).encode())
    assert answer["Status"] == 202 and answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    wait_for(marker.exists, timeout=10)
    assert marker.read_text() == "ran\n"
    with pytest.raises(ClientError) as info:
        lam.invoke_async(FunctionName="nothing", InvokeArgs=b"{}")
    assert error_of(info)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        lam.invoke_async(FunctionName="legacy", InvokeArgs=b"{not json")
    assert error_of(info)[0] == "InvalidRequestContentException"


@pytest.mark.store_matrix  # the event queue read back after kill -9: on both stores
def test_queued_events_survive_kill_9_and_run_after_restart(own_server, region, tmp_path):
    own_server.start()
    lam = lambda_client(own_server, region)
    create(lam, "later", "app.touch", Timeout=120)
    # One at a time: the second event waits in the queue while the first runs.
    lam.put_function_concurrency(FunctionName="later", ReservedConcurrentExecutions=1)
    started, queued = tmp_path / "started", tmp_path / "queued"
    for marker, event in ((started, {"hang_once": True}), (queued, {})):
        answer, _ = invoke(lam, "later", {"path": str(marker), **event}, InvocationType="Event")
        assert answer["StatusCode"] == 202
    # The first run hangs: the server dies while it runs, with the second still queued.
    wait_for(started.exists, timeout=10)
    [worker] = workers(region, "later")
    time.sleep(0.3)
    assert not queued.exists()
    own_server.kill()
    # Its worker dies with it (PR_SET_PDEATHSIG).
    wait_for(lambda: not workers(region), timeout=5)

    own_server.start()
    # At least once: the interrupted event runs again, and the queued one runs.
    wait_for(lambda: started.read_text() == "ran\nran\n", timeout=15)
    wait_for(lambda: queued.exists() and queued.read_text() == "ran\n", timeout=15)
    lambda_client(own_server, region).delete_function(FunctionName="later")
    wait_for(lambda: not workers(region), timeout=5)


def test_a_throttled_function_holds_its_events_without_holding_up_others(lam, tmp_path):
    create(lam, "stopped", "app.touch")
    create(lam, "other", "app.touch")
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    held, ran = tmp_path / "held", tmp_path / "ran"
    for _ in range(80):
        invoke(lam, "stopped", {"path": str(held)}, InvocationType="Event")
    invoke(lam, "other", {"path": str(ran)}, InvocationType="Event")
    wait_for(ran.exists, timeout=10)
    assert not held.exists()
    # Raising the limit lets the held events run, each once (two at a time, so that the
    # test does not start 64 workers at once).
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=2)
    wait_for(lambda: held.exists() and held.read_text() == "ran\n" * 80, timeout=20)


# --- bad input -----------------------------------------------------------------

def test_bad_invocations_are_refused_and_start_nothing(lam, logs, region):
    create(lam, "orders", "app.echo")
    lam.publish_version(FunctionName="orders")
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")

    def refused(**params) -> tuple[str, str]:
        params.setdefault("FunctionName", "orders")
        with pytest.raises(ClientError) as info:
            lam.invoke(**params)
        return error_of(info)

    code, message = refused(Payload=b"not json")
    assert code == "InvalidRequestContentException"
    assert message.startswith("Could not parse request body into json")
    assert refused(Payload=b'{"open": ')[0] == "InvalidRequestContentException"
    big = json.dumps("x" * (6 * 1024 * 1024)).encode()
    assert refused(Payload=big) == (
        "RequestTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    assert refused(Payload=big[:2 * 1024 * 1024] + b'"', InvocationType="Event")[0] == \
        "RequestTooLargeException"
    assert refused(FunctionName="nothing") == (
        "ResourceNotFoundException", f"Function not found: {arn(region, 'nothing')}")
    for qualifier in ("nope", "9"):
        assert refused(Qualifier=qualifier) == (
            "ResourceNotFoundException",
            f"Function not found: {arn(region, 'orders', qualifier)}")
    assert refused(FunctionName="orders:nope", InvocationType="Event")[0] == \
        "ResourceNotFoundException"
    assert refused(FunctionName="orders:1", Qualifier="live") == (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.")
    for context in ("not base64!", base64.b64encode(b"not json").decode()):
        assert refused(ClientContext=context) == (
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.")
    assert not workers(region)
    assert log_messages(logs, "orders") == []
    # The function itself is fine.
    assert invoke(lam, "orders:1", {"ok": True})[1] == {"ok": True}


# --- concurrency ---------------------------------------------------------------

def test_reserved_concurrency_zero_throttles_every_invocation(lam, cloudwatch, region):
    create(lam, "stopped", "app.echo")
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(ClientError) as info:
            lam.invoke(FunctionName="stopped", Payload=b"{}")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error_of(info) == ("TooManyRequestsException", "Rate Exceeded.")
        assert info.value.response["Reason"] == \
            "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert not workers(region, "stopped")
    wait_for(lambda: total(cloudwatch, "Throttles", {"FunctionName": "stopped"}) == 3)
    assert statistics(cloudwatch, "Invocations", {"FunctionName": "stopped"}) == []
    # Removing the reservation lets it run again.
    lam.delete_function_concurrency(FunctionName="stopped")
    assert invoke(lam, "stopped", {"ok": 1})[1] == {"ok": 1}


def test_reserved_concurrency_one_throttles_the_second_of_two(lam):
    create(lam, "single", "app.pid", Timeout=10)
    lam.put_function_concurrency(FunctionName="single", ReservedConcurrentExecutions=1)
    invoke(lam, "single")  # warm

    def attempt(_):
        try:
            return invoke(lam, "single", {"sleep": 1})[0]["StatusCode"]
        except ClientError as error:
            return error.response["Reason"]

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, range(2)), key=str)
    assert outcomes == [200, "ReservedFunctionConcurrentInvocationLimitExceeded"]
    assert invoke(lam, "single")[0]["StatusCode"] == 200  # the slot is free again


def test_concurrent_invocations_run_in_parallel_on_separate_workers(lam, region):
    create(lam, "busy", "app.pid", Timeout=10)

    def run_four() -> tuple[set[int], float]:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: invoke(lam, "busy", {"sleep": 0.5})[1], range(4)))
        return {a["pid"] for a in answers}, time.monotonic() - started

    cold, _ = run_four()
    assert len(cold) == 4
    warm, elapsed = run_four()
    assert warm == cold           # the warm workers were reused
    assert elapsed < 1.5          # not 4 x 0.5 s one after the other
    assert workers(region, "busy") == cold


# --- weighted aliases ----------------------------------------------------------

def test_alias_weights_split_invocations(lam):
    create(lam, "canary", "app.echo")
    lam.publish_version(FunctionName="canary")
    lam.update_function_configuration(FunctionName="canary", Description="the canary")
    assert lam.publish_version(FunctionName="canary")["Version"] == "2"
    lam.create_alias(FunctionName="canary", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    executed = [lam.invoke(FunctionName="canary", Qualifier="live")["ExecutedVersion"]
                for _ in range(1000)]
    assert set(executed) == {"1", "2"}
    assert 290 <= executed.count("2") <= 310
    lam.update_alias(FunctionName="canary", Name="live", FunctionVersion="2",
                     RoutingConfig={"AdditionalVersionWeights": {}})
    assert {lam.invoke(FunctionName="canary:live")["ExecutedVersion"]
            for _ in range(20)} == {"2"}


# --- metrics and alarms --------------------------------------------------------

def test_metrics_and_an_alarm_on_an_alias(lam, cloudwatch):
    create(lam, "metered", "app.pid")
    lam.publish_version(FunctionName="metered")
    lam.create_alias(FunctionName="metered", Name="live", FunctionVersion="1")
    cloudwatch.put_metric_alarm(
        AlarmName="live-errors", Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "metered"},
                    {"Name": "Resource", "Value": "metered:live"}],
        Statistic="Sum", Period=10, EvaluationPeriods=1, Threshold=0,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    for n in range(10):
        invoke(lam, "metered:live", {"fail": n + 1} if n < 3 else {"sleep": 0.01})
    invoke(lam, "metered")

    function = {"FunctionName": "metered"}
    alias = {**function, "Resource": "metered:live"}
    executed = {**alias, "ExecutedVersion": "1"}
    wait_for(lambda: total(cloudwatch, "Invocations", function) == 11)
    wait_for(lambda: total(cloudwatch, "Invocations", alias) == 10)
    wait_for(lambda: total(cloudwatch, "Invocations", executed) == 10)
    assert total(cloudwatch, "Errors", function) == 3
    assert total(cloudwatch, "Errors", alias) == 3
    assert total(cloudwatch, "Errors", executed) == 3
    [duration] = statistics(cloudwatch, "Duration", alias, ExtendedStatistics=["p50", "p99"])
    assert duration["Unit"] == "Milliseconds"
    assert 0 < duration["ExtendedStatistics"]["p50"] <= duration["ExtendedStatistics"]["p99"]
    [duration] = statistics(cloudwatch, "Duration", function, Statistics=["Maximum"])
    assert 10 <= duration["Maximum"] < 1000
    concurrency = cloudwatch.list_metrics(Namespace="AWS/Lambda",
                                          MetricName="ConcurrentExecutions")["Metrics"]
    dimension_sets = [m["Dimensions"] for m in concurrency]
    assert [{"Name": "FunctionName", "Value": "metered"}] in dimension_sets
    assert [] in dimension_sets  # the account's, all functions together
    [peak] = statistics(cloudwatch, "ConcurrentExecutions", function, Statistics=["Maximum"])
    assert peak["Maximum"] == 1

    def state():
        return cloudwatch.describe_alarms(AlarmNames=["live-errors"])["MetricAlarms"][0][
            "StateValue"]
    wait_for(lambda: state() == "ALARM", timeout=15)


# --- no process left behind ----------------------------------------------------

def test_configuration_and_code_updates_retire_latests_warm_workers(lam, region):
    create(lam, "orders", "app.pid", Environment={"Variables": {"STAGE": "one"}})
    lam.publish_version(FunctionName="orders")
    _, first = invoke(lam, "orders")
    _, version = invoke(lam, "orders:1")
    assert invoke(lam, "orders")[1]["pid"] == first["pid"]  # warm
    lam.update_function_configuration(FunctionName="orders",
                                      Environment={"Variables": {"STAGE": "two"}})
    answer, second = invoke(lam, "orders", LogType="Tail")
    assert second["stage"] == "two" and second["pid"] != first["pid"]
    assert "Init Duration: " in base64.b64decode(answer["LogResult"]).decode()  # a cold start
    wait_for(lambda: first["pid"] not in workers(region, "orders"), timeout=5)

    lam.update_function_code(FunctionName="orders", ZipFile=package(APP + "\n# changed\n"))
    _, third = invoke(lam, "orders")
    assert third["stage"] == "two" and third["pid"] not in (first["pid"], second["pid"])
    wait_for(lambda: second["pid"] not in workers(region, "orders"), timeout=5)
    # A published version never changes: its warm worker stays.
    assert invoke(lam, "orders:1")[1] == version
    assert workers(region, "orders") == {third["pid"], version["pid"]}


def test_deleting_a_function_stops_its_workers(lam, region, tmp_path):
    create(lam, "doomed", "app.touch", Timeout=30)
    create(lam, "kept", "app.touch")
    lam.publish_version(FunctionName="doomed")
    invoke(lam, "doomed:1", {"path": str(tmp_path / "runs")})
    invoke(lam, "kept", {"path": str(tmp_path / "runs")})
    [idle] = workers(region, "doomed")
    started = tmp_path / "started"
    with ThreadPoolExecutor(1) as pool:
        # As in Lambda, an invocation in flight finishes; the idle workers stop at once.
        busy = pool.submit(invoke, lam, "doomed", {"path": str(started), "sleep": 1.5})
        wait_for(started.exists, timeout=10)
        [running] = workers(region, "doomed") - {idle}
        lam.delete_function(FunctionName="doomed")
        wait_for(lambda: workers(region, "doomed") == {running}, timeout=5)
        answer, body = busy.result(timeout=10)
    assert "FunctionError" not in answer and body == "done"
    wait_for(lambda: not workers(region, "doomed"), timeout=5)
    assert len(workers(region, "kept")) == 1


def test_deleting_a_version_stops_its_workers(lam, region):
    create(lam, "orders", "app.pid")
    lam.publish_version(FunctionName="orders")
    _, latest = invoke(lam, "orders")
    _, version = invoke(lam, "orders:1")
    lam.delete_function(FunctionName="orders", Qualifier="1")
    wait_for(lambda: workers(region, "orders") == {latest["pid"]}, timeout=5)
    assert invoke(lam, "orders")[1]["pid"] == latest["pid"]  # $LATEST stays warm


def test_no_worker_outlives_a_stopped_server(own_server, region):
    own_server.start()
    lam = lambda_client(own_server, region)
    create(lam, "orders", "app.pid", Timeout=60)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(invoke, lam, "orders", {"sleep": 30})
        wait_for(lambda: len(workers(region, "orders")) == 1, timeout=5)
        invoke(lam, "orders")  # a second worker, idle while the first is busy
        assert len(workers(region, "orders")) == 2
        assert own_server.stop() == 0
    wait_for(lambda: not workers(region), timeout=5)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_what_a_handler_leaves_running_ends_with_its_worker(lam, region):
    create(lam, "spawner", "app.spawn")
    _, started = invoke(lam, "spawner")
    assert workers(region, "spawner") == {started["worker"], started["child"]}
    # The worker exits mid-invocation: the process its handler started goes with it.
    answer, body = invoke(lam, "spawner", {"exit": True})
    assert function_error(answer, body) == "Runtime.ExitError"
    wait_for(lambda: not workers(region, "spawner"), timeout=5)
    # Deleting the function stops its worker and what that worker's handler started.
    _, started = invoke(lam, "spawner")
    assert workers(region, "spawner") == {started["worker"], started["child"]}
    lam.delete_function(FunctionName="spawner")
    wait_for(lambda: not workers(region, "spawner"), timeout=5)


def test_what_a_killed_server_left_running_ends_when_it_restarts(own_server, region):
    own_server.start()
    create(lambda_client(own_server, region), "spawner", "app.spawn")
    _, started = invoke(lambda_client(own_server, region), "spawner")
    own_server.kill()
    # The worker dies with the server; what its handler started is orphaned, until...
    wait_for(lambda: not alive(started["worker"]), timeout=5)
    assert alive(started["child"])
    own_server.start()  # ...the next server on the same data kills it as it starts.
    wait_for(lambda: not alive(started["child"]), timeout=5)
    assert not workers(region)


def test_idle_workers_are_stopped(own_server, region, monkeypatch):
    monkeypatch.setenv("NOZAMA_LAMBDA_IDLE_SECONDS", "1")
    own_server.start()
    lam = lambda_client(own_server, region)
    create(lam, "orders", "app.pid")
    _, first = invoke(lam, "orders")
    wait_for(lambda: not workers(region), timeout=5)
    answer, second = invoke(lam, "orders", LogType="Tail")
    assert second["pid"] != first["pid"]
    assert "Init Duration: " in base64.b64decode(answer["LogResult"]).decode()  # a cold start
