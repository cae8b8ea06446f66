"""CloudWatch Logs through boto3 (and the AWS CLI): log groups, retention, log streams,
PutLogEvents, GetLogEvents paging, FilterLogEvents patterns, tags, region isolation.

Expectations follow the CloudWatch Logs API reference, not Nozama's implementation.
The server keeps real time, so events are stamped relative to now.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


# --- helpers -------------------------------------------------------------------

@pytest.fixture
def logs(server, region):
    return server.client("logs", region)


def now_ms() -> int:
    return int(time.time() * 1000)


def group_arn(region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"


def make_stream(logs, group: str = "/app/web", stream: str = "main") -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs, messages: list[str], start: int, step: int = 1, group: str = "/app/web",
        stream: str = "main") -> dict:
    events = [{"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def describe_group(logs, name: str) -> dict:
    [group] = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
               if g["logGroupName"] == name]
    return group


def messages(events: list[dict]) -> list[str]:
    return [e["message"] for e in events]


def filtered(logs, pattern: str, group: str = "/app/web", **params) -> list[str]:
    found = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern=pattern, **params):
        found += messages(page["events"])
    return found


# --- log groups ----------------------------------------------------------------

def test_create_log_group_is_described_with_aws_fields(logs, region):
    before = now_ms()
    logs.create_log_group(logGroupName="/app/orders")
    group = describe_group(logs, "/app/orders")
    assert group["arn"] == group_arn(region, "/app/orders") + ":*"
    assert group["logGroupArn"] == group_arn(region, "/app/orders")
    assert before - 1000 <= group["creationTime"] <= now_ms() + 1000
    assert group["storedBytes"] == 0
    assert group["metricFilterCount"] == 0
    assert group["logGroupClass"] == "STANDARD"
    assert "retentionInDays" not in group


def test_create_log_group_twice_fails(logs):
    logs.create_log_group(logGroupName="twice")
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName="twice")
    assert error_code(info) == "ResourceAlreadyExistsException"


@pytest.mark.parametrize("name", ["has:colon", "has space", "star*", "x" * 513, "aws/reserved"])
def test_invalid_log_group_names_are_refused(logs, name):
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=name)
    assert error_code(info) == "InvalidParameterException"
    assert logs.describe_log_groups()["logGroups"] == []


def test_log_group_names_may_use_every_allowed_character(logs):
    name = "/Aa0.-_#/x" + "y" * 502
    logs.create_log_group(logGroupName=name)
    assert describe_group(logs, name)["logGroupName"] == name


def test_describe_log_groups_by_prefix_and_pattern(logs):
    for name in ["/app/a", "/app/b", "/db/DataLogs", "/db/datalogs", "GroupDataLogs"]:
        logs.create_log_group(logGroupName=name)
    listed = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in listed] == [
        "/app/a", "/app/b", "/db/DataLogs", "/db/datalogs", "GroupDataLogs"]
    by_prefix = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in by_prefix] == ["/app/a", "/app/b"]
    assert logs.describe_log_groups(logGroupNamePrefix="/APP")["logGroups"] == []
    by_pattern = logs.describe_log_groups(logGroupNamePattern="DataLogs")["logGroups"]
    assert [g["logGroupName"] for g in by_pattern] == ["/db/DataLogs", "GroupDataLogs"]
    # A pattern search answers with the name, ARN and creation time only.
    assert set(by_pattern[0]) == {"logGroupName", "arn", "creationTime"}
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(logGroupNamePrefix="/app", logGroupNamePattern="a")
    assert error_code(info) == "InvalidParameterException"


def test_describe_log_groups_pages_with_limit(logs):
    names = [f"/page/{i:02d}" for i in range(7)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    first = logs.describe_log_groups(limit=3)
    assert [g["logGroupName"] for g in first["logGroups"]] == names[:3]
    seen, token = [], None
    while True:
        page = logs.describe_log_groups(limit=3, **({"nextToken": token} if token else {}))
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names
    paginated = [g["logGroupName"] for page in logs.get_paginator("describe_log_groups")
                 .paginate(PaginationConfig={"PageSize": 2}) for g in page["logGroups"]]
    assert paginated == names
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(nextToken="garbage")
    assert error_code(info) == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(limit=51)
    assert error_code(info) == "InvalidParameterException"


def test_delete_log_group_deletes_its_streams_and_events(logs):
    make_stream(logs)
    put(logs, ["one", "two"], now_ms() - MINUTE)
    logs.delete_log_group(logGroupName="/app/web")
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as info:
        logs.describe_log_streams(logGroupName="/app/web")
    assert error_code(info) == "ResourceNotFoundException"
    # The same name again starts empty.
    make_stream(logs)
    assert logs.get_log_events(logGroupName="/app/web", logStreamName="main")["events"] == []
    assert describe_group(logs, "/app/web")["storedBytes"] == 0


def test_delete_unknown_log_group_fails(logs):
    with pytest.raises(ClientError) as info:
        logs.delete_log_group(logGroupName="nope")
    assert error_code(info) == "ResourceNotFoundException"


def test_deletion_protection_blocks_delete_until_disabled(logs):
    logs.create_log_group(logGroupName="kept", deletionProtectionEnabled=True)
    assert describe_group(logs, "kept")["deletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as info:
        logs.delete_log_group(logGroupName="kept")
    assert error_code(info) == "ValidationException"
    logs.put_log_group_deletion_protection(logGroupIdentifier="kept",
                                           deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName="kept")
    assert logs.describe_log_groups()["logGroups"] == []


# --- retention -----------------------------------------------------------------

def test_retention_policy_is_set_and_deleted(logs):
    logs.create_log_group(logGroupName="kept")
    for days in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                 2192, 2557, 2922, 3288, 3653):
        logs.put_retention_policy(logGroupName="kept", retentionInDays=days)
        assert describe_group(logs, "kept")["retentionInDays"] == days
    logs.delete_retention_policy(logGroupName="kept")
    assert "retentionInDays" not in describe_group(logs, "kept")


@pytest.mark.parametrize("days", [0, 2, 4, 8, 366, 3654, -1])
def test_retention_values_outside_the_list_are_refused(logs, days):
    logs.create_log_group(logGroupName="kept")
    with pytest.raises(ClientError) as info:
        logs.put_retention_policy(logGroupName="kept", retentionInDays=days)
    assert error_code(info) == "InvalidParameterException"
    assert "retentionInDays" not in describe_group(logs, "kept")


def test_retention_on_unknown_group_fails(logs):
    for call in (lambda: logs.put_retention_policy(logGroupName="nope", retentionInDays=1),
                 lambda: logs.delete_retention_policy(logGroupName="nope")):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info) == "ResourceNotFoundException"


def test_retention_purges_older_events(logs):
    make_stream(logs)
    now = now_ms()
    put(logs, ["ten days old", "nine days old"], now - 10 * DAY, step=DAY)
    put(logs, ["fresh 1", "fresh 2"], now - HOUR)
    full = describe_group(logs, "/app/web")["storedBytes"]
    assert full == len("ten days old" "nine days old" "fresh 1" "fresh 2")
    logs.put_retention_policy(logGroupName="/app/web", retentionInDays=7)
    got = logs.get_log_events(logGroupName="/app/web", logStreamName="main", startFromHead=True)
    assert messages(got["events"]) == ["fresh 1", "fresh 2"]
    assert filtered(logs, "") == ["fresh 1", "fresh 2"]
    assert describe_group(logs, "/app/web")["storedBytes"] == len("fresh 1" "fresh 2")
    [stream] = logs.describe_log_streams(logGroupName="/app/web")["logStreams"]
    assert stream["firstEventTimestamp"] == now - HOUR
    # Removing the policy doesn't bring purged events back.
    logs.delete_retention_policy(logGroupName="/app/web")
    assert filtered(logs, "") == ["fresh 1", "fresh 2"]


def test_events_older_than_retention_are_rejected_as_expired(logs):
    make_stream(logs)
    logs.put_retention_policy(logGroupName="/app/web", retentionInDays=1)
    now = now_ms()
    result = put(logs, ["3 days", "2 days", "now"], now - 3 * DAY, step=DAY + HOUR)
    assert result["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert filtered(logs, "") == ["now"]


# --- log streams ---------------------------------------------------------------

def test_create_log_stream_errors(logs):
    with pytest.raises(ClientError) as info:
        logs.create_log_stream(logGroupName="nope", logStreamName="s")
    assert error_code(info) == "ResourceNotFoundException"
    make_stream(logs, stream="s")
    with pytest.raises(ClientError) as info:
        logs.create_log_stream(logGroupName="/app/web", logStreamName="s")
    assert error_code(info) == "ResourceAlreadyExistsException"
    for bad in ("has:colon", "star*"):
        with pytest.raises(ClientError) as info:
            logs.create_log_stream(logGroupName="/app/web", logStreamName=bad)
        assert error_code(info) == "InvalidParameterException"


def test_describe_log_streams_fields(logs, region):
    make_stream(logs, stream="2024/01/01/[$LATEST]abc")
    [fresh] = logs.describe_log_streams(logGroupName="/app/web")["logStreams"]
    assert fresh["logStreamName"] == "2024/01/01/[$LATEST]abc"
    assert fresh["arn"] == group_arn(region, "/app/web") + ":log-stream:2024/01/01/[$LATEST]abc"
    assert fresh["storedBytes"] == 0
    assert "firstEventTimestamp" not in fresh and "lastEventTimestamp" not in fresh
    now = now_ms()
    put(logs, ["a", "b", "c"], now - 3 * MINUTE, step=MINUTE,
        stream="2024/01/01/[$LATEST]abc")
    [stream] = logs.describe_log_streams(logGroupName="/app/web")["logStreams"]
    assert stream["firstEventTimestamp"] == now - 3 * MINUTE
    assert stream["lastEventTimestamp"] == now - MINUTE
    assert now - 1000 <= stream["lastIngestionTime"] <= now_ms() + 1000
    assert stream["uploadSequenceToken"]
    assert stream["creationTime"] == fresh["creationTime"]


def test_describe_log_streams_orders_filters_and_pages(logs):
    logs.create_log_group(logGroupName="/app/web")
    now = now_ms()
    # Names in one order, last event times in another.
    for i, name in enumerate(["c", "a", "d", "b", "e"]):
        logs.create_log_stream(logGroupName="/app/web", logStreamName=name)
        put(logs, [f"from {name}"], now - (10 - i) * MINUTE, stream=name)
    logs.create_log_stream(logGroupName="/app/web", logStreamName="ab")

    def names(**params) -> list[str]:
        return [s["logStreamName"] for page in logs.get_paginator("describe_log_streams")
                .paginate(logGroupName="/app/web", PaginationConfig={"PageSize": 2}, **params)
                for s in page["logStreams"]]

    assert names() == ["a", "ab", "b", "c", "d", "e"]
    assert names(descending=True) == ["e", "d", "c", "b", "ab", "a"]
    assert names(logStreamNamePrefix="a") == ["a", "ab"]
    assert names(orderBy="LastEventTime") == ["ab", "c", "a", "d", "b", "e"]
    assert names(orderBy="LastEventTime", descending=True) == ["e", "b", "d", "a", "c", "ab"]
    with pytest.raises(ClientError) as info:
        logs.describe_log_streams(logGroupName="/app/web", orderBy="LastEventTime",
                                  logStreamNamePrefix="a")
    assert error_code(info) == "InvalidParameterException"
    by_arn = logs.describe_log_streams(logGroupIdentifier=group_arn(logs.meta.region_name,
                                                                    "/app/web"))
    assert len(by_arn["logStreams"]) == 6


def test_delete_log_stream(logs):
    make_stream(logs, stream="gone")
    put(logs, ["bye"], now_ms(), stream="gone")
    logs.delete_log_stream(logGroupName="/app/web", logStreamName="gone")
    assert logs.describe_log_streams(logGroupName="/app/web")["logStreams"] == []
    assert filtered(logs, "") == []
    with pytest.raises(ClientError) as info:
        logs.delete_log_stream(logGroupName="/app/web", logStreamName="gone")
    assert error_code(info) == "ResourceNotFoundException"


# --- PutLogEvents --------------------------------------------------------------

def test_put_log_events_to_unknown_group_or_stream_fails(logs):
    event = [{"timestamp": now_ms(), "message": "x"}]
    with pytest.raises(ClientError) as info:
        logs.put_log_events(logGroupName="nope", logStreamName="s", logEvents=event)
    assert error_code(info) == "ResourceNotFoundException"
    logs.create_log_group(logGroupName="/app/web")
    with pytest.raises(ClientError) as info:
        logs.put_log_events(logGroupName="/app/web", logStreamName="s", logEvents=event)
    assert error_code(info) == "ResourceNotFoundException"


def test_sequence_tokens_are_returned_and_ignored(logs):
    make_stream(logs)
    first = put(logs, ["one"], now_ms())
    second = logs.put_log_events(logGroupName="/app/web", logStreamName="main",
                                 sequenceToken="49999999999999999999999999999999",
                                 logEvents=[{"timestamp": now_ms(), "message": "two"}])
    third = logs.put_log_events(logGroupName="/app/web", logStreamName="main",
                                sequenceToken=first["nextSequenceToken"],
                                logEvents=[{"timestamp": now_ms(), "message": "three"}])
    tokens = [first["nextSequenceToken"], second["nextSequenceToken"], third["nextSequenceToken"]]
    assert len(set(tokens)) == 3
    assert "rejectedLogEventsInfo" not in first
    assert filtered(logs, "") == ["one", "two", "three"]


def test_batch_rules_fail_the_whole_call(logs):
    make_stream(logs)
    now = now_ms()
    cases = [
        [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
        [{"timestamp": now - 25 * HOUR, "message": "a"}, {"timestamp": now, "message": "b"}],
        [{"timestamp": now, "message": "x" * 524_288},
         {"timestamp": now, "message": "y" * 524_288}],
    ]
    for events in cases:
        with pytest.raises(ClientError) as info:
            logs.put_log_events(logGroupName="/app/web", logStreamName="main", logEvents=events)
        assert error_code(info) == "InvalidParameterException"
    assert filtered(logs, "") == []


def test_batch_at_the_size_limit_is_accepted(logs):
    make_stream(logs)
    # 1,048,576 bytes exactly: each event counts its UTF-8 message plus 26 bytes.
    message = "é" * 100_000
    padding = 1_048_576 - 2 * (len(message.encode()) + 26) - 26
    put(logs, [message, message, "p" * padding], now_ms() - MINUTE)
    assert describe_group(logs, "/app/web")["storedBytes"] == 2 * len(message.encode()) + padding


def test_too_old_and_too_new_events_are_rejected_by_index(logs):
    make_stream(logs)
    now = now_ms()
    events = [{"timestamp": now - 15 * DAY, "message": "ancient"},
              {"timestamp": now - 15 * DAY + 1, "message": "ancient too"},
              {"timestamp": now - MINUTE, "message": "ok 1"},
              {"timestamp": now, "message": "ok 2"},
              {"timestamp": now + 3 * HOUR, "message": "future"}]
    result = logs.put_log_events(logGroupName="/app/web", logStreamName="main", logEvents=events)
    assert result["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1,
                                               "tooNewLogEventStartIndex": 4}
    assert result["nextSequenceToken"]
    assert filtered(logs, "") == ["ok 1", "ok 2"]


def test_ten_thousand_events_in_one_call(logs):
    make_stream(logs)
    start = now_ms() - HOUR
    put(logs, [f"event {i:05d}" for i in range(10_000)], start)
    got = logs.get_log_events(logGroupName="/app/web", logStreamName="main", startFromHead=True)
    assert messages(got["events"]) == [f"event {i:05d}" for i in range(10_000)]
    with pytest.raises(ClientError) as info:
        put(logs, ["x"] * 10_001, start)
    assert error_code(info) == "InvalidParameterException"


# --- GetLogEvents --------------------------------------------------------------

def test_get_log_events_fields_and_default_direction(logs):
    make_stream(logs)
    start = now_ms() - HOUR
    put(logs, [f"m{i}" for i in range(10)], start, step=1000)
    latest = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=3)
    # Without a token the newest events come back (in chronological order).
    assert messages(latest["events"]) == ["m7", "m8", "m9"]
    event = latest["events"][0]
    assert event["timestamp"] == start + 7000
    assert abs(event["ingestionTime"] - now_ms()) < 60_000
    assert latest["nextForwardToken"].startswith("f/")
    assert latest["nextBackwardToken"].startswith("b/")
    head = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=3,
                               startFromHead=True)
    assert messages(head["events"]) == ["m0", "m1", "m2"]


def test_get_log_events_time_range(logs):
    make_stream(logs)
    start = now_ms() - HOUR
    put(logs, [f"m{i}" for i in range(10)], start, step=1000)
    got = logs.get_log_events(logGroupName="/app/web", logStreamName="main", startFromHead=True,
                              startTime=start + 2000, endTime=start + 5000)
    # startTime is inclusive, endTime exclusive.
    assert messages(got["events"]) == ["m2", "m3", "m4"]


def page_through(logs, token: str, **params) -> tuple[list[list[str]], int]:
    """Follow a direction's token until it comes back unchanged; the pages and calls."""
    pages, calls = [], 0
    direction = "nextForwardToken" if token.startswith("f/") else "nextBackwardToken"
    while calls < 100:
        calls += 1
        page = logs.get_log_events(logGroupName="/app/web", logStreamName="main",
                                   nextToken=token, **params)
        if page[direction] == token:
            assert page["events"] == []
            return pages, calls
        pages.append(messages(page["events"]))
        token = page[direction]
    raise AssertionError("the token never repeated")


