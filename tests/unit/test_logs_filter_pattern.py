"""CloudWatch Logs filter patterns and PutLogEvents batch rules, as pure functions."""

import json

import pytest

from nozama.kernel import errors
from nozama.aws.logs.filter_pattern import compile_pattern
from nozama.aws.logs.put_events import DAY_MS, HOUR_MS, check_batch, sort_out


def matching(pattern: str, messages: list[str]) -> list[str]:
    matches = compile_pattern(pattern)
    return [m for m in messages if matches(m)]


LINES = ["ERROR db timeout", "ERROR disk full", "WARN slow request", "INFO started",
         "error lowercase", 'ERROR "quoted" thing']


@pytest.mark.parametrize("pattern, expected", [
    ("", LINES),
    ("   ", LINES),
    ("ERROR", ["ERROR db timeout", "ERROR disk full", 'ERROR "quoted" thing']),
    ("ERROR timeout", ["ERROR db timeout"]),
    ('"disk full"', ["ERROR disk full"]),
    ('"ERROR disk"', ["ERROR disk full"]),
    ("?WARN ?INFO", ["WARN slow request", "INFO started"]),
    ("ERROR -timeout", ["ERROR disk full", 'ERROR "quoted" thing']),
    ('ERROR -"disk full" -timeout', ['ERROR "quoted" thing']),
    ('"\\"quoted\\""', ['ERROR "quoted" thing']),
    ("%ERR(OR)? d%", ["ERROR db timeout", "ERROR disk full"]),
    ("error", ["error lowercase"]),
])
def test_term_patterns(pattern, expected):
    assert matching(pattern, LINES) == expected


EVENTS = [json.dumps(e) for e in [
    {"level": "error", "code": 500, "user": {"id": 7, "name": "ana"}, "tags": ["a", "b"]},
    {"level": "info", "code": 200, "user": {"id": 8, "name": "bob"}, "ok": True},
    {"level": "error", "code": 404, "latency": 1.5, "ok": False, "gone": None},
]] + ["not json at all", "[1, 2, 3]"]


def levels(pattern: str) -> list[int]:
    matches = compile_pattern(pattern)
    return [i for i, message in enumerate(EVENTS) if matches(message)]


@pytest.mark.parametrize("pattern, expected", [
    ('{ $.level = "error" }', [0, 2]),
    ("{ $.level = error }", [0, 2]),
    ('{ $.level != "error" }', [1]),
    ("{ $.code = 200 }", [1]),
    ("{ $.code != 200 }", [0, 2]),
    ("{ $.code >= 404 }", [0, 2]),
    ("{ $.code < 404 }", [1]),
    ("{ $.latency > 1 }", [2]),
    ("{ $.user.id = 7 }", [0]),
    ('{ $.user.name = "b*" }', [1]),
    ('{ $.tags[1] = "b" }', [0]),
    ('{ $.level = "error" && $.code = 404 }', [2]),
    ("{ $.code = 200 || $.code = 500 }", [0, 1]),
    ('{ ($.code = 200 || $.code = 500) && $.level = "info" }', [1]),
    ("{ $.ok IS TRUE }", [1]),
    ("{ $.ok IS FALSE }", [2]),
    ("{ $.gone IS NULL }", [2]),
    ("{ $.latency NOT EXISTS }", [0, 1]),
    ('{ $.missing = "x" }', []),
    ('{ $.missing != "x" }', []),
    ('{ $.code = "500" }', []),
])
def test_json_patterns(pattern, expected):
    assert levels(pattern) == expected


@pytest.mark.parametrize("pattern", [
    '"unclosed', "{ $.level = }", "{ level = 1 }", '{ $.level > "a" }', "{ $.a = 1",
    "{ $.a = 1 && }", "{ ($.a = 1 }", "[ip, user]", "%(unbalanced%", "{ $.a IS MAYBE }",
])
def test_invalid_patterns_are_refused(pattern):
    with pytest.raises(errors.logs.InvalidParameterException):
        compile_pattern(pattern)


NOW = 1_800_000_000_000


def events(*offsets: int) -> list[dict]:
    return [{"timestamp": NOW + offset, "message": "m"} for offset in offsets]


def test_sort_out_keeps_the_middle_and_reports_both_ends():
    batch = events(-15 * DAY_MS, -15 * DAY_MS, -HOUR_MS, 0, 3 * HOUR_MS)
    keep, rejected = sort_out(batch, NOW, None)
    assert (keep.start, keep.stop) == (2, 4)
    assert rejected == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 4}


def test_sort_out_reports_events_older_than_retention_as_expired():
    batch = events(-3 * DAY_MS, -2 * DAY_MS, -HOUR_MS)
    keep, rejected = sort_out(batch, NOW, NOW - DAY_MS)
    assert (keep.start, keep.stop) == (2, 3)
    assert rejected == {"expiredLogEventEndIndex": 1}


def test_sort_out_edges_are_accepted():
    batch = events(-14 * DAY_MS, 2 * HOUR_MS)
    keep, rejected = sort_out(batch, NOW, None)
    assert (keep.start, keep.stop, rejected) == (0, 2, {})


def test_check_batch_refuses_disorder_and_oversize():
    with pytest.raises(errors.logs.InvalidParameterException, match="chronological"):
        check_batch(events(5, 4))
    big = [{"timestamp": NOW, "message": "x" * (1_048_576 - 26)}]
    check_batch(big)
    with pytest.raises(errors.logs.InvalidParameterException, match="Upload too large"):
        check_batch(big + events(0))
