"""Unit tests for the unix-datagram transport of the wake-up bridge
(kernel/unix_wakeups.py), which the workers of `nozama server --workers N` on a SQLite
store hear each other through: real sockets in a temporary run dir, one event loop."""

from __future__ import annotations

import asyncio
import socket

import pytest

from nozama.kernel.unix_wakeups import UnixWakeups, path_too_long, socket_path
from nozama.kernel.wake_bridge import Bridge
from nozama.kernel.wakeups import Wakeups


@pytest.fixture
def run_dir(tmp_path_factory):
    # Short: a unix socket's path is at most 107 bytes.
    return tmp_path_factory.mktemp("run", numbered=True)


def worker(run_dir, server_id: str) -> tuple[Wakeups, UnixWakeups]:
    wakeups = Wakeups()
    transport = UnixWakeups(run_dir, Bridge(server_id)).start()
    transport.bridge.attach(wakeups, asyncio.get_running_loop())
    return wakeups, transport


def settle():
    return asyncio.sleep(0.05)


def test_a_wake_up_reaches_every_sibling_once_and_not_the_sender_again(run_dir):
    async def scenario():
        one, one_transport = worker(run_dir, "one")
        two, two_transport = worker(run_dir, "two")
        three, three_transport = worker(run_dir, "three")
        heard = {"one": [], "two": [], "three": []}
        for name, wakeups in (("one", one), ("two", two), ("three", three)):
            wakeups.listen("function", lambda *s, name=name: heard[name].append(s))
        waiter = asyncio.ensure_future(two.wait("instance", "arn:i", timeout=5))
        await asyncio.sleep(0)
        one.wake("instance", "arn:i")
        one.wake("function", "us-east-1", "000000000000", "f")
        await asyncio.wait_for(waiter, 1)   # the sibling's long poll returned
        await settle()
        subject = ("us-east-1", "000000000000", "f")
        assert heard == {"one": [subject], "two": [subject], "three": [subject]}
        # What the siblings heard they do not publish again: one more round is silent.
        await settle()
        assert heard == {"one": [subject], "two": [subject], "three": [subject]}
        for transport in (one_transport, two_transport, three_transport):
            transport.stop()
    asyncio.run(scenario())


def test_each_worker_binds_its_socket_and_removes_it_when_it_stops(run_dir):
    async def scenario():
        _, one = worker(run_dir, "one")
        _, two = worker(run_dir, "two")
        assert sorted(p.name for p in run_dir.iterdir()) == ["wake-one.sock", "wake-two.sock"]
        assert one.siblings() == [socket_path(run_dir, "two")]
        one.stop()
        one.stop()   # twice is harmless
        assert [p.name for p in run_dir.iterdir()] == ["wake-two.sock"]
        two.stop()
        assert list(run_dir.iterdir()) == []
    asyncio.run(scenario())


def test_a_stale_socket_of_a_killed_worker_is_ignored_and_removed(run_dir):
    async def scenario():
        # A worker killed with SIGKILL leaves its socket file; nobody reads it any more.
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dead.bind(str(socket_path(run_dir, "dead")))
        dead.close()
        one, one_transport = worker(run_dir, "one")
        two, two_transport = worker(run_dir, "two")
        waiter = asyncio.ensure_future(two.wait("services", timeout=5))
        await asyncio.sleep(0)
        one.wake("services")
        await asyncio.wait_for(waiter, 1)   # the live sibling is woken all the same
        assert not socket_path(run_dir, "dead").exists()
        one_transport.stop()
        two_transport.stop()
    asyncio.run(scenario())


def test_a_message_that_is_not_a_wake_up_is_ignored(run_dir):
    async def scenario():
        two, two_transport = worker(run_dir, "two")
        heard = []
        two.listen("function", lambda *s: heard.append(s))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stranger:
            stranger.sendto(b"\xffnot json", str(two_transport.path))
            stranger.sendto(b'["one","function","f"]', str(two_transport.path))
        await settle()
        assert heard == [("f",)]   # the loop read on past the bad one
        two_transport.stop()
    asyncio.run(scenario())


def test_a_run_dir_too_deep_for_a_socket_name_is_detected(tmp_path):
    assert path_too_long(tmp_path / ("d" * 100))
    assert not path_too_long("/tmp/run")


def test_workers_of_a_deep_run_dir_meet_in_a_private_short_one(tmp_path):
    deep = tmp_path / ("d" * 100) / "run"

    async def scenario():
        one, one_transport = worker(deep, "one")
        two, two_transport = worker(deep, "two")
        assert one_transport.run_dir == two_transport.run_dir != deep
        assert len(str(one_transport.path)) <= 107
        assert oct(one_transport.run_dir.stat().st_mode & 0o777) == "0o700"
        waiter = asyncio.ensure_future(two.wait("instance", "arn:i", timeout=5))
        await asyncio.sleep(0)
        one.wake("instance", "arn:i")
        await asyncio.wait_for(waiter, 1)
        for transport in (one_transport, two_transport):
            transport.stop()
    asyncio.run(scenario())