def test_get_log_events_pages_forward_until_the_token_repeats(logs):
    make_stream(logs)
    all_messages = [f"m{i:03d}" for i in range(250)]
    put(logs, all_messages, now_ms() - HOUR)
    first = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=100,
                                startFromHead=True)
    assert messages(first["events"]) == all_messages[:100]
    pages, _ = page_through(logs, first["nextForwardToken"], limit=100)
    assert pages == [all_messages[100:200], all_messages[200:]]
    # New events show up on the token that had repeated.
    end = logs.get_log_events(logGroupName="/app/web", logStreamName="main",
                              nextToken=first["nextForwardToken"], limit=1000)
    put(logs, ["late"], now_ms())
    later = logs.get_log_events(logGroupName="/app/web", logStreamName="main",
                                nextToken=end["nextForwardToken"])
    assert messages(later["events"]) == ["late"]


def test_get_log_events_pages_backward_until_the_token_repeats(logs):
    make_stream(logs)
    all_messages = [f"m{i:03d}" for i in range(250)]
    put(logs, all_messages, now_ms() - HOUR)
    last = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=100)
    assert messages(last["events"]) == all_messages[150:]
    pages, _ = page_through(logs, last["nextBackwardToken"], limit=100)
    assert pages == [all_messages[50:150], all_messages[:50]]
    # And forward again from the oldest page's forward token.
    back = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=100,
                               nextToken=last["nextBackwardToken"])
    oldest = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=100,
                                 nextToken=back["nextBackwardToken"])
    assert messages(oldest["events"]) == all_messages[:50]
    forward = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=50,
                                  nextToken=oldest["nextForwardToken"])
    assert messages(forward["events"]) == all_messages[50:100]


