"""Unit tests for the server's wake-ups (kernel/wakeups.py)."""

from __future__ import annotations

import asyncio

from nozama.kernel.wakeups import Wakeups


def test_a_wake_up_ends_the_wait_of_its_subject_only():
    async def scenario():
        wakeups = Wakeups()
        a = asyncio.ensure_future(wakeups.wait("instance", "a", timeout=5))
        b = asyncio.ensure_future(wakeups.wait("instance", "b", timeout=0.2))
        await asyncio.sleep(0)
        wakeups.wake("instance", "a")
        await asyncio.wait_for(a, 1)
        assert not b.done()
        await b  # times out on its own
    asyncio.run(scenario())


def test_a_wake_up_between_waits_is_kept_for_the_next_wait():
    async def scenario():
        wakeups = Wakeups()
        await wakeups.wait("services", timeout=0)
        wakeups.wake("services")
        await asyncio.wait_for(wakeups.wait("services", timeout=5), 1)
    asyncio.run(scenario())


def test_listeners_hear_every_subject_of_their_topic():
    wakeups = Wakeups()
    heard = []
    wakeups.listen("function", lambda *subject: heard.append(subject))
    wakeups.wake("function", "us-east-1", "000000000000", "f")
    wakeups.wake("instance", "arn")
    assert heard == [("us-east-1", "000000000000", "f")]


def test_two_servers_wake_ups_are_apart():
    one, other = Wakeups(), Wakeups()
    heard = []
    other.listen("function", lambda *subject: heard.append(subject))
    one.wake("function", "r", "a", "f")
    assert heard == []
