"""FilterLogEvents stops after SCAN_BUDGET candidate events, as AWS stops a search
partway: the page (possibly empty) carries a nextToken that resumes right after the
last event looked at, so a caller paging on gets every match once, in order."""

from __future__ import annotations

import pytest

from nozama.aws.logs import filter_events
from support.service_harness import Cloud

pytestmark = pytest.mark.store_matrix


def test_a_scan_that_hits_the_budget_resumes_exactly_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr(filter_events, "SCAN_BUDGET", 40)
    cloud = Cloud(tmp_path / "data")
    cloud.call("logs", "CreateLogGroup", logGroupName="/app")
    start = int(cloud.clock.now().timestamp() * 1000)
    for stream in ("a", "b"):
        cloud.call("logs", "CreateLogStream", logGroupName="/app", logStreamName=stream)
        # 150 events per stream, same timestamps in both: ties are ordered by event id.
        cloud.call("logs", "PutLogEvents", logGroupName="/app", logStreamName=stream,
                   logEvents=[{"timestamp": start + i // 3,
                               "message": f"{stream}{i} {'hit' if i % 7 == 0 else 'miss'}"}
                              for i in range(150)])
    pages, token, seen = 0, None, []
    while True:
        page = cloud.call("logs", "FilterLogEvents", logGroupName="/app", filterPattern="hit",
                          **({"nextToken": token} if token else {}))
        pages += 1
        seen += [(e["timestamp"], int(e["eventId"]), e["message"]) for e in page["events"]]
        token = page.get("nextToken")
        if token is None:
            break
    expected = sorted((start + i // 3, m) for s in "ab" for i in range(150) if i % 7 == 0
                      for m in [f"{s}{i} hit"])
    assert [(t, m) for t, _, m in seen] == [(t, m) for t, m in expected]
    assert len({event_id for _, event_id, _ in seen}) == len(seen)  # none twice
    assert pages >= 300 // 40  # each call stopped at the budget and said where to resume