def test_get_log_events_equal_timestamps_page_without_loss(logs):
    make_stream(logs)
    ts = now_ms() - MINUTE
    put(logs, [f"same {i}" for i in range(7)], ts, step=0)
    first = logs.get_log_events(logGroupName="/app/web", logStreamName="main", limit=3,
                                startFromHead=True)
    pages, _ = page_through(logs, first["nextForwardToken"], limit=3)
    assert messages(first["events"]) + sum(pages, []) == [f"same {i}" for i in range(7)]


def test_get_log_events_on_an_empty_stream(logs):
    make_stream(logs)
    empty = logs.get_log_events(logGroupName="/app/web", logStreamName="main")
    assert empty["events"] == []
    again = logs.get_log_events(logGroupName="/app/web", logStreamName="main",
                                nextToken=empty["nextForwardToken"])
    assert again["nextForwardToken"] == empty["nextForwardToken"]
    put(logs, ["first"], now_ms())
    got = logs.get_log_events(logGroupName="/app/web", logStreamName="main",
                              nextToken=empty["nextForwardToken"])
    assert messages(got["events"]) == ["first"]


def test_get_log_events_group_identifier_and_errors(logs, region):
    make_stream(logs)
    put(logs, ["hello"], now_ms())
    by_arn = logs.get_log_events(logGroupIdentifier=group_arn(region, "/app/web"),
                                 logStreamName="main")
    assert messages(by_arn["events"]) == ["hello"]
    by_name = logs.get_log_events(logGroupIdentifier="/app/web", logStreamName="main")
    assert messages(by_name["events"]) == ["hello"]
    bad = [
        ({"logGroupName": "/app/web", "logGroupIdentifier": "/app/web", "logStreamName": "main"},
         "InvalidParameterException"),
        ({"logStreamName": "main"}, "InvalidParameterException"),
        ({"logGroupName": "/app/web", "logStreamName": "main", "nextToken": "f/123/s"},
         "InvalidParameterException"),
        ({"logGroupName": "/app/web", "logStreamName": "nope"}, "ResourceNotFoundException"),
        ({"logGroupName": "nope", "logStreamName": "main"}, "ResourceNotFoundException"),
        ({"logGroupIdentifier": group_arn("eu-west-9", "/app/web"), "logStreamName": "main"},
         "ResourceNotFoundException"),
    ]
    for params, code in bad:
        with pytest.raises(ClientError) as info:
            logs.get_log_events(**params)
        assert error_code(info) == code, params


