"""What `nozama watch` draws on a terminal (a snapshot of a deployment rendered by
rich), what it prints when piped, and how the snapshot reads the APIs' answers
(traffic split, bake countdown)."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console

from nozama.cli import deploy
from nozama.cli.deployment_view import live, plain


def _snapshot(**changes) -> dict:
    view = {
        "service": "web", "status": "IN_PROGRESS", "stage": "PRODUCTION_TRAFFIC_SHIFT",
        "reason": "", "old": "web:1", "new": "web:2", "split": 10.0,
        "revisions": [("web:2", "PRIMARY", 2, 4, "IN_PROGRESS"),
                      ("web:1", "ACTIVE", 4, 4, "COMPLETED")],
        "groups": [
            {"name": "web-blue", "share": 90.0, "targets": 4, "healthy": 4,
             "requests": 200.0, "errors": 0.0},
            {"name": "web-green", "share": 10.0, "targets": 2, "healthy": 2,
             "requests": 20.0, "errors": 1.0}],
        "bake": {"what": "10% step", "total": 300.0, "left": 252.4},
        "hooks": [{"hookId": "hook-7", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS",
                   "expiresIn": 3540.0}],
        "alarms": [{"name": "web-5xx", "state": "OK"}],
        "verdicts": ["canary analysis passed early: no regression in 5XX or latency."],
        "events": [("12:00:01", "scale up."), ("12:00:05", "post scale up."),
                   ("12:00:09", "shifted 10% of production traffic to the new revision.")]}
    view.update(changes)
    return view


def _screen(view: dict) -> str:
    console = Console(record=True, width=100, color_system=None)
    console.print(live(view))
    return console.export_text()


def test_the_live_view_shows_the_whole_deployment():
    screen = _screen(_snapshot())
    assert "service web" in screen and "deployment IN_PROGRESS" in screen
    assert "stage PRODUCTION_TRAFFIC_SHIFT" in screen
    # A bar per revision: web:2 has half its tasks, web:1 all of them.
    new = next(line for line in screen.splitlines() if "web:2" in line and "PRIMARY" in line)
    assert "█" * 12 + "░" * 12 in new and "2/4 running" in new
    old = next(line for line in screen.splitlines() if "ACTIVE" in line)
    assert "█" * 24 in old and "4/4 running" in old
    # The traffic split as one bar of 40: 36 blue, 4 green.
    split = next(line for line in screen.splitlines() if "traffic " in line and "blue" in line)
    assert "blue web:1 90% " + "█" * 36 + "▓" * 4 + " 10% green web:2" in split
    assert "10% step: 4:12 left of 5:00" in screen
    assert "waiting  hook hook-7 (AWS_LAMBDA) IN_PROGRESS, times out in 59:00" in screen
    assert "web-green" in screen and "5.0%" in screen  # 1 error in 20 requests
    assert "alarm web-5xx OK" in screen
    assert "canary analysis passed early" in screen
    assert "12:00:09 shifted 10% of production traffic to the new revision." in screen


def test_a_finished_deployment_says_how_it_ended():
    screen = _screen(_snapshot(status="ROLLBACK_SUCCESSFUL", stage="CLEAN_UP", split=0.0,
                               bake=None, hooks=[], reason="alarm web-5xx is in ALARM.",
                               alarms=[{"name": "web-5xx", "state": "ALARM"}]))
    assert "deployment ROLLBACK_SUCCESSFUL" in screen
    assert "blue web:1 100% " + "█" * 40 + " 0% green web:2" in screen
    assert "alarm web-5xx is in ALARM." in screen and "alarm web-5xx ALARM" in screen
    assert "left of" not in screen and "waiting" not in screen


def test_a_rolling_deployment_has_no_split_nor_bake():
    screen = _screen(_snapshot(stage=None, split=None, bake=None, hooks=[], alarms=[],
                               verdicts=[], groups=[], events=[]))
    assert "traffic " not in screen and "bake" not in screen and "events" not in screen
    assert "2/4 running" in screen


def test_piped_output_keeps_its_plain_lines():
    text = plain(_snapshot())
    assert text.splitlines()[0] == ("service web: deployment IN_PROGRESS, "
                                    "stage PRODUCTION_TRAFFIC_SHIFT")
    assert "web:2" in text and "2/4 running" in text
    assert "web-green" in text and "traffic  10.0%" in text and "errors  5.0%" in text
    assert "█" not in text and "\033" not in text


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


CANARY = {"strategy": "CANARY",
          "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
          "bakeTimeInMinutes": 2}


def test_the_split_is_read_from_the_deployment():
    shifting = {"status": "IN_PROGRESS", "deploymentConfiguration": CANARY,
                "statusReason": "Lifecycle stage PRODUCTION_TRAFFIC_SHIFT: 10% of production "
                                "traffic on the new revision, 90% on the previous one."}
    assert deploy._split(shifting) == 10.0
    assert deploy._split(dict(shifting, status="SUCCESSFUL")) == 100.0
    assert deploy._split(dict(shifting, status="ROLLBACK_SUCCESSFUL")) == 0.0
    assert deploy._split({"status": "IN_PROGRESS",
                          "deploymentConfiguration": {"strategy": "ROLLING"}}) is None


def test_the_bake_counts_down_from_the_step_that_started_it():
    deployment = {"status": "IN_PROGRESS", "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
                  "deploymentConfiguration": CANARY}
    events = [(1000.0, "production traffic shift."),
              (1001.0, "shifted 10% of production traffic to the new revision.")]
    bake = deploy._bake(deployment, events, now=1001.0 + 47.6)
    assert bake["what"] == "10% step" and bake["total"] == 300.0
    assert round(bake["left"], 1) == 252.4
    assert deploy._bake(deployment, events, now=5000.0)["left"] == 0.0
    # BAKE_TIME counts bakeTimeInMinutes from the stage's start.
    baking = dict(deployment, lifecycleStage="BAKE_TIME")
    bake = deploy._bake(baking, events + [(2000.0, "bake time.")], now=2030.0)
    assert (bake["total"], bake["left"]) == (120.0, 90.0)


def test_the_events_shown_are_the_deployments_own():
    service = {"serviceName": "web", "events": [
        {"createdAt": _at(20), "message": "(service web) (deployment ecs-svc/2) scale up."},
        {"createdAt": _at(10), "message": "(service web) (deployment ecs-svc/1) scale up."},
        {"createdAt": _at(30), "message": "(service web) has reached a steady state."}]}
    assert deploy._events_of(service, {"id": "ecs-svc/2"}) == [(20.0, "scale up.")]
    assert [m for _, m in deploy._events_of(service, None)] == [
        "(deployment ecs-svc/1) scale up.", "(deployment ecs-svc/2) scale up.",
        "has reached a steady state."]
