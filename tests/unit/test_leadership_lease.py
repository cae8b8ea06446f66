"""The controllers' lease under a fake clock (SQLite times it by the caller's clock): one
server leads at a time, the lease passes only once it has run out, every new holder gets
a higher epoch, a stalled leader steps down at its local deadline, and its fenced writes
are refused once another server holds the lease."""

from __future__ import annotations

import pytest

from nozama.api.leadership import LEASE_SECONDS, Leadership
from nozama.kernel.clock import FakeClock
from nozama.store import Store, leadership
from nozama.store.db import FencedStore, sqlite_url


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


class Controllers:
    """Stands in for App.start_controllers / stop_controllers."""

    def __init__(self):
        self.fenced: FencedStore | None = None
        self.events: list[str] = []

    def gain(self, fenced):
        self.fenced = fenced
        self.events.append(f"gain {fenced.lease.epoch}")

    def loss(self):
        self.events.append("loss")


def runner(store, clock, name):
    controllers = Controllers()
    return Leadership(store, clock, f"http://{name}", controllers.gain, controllers.loss,
                      server_id=name), controllers


def write_marker(fenced: FencedStore, value: str) -> None:
    with fenced.write() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO tags (resource_arn, key, value) VALUES ('arn:x', '{value}', 'v')")


def markers(store) -> list[str]:
    with store.read() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT key FROM tags ORDER BY key")]


def test_the_first_server_leads_at_its_first_tick_and_the_second_follows(store):
    clock = FakeClock()
    a, a_controllers = runner(store, clock, "a")
    b, b_controllers = runner(store, clock, "b")
    a.tick()
    b.tick()
    assert a_controllers.events == ["gain 1"] and b_controllers.events == []
    assert a.status()["leader"] is True and b.status()["leader"] is False
    assert b.status()["leaderId"] == "a" and b.status()["epoch"] == 1
    assert [p["id"] for p in b.status()["peers"]] == ["a", "b"]
    for _ in range(10):   # renewals keep the lease with the same epoch
        clock.advance(1)
        a.tick()
        b.tick()
    assert a.status()["leader"] and a_controllers.events == ["gain 1"]
    assert b_controllers.events == []


def test_a_dead_leader_is_replaced_after_its_lease_with_a_higher_epoch(store):
    clock = FakeClock()
    a, _ = runner(store, clock, "a")
    b, b_controllers = runner(store, clock, "b")
    a.tick()
    b.tick()
    # a stops ticking (killed). Its lease still runs for LEASE_SECONDS.
    clock.advance(LEASE_SECONDS - 0.5)
    b.tick()
    assert b_controllers.events == []
    clock.advance(1)
    b.tick()
    assert b_controllers.events == ["gain 2"]
    assert b.status() | {"peers": []} == {"leader": True, "epoch": 2, "leaderId": "b",
                                          "serverId": "b", "peers": []}


def test_a_stalled_leader_steps_down_and_its_writes_are_fenced(store):
    clock = FakeClock()
    a, a_controllers = runner(store, clock, "a")
    b, b_controllers = runner(store, clock, "b")
    a.tick()
    b.tick()
    write_marker(a_controllers.fenced, "a1")
    clock.advance(5)          # a is stopped (SIGSTOP) past its lease; b takes over
    b.tick()
    assert b_controllers.events == ["gain 2"]
    # a wakes up: a controller that runs before a's own tick is refused locally...
    with pytest.raises(leadership.Fenced):
        write_marker(a_controllers.fenced, "a2")
    # ...and by the database, even with the local deadline ignored.
    stale = FencedStore(store, a_controllers.fenced.lease, clock, lambda: True)
    with pytest.raises(leadership.Fenced):
        write_marker(stale, "a3")
    a.tick()
    assert a_controllers.events == ["gain 1", "loss"]
    assert a.status()["leader"] is False and a.status()["leaderId"] == "b"
    write_marker(b_controllers.fenced, "b1")
    # No flip-flop: a keeps following while b renews.
    for _ in range(5):
        clock.advance(1)
        b.tick()
        a.tick()
    assert a_controllers.events == ["gain 1", "loss"] and b_controllers.events == ["gain 2"]
    assert markers(store) == ["a1", "b1"]


def test_a_leader_that_cannot_renew_in_time_steps_down_before_writing(store):
    clock = FakeClock()
    a, a_controllers = runner(store, clock, "a")
    a.tick()
    clock.advance(LEASE_SECONDS - 0.4)   # past the local deadline (lease - 0.5 s)
    with pytest.raises(leadership.Fenced):
        write_marker(a_controllers.fenced, "late")
    a.tick()     # a steps down; its lease must run out before anyone leads again
    assert a_controllers.events == ["gain 1", "loss"]
    clock.advance(1)
    a.tick()
    assert a_controllers.events == ["gain 1", "loss", "gain 2"]
    assert markers(store) == []


def test_a_clean_stop_releases_the_lease_at_once(store):
    clock = FakeClock()
    a, a_controllers = runner(store, clock, "a")
    b, b_controllers = runner(store, clock, "b")
    a.tick()
    b.tick()
    a.stop()
    assert a_controllers.events == ["gain 1", "loss"]
    b.tick()
    assert b_controllers.events == ["gain 2"]
    assert [p["id"] for p in b.status()["peers"]] == ["b"]


def test_a_restarted_server_takes_over_its_dead_predecessors_lease_at_once(store):
    clock = FakeClock()
    old, _ = runner(store, clock, "old")
    old.tick()
    with store.write() as conn:   # a pid no process has: the previous server was killed
        conn.exec_driver_sql("UPDATE servers SET pid = 4194311 WHERE id = 'old'")
    new, new_controllers = runner(store, clock, "new")
    new.tick()
    assert new_controllers.events == ["gain 2"]


def test_a_stopped_server_never_takes_the_lease_again(store):
    # Its own stop wakes the runner, which may tick once more before it is cancelled.
    clock = FakeClock()
    a, a_controllers = runner(store, clock, "a")
    a.tick()
    a.stop()
    a.tick()
    assert a_controllers.events == ["gain 1", "loss"]
    b, b_controllers = runner(store, clock, "b")
    b.tick()
    assert b_controllers.events == ["gain 2"]