# --- FilterLogEvents -----------------------------------------------------------

def test_filter_log_events_interleaves_streams(logs):
    logs.create_log_group(logGroupName="/app/web")
    start = now_ms() - HOUR
    for stream in ("web-1", "web-2", "worker"):
        logs.create_log_stream(logGroupName="/app/web", logStreamName=stream)
    put(logs, ["w1 a", "w1 b"], start, step=20, stream="web-1")
    put(logs, ["w2 a", "w2 b"], start + 10, step=20, stream="web-2")
    put(logs, ["k a"], start + 5, stream="worker")
    page = logs.filter_log_events(logGroupName="/app/web")
    assert messages(page["events"]) == ["w1 a", "k a", "w2 a", "w1 b", "w2 b"]
    assert [e["logStreamName"] for e in page["events"]] == [
        "web-1", "worker", "web-2", "web-1", "web-2"]
    assert len({e["eventId"] for e in page["events"]}) == 5
    assert "nextToken" not in page
    assert filtered(logs, "", logStreamNames=["web-2", "worker"]) == ["k a", "w2 a", "w2 b"]
    assert filtered(logs, "", logStreamNamePrefix="web") == ["w1 a", "w2 a", "w1 b", "w2 b"]
    assert filtered(logs, "", logStreamNames=["missing"]) == []
    # startTime and endTime are both inclusive.
    assert filtered(logs, "", startTime=start + 5, endTime=start + 20) == [
        "k a", "w2 a", "w1 b"]
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName="/app/web", logStreamNames=["web-1"],
                               logStreamNamePrefix="web")
    assert error_code(info) == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName="nope")
    assert error_code(info) == "ResourceNotFoundException"


