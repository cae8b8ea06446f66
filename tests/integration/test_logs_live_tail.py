"""StartLiveTail through boto3: the event stream of a session (sessionStart, then
sessionUpdates with the events put meanwhile), its filters, its errors, its end.

boto3 reads the stream with its own event stream parser, so these tests check the
framing as well as the contents. Every read has a timeout: a broken stream fails the
test instead of hanging it. Clients disable the `stream-` host prefix, as any client
of a local endpoint must (the name stream-127.0.0.1 does not resolve).
"""

from __future__ import annotations

import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from support.errors import error_code
from support.servers import NozamaServer, store_args

ACCOUNT = "000000000000"


def tail_client(server, region):
    return boto3.client(
        "logs", endpoint_url=server.endpoint, region_name=region,
        aws_access_key_id=server.credentials[0],
        aws_secret_access_key=server.credentials[1],
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=10,
                                      inject_host_prefix=False))


@pytest.fixture
def logs(server, region):
    return server.client("logs", region)


def group_arn(region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"


def make_streams(logs, group: str, *streams: str) -> None:
    logs.create_log_group(logGroupName=group)
    for stream in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs, group: str, stream: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now, "message": m} for m in messages])


def collect(stream, want: int, seconds: float = 15) -> tuple[dict, list[dict], list[dict]]:
    """(sessionStart, the updates read, their events) until `want` events or `seconds`."""
    start, updates, events = None, [], []
    deadline = time.monotonic() + seconds
    for event in stream:
        if "sessionStart" in event:
            start = event["sessionStart"]
        else:
            updates.append(event["sessionUpdate"])
            events.extend(event["sessionUpdate"]["sessionResults"])
        if len(events) >= want or time.monotonic() > deadline:
            break
    return start, updates, events


def test_a_session_streams_the_events_put_after_it_started(server, logs, region):
    make_streams(logs, "/tail/app", "web")
    put(logs, "/tail/app", "web", "before the session")
    arn = group_arn(region, "/tail/app")
    response = tail_client(server, region).start_live_tail(logGroupIdentifiers=[arn])
    stream = response["responseStream"]
    try:
        first = next(iter(stream))
        assert first["sessionStart"]["logGroupIdentifiers"] == [arn]
        assert first["sessionStart"]["sessionId"]
        put(logs, "/tail/app", "web", "hello", "world")  # from another client
        _, updates, events = collect(stream, want=2)
    finally:
        stream.close()
    assert [e["message"] for e in events] == ["hello", "world"]
    assert all(e["logStreamName"] == "web" and e["logGroupIdentifier"] == arn
               and e["timestamp"] and e["ingestionTime"] for e in events)
    assert updates[-1]["sessionMetadata"] == {"sampled": False}


def test_an_update_comes_every_second_even_when_nothing_was_put(server, logs, region):
    make_streams(logs, "/tail/quiet", "s")
    stream = tail_client(server, region).start_live_tail(
        logGroupIdentifiers=[group_arn(region, "/tail/quiet")])["responseStream"]
    began = time.monotonic()
    try:
        start, updates, events = collect(stream, want=1, seconds=2.5)
    finally:
        stream.close()
    assert start is not None and events == []
    assert len(updates) >= 2 and time.monotonic() - began < 6
    assert updates[0]["sessionResults"] == []