LINES = ["ERROR db timeout", "ERROR disk full", "WARN slow request", "INFO started",
         json.dumps({"level": "error", "code": 500, "path": "/api/orders"}),
         json.dumps({"level": "info", "code": 200, "path": "/health"}),
         json.dumps({"level": "error", "code": 404, "path": "/api/users"})]


@pytest.mark.parametrize("pattern, expected", [
    ("ERROR", [0, 1]),
    ("ERROR timeout", [0]),
    ('"disk full"', [1]),
    ("?WARN ?INFO", [2, 3]),
    ("ERROR -timeout", [1]),
    ('{ $.level = "error" }', [4, 6]),
    ('{ $.level != "error" }', [5]),
    ("{ $.code = 200 }", [5]),
    ("{ $.code >= 404 }", [4, 6]),
    ('{ $.level = "error" && $.path = "/api/u*" }', [6]),
    ("{ $.code = 200 || $.code = 500 }", [4, 5]),
    ("api", [4, 6]),
])
def test_filter_patterns(logs, pattern, expected):
    make_stream(logs)
    put(logs, LINES, now_ms() - HOUR)
    assert filtered(logs, pattern) == [LINES[i] for i in expected]


def test_invalid_filter_pattern_is_refused(logs):
    make_stream(logs)
    for pattern in ('"unclosed', "{ $.level = }", "[ip, user]"):
        with pytest.raises(ClientError) as info:
            logs.filter_log_events(logGroupName="/app/web", filterPattern=pattern)
        assert error_code(info) == "InvalidParameterException"


def test_filter_log_events_pages_with_limit(logs):
    make_stream(logs)
    all_messages = [f"{'hit' if i % 3 == 0 else 'miss'} {i:03d}" for i in range(120)]
    put(logs, all_messages, now_ms() - HOUR)
    pages = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName="/app/web", filterPattern="hit", PaginationConfig={"PageSize": 7}))
    assert all(len(page["events"]) <= 7 for page in pages)
    got = [m for page in pages for m in messages(page["events"])]
    assert got == [m for m in all_messages if m.startswith("hit")]
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName="/app/web", nextToken="garbage")
    assert error_code(info) == "InvalidParameterException"


def test_following_like_aws_logs_tail(logs):
    """What `aws logs tail --follow` does: FilterLogEvents from a start time, follow the
    nextTokens, then ask again from the newest timestamp seen."""
    make_stream(logs)
    now = now_ms()
    put(logs, ["before the window"], now - 2 * HOUR)
    put(logs, ["one", "two"], now - 30 * MINUTE)
    seen, ids = [], set()

    def poll(start: int) -> int:
        params = {"logGroupName": "/app/web", "startTime": start, "interleaved": True}
        for page in logs.get_paginator("filter_log_events").paginate(**params):
            for event in page["events"]:
                if event["eventId"] not in ids:
                    ids.add(event["eventId"])
                    seen.append(event["message"])
                    start = max(start, event["timestamp"])
        return start

    latest = poll(now - HOUR)
    assert seen == ["one", "two"]
    put(logs, ["three"], now_ms())
    poll(latest)
    assert seen == ["one", "two", "three"]