def test_streams_and_filter_pattern_choose_the_events(server, logs, region):
    make_streams(logs, "/tail/filters", "web-1", "web-2", "worker")
    make_streams(logs, "/tail/other", "web-1")
    arn = group_arn(region, "/tail/filters")
    client = tail_client(server, region)
    by_prefix = client.start_live_tail(logGroupIdentifiers=[arn],
                                       logStreamNamePrefixes=["web-"],
                                       logEventFilterPattern="ERROR")["responseStream"]
    by_name = client.start_live_tail(logGroupIdentifiers=[arn],
                                     logStreamNames=["worker"])["responseStream"]
    try:
        next(iter(by_prefix)), next(iter(by_name))
        put(logs, "/tail/filters", "web-1", "ERROR one", "fine")
        put(logs, "/tail/filters", "worker", "ERROR worker")
        put(logs, "/tail/filters", "web-2", "ERROR two")
        put(logs, "/tail/other", "web-1", "ERROR elsewhere")
        _, _, prefixed = collect(by_prefix, want=2)
        _, _, named = collect(by_name, want=1)
    finally:
        by_prefix.close()
        by_name.close()
    assert sorted((e["logStreamName"], e["message"]) for e in prefixed) == [
        ("web-1", "ERROR one"), ("web-2", "ERROR two")]
    assert [e["message"] for e in named] == ["ERROR worker"]


def test_two_groups_in_one_session(server, logs, region):
    make_streams(logs, "/tail/a", "s")
    make_streams(logs, "/tail/b", "s")
    arns = [group_arn(region, "/tail/a"), group_arn(region, "/tail/b")]
    stream = tail_client(server, region).start_live_tail(
        logGroupIdentifiers=arns)["responseStream"]
    try:
        next(iter(stream))
        put(logs, "/tail/a", "s", "from a")
        put(logs, "/tail/b", "s", "from b")
        _, _, events = collect(stream, want=2)
    finally:
        stream.close()
    assert sorted((e["logGroupIdentifier"], e["message"]) for e in events) == [
        (arns[0], "from a"), (arns[1], "from b")]


def test_unknown_groups_too_many_groups_and_bad_filters_are_refused(server, logs, region):
    client = tail_client(server, region)
    make_streams(logs, "/tail/known", "s")
    known = group_arn(region, "/tail/known")
    cases = [
        ({"logGroupIdentifiers": [group_arn(region, "/tail/missing")]},
         "ResourceNotFoundException"),
        ({"logGroupIdentifiers": [known] * 11}, "InvalidParameterException"),
        ({"logGroupIdentifiers": ["/tail/known"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [known + ":*"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [known], "logStreamNames": ["s"],
          "logStreamNamePrefixes": ["s"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [known, known], "logStreamNames": ["s"]},
         "InvalidParameterException"),
        ({"logGroupIdentifiers": [known], "logEventFilterPattern": "{ $.a = "},
         "InvalidParameterException"),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as info:
            client.start_live_tail(**params)
        assert error_code(info) == code, params


def test_a_session_ends_with_session_timeout_at_its_bound(backend, tmp_path, region):
    server = NozamaServer(store_args(backend, tmp_path), tmp_path / "server.log",
                          env={"NOZAMA_LIVE_TAIL_SECONDS": "2"}).start()
    try:
        server.client("logs", region).create_log_group(logGroupName="/tail/short")
        stream = tail_client(server, region).start_live_tail(
            logGroupIdentifiers=[group_arn(region, "/tail/short")])["responseStream"]
        began = time.monotonic()
        with pytest.raises(ClientError) as info:
            for _ in stream:
                assert time.monotonic() - began < 10
        assert error_code(info) == "SessionTimeoutException"
    finally:
        server.stop()


def test_over_500_events_in_a_second_are_sampled_down_to_500(server, logs, region):
    make_streams(logs, "/tail/busy", "s")
    stream = tail_client(server, region).start_live_tail(
        logGroupIdentifiers=[group_arn(region, "/tail/busy")])["responseStream"]
    try:
        next(iter(stream))
        put(logs, "/tail/busy", "s", *[f"event {i}" for i in range(600)])
        _, updates, events = collect(stream, want=1)
    finally:
        stream.close()
    [busy] = [u for u in updates if u["sessionResults"]]
    assert len(busy["sessionResults"]) == 500
    assert busy["sessionMetadata"] == {"sampled": True}
    assert busy["sessionResults"][0]["message"] == "event 0"