# --- tags ------------------------------------------------------------------------

def test_tag_resource_untag_and_list(logs, region):
    logs.create_log_group(logGroupName="/app/web", tags={"team": "web", "env": "dev"})
    arn = group_arn(region, "/app/web")
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "web", "env": "dev"}
    logs.tag_resource(resourceArn=arn, tags={"env": "prod", "cost": "42"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "web", "env": "prod", "cost": "42"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod", "cost": "42"}
    # The older API names the group and sees the same tags.
    assert logs.list_tags_log_group(logGroupName="/app/web")["tags"] == {
        "env": "prod", "cost": "42"}
    logs.tag_log_group(logGroupName="/app/web", tags={"owner": "me"})
    logs.untag_log_group(logGroupName="/app/web", tags=["cost"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod", "owner": "me"}


def test_tag_errors(logs, region):
    logs.create_log_group(logGroupName="/app/web")
    arn = group_arn(region, "/app/web")
    cases = [
        (lambda: logs.tag_resource(resourceArn=group_arn(region, "nope"), tags={"a": "b"}),
         "ResourceNotFoundException"),
        (lambda: logs.list_tags_log_group(logGroupName="nope"), "ResourceNotFoundException"),
        (lambda: logs.tag_resource(resourceArn=arn, tags={"aws:x": "y"}),
         "InvalidParameterException"),
        (lambda: logs.create_log_group(logGroupName="other", tags={"aws:x": "y"}),
         "InvalidParameterException"),
        (lambda: logs.tag_resource(resourceArn="not-an-arn", tags={"a": "b"}),
         "InvalidParameterException"),
        # Destinations are taggable in AWS; Nozama serves none, so none exists.
        (lambda: logs.list_tags_for_resource(
            resourceArn=f"arn:aws:logs:{region}:000000000000:destination:d"),
         "ResourceNotFoundException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info) == code
    logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(30)})
    with pytest.raises(ClientError) as info:
        logs.tag_resource(resourceArn=arn, tags={f"n{i}": "v" for i in range(30)})
    assert error_code(info) == "TooManyTagsException"
    assert len(logs.list_tags_for_resource(resourceArn=arn)["tags"]) == 30


def test_tags_go_with_a_deleted_group(logs, region):
    logs.create_log_group(logGroupName="/app/web", tags={"a": "b"})
    logs.delete_log_group(logGroupName="/app/web")
    logs.create_log_group(logGroupName="/app/web")
    assert logs.list_tags_for_resource(resourceArn=group_arn(region, "/app/web"))["tags"] == {}


# --- regions -----------------------------------------------------------------------

def test_regions_are_isolated(server, region):
    here, there = server.client("logs", region), server.client("logs", region + "x")
    make_stream(here)
    put(here, ["only here"], now_ms())
    assert there.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as info:
        there.get_log_events(logGroupName="/app/web", logStreamName="main")
    assert error_code(info) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        there.list_tags_for_resource(resourceArn=group_arn(region, "/app/web"))
    assert error_code(info) == "ResourceNotFoundException"
    # The same names are free in another region.
    make_stream(there)
    put(there, ["only there"], now_ms())
    assert filtered(here, "") == ["only here"]
    assert filtered(there, "") == ["only there"]
    assert describe_group(there, "/app/web")["arn"] == group_arn(region + "x", "/app/web") + ":*"


# --- the AWS CLI ---------------------------------------------------------------------

@pytest.fixture
def aws(server, region, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=server.credentials[0],
               AWS_SECRET_ACCESS_KEY=server.credentials[1],
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1", HOME=str(tmp_path))

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.endpoint,
                   "--region", region]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
    return run


def test_aws_cli_reads_log_events(logs, aws):
    make_stream(logs)
    put(logs, ["hello from nozama", "second line"], now_ms() - MINUTE)
    done = aws("logs", "get-log-events", "--log-group-name", "/app/web",
               "--log-stream-name", "main", "--start-from-head", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert messages(json.loads(done.stdout)["events"]) == ["hello from nozama", "second line"]
    done = aws("logs", "filter-log-events", "--log-group-name", "/app/web",
               "--filter-pattern", "second", "--output", "text",
               "--query", "events[].message")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "second line"
