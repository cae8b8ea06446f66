"""Unit tests for the wake-up bridge between servers (kernel/wake_bridge.py), on a fake
transport that, like NOTIFY, delivers every message to every listener, the sender's own
too; and for the caches it drops (function routes, access keys)."""

from __future__ import annotations

import asyncio
import json
import types

from nozama.functions.routing import ROUTE_SECONDS, Routes
from nozama.kernel.wake_bridge import Bridge
from nozama.kernel.wakeups import Wakeups


class FakeChannel:
    """NOTIFY's shape: what one sends, all listening hear; counts what was sent."""

    def __init__(self):
        self.bridges: list[Bridge] = []
        self.sent: list[str] = []

    def join(self, server_id: str) -> tuple[Wakeups, Bridge]:
        bridge = Bridge(server_id, self.send)
        wakeups = Wakeups()
        bridge.attach(wakeups, asyncio.get_running_loop())
        self.bridges.append(bridge)
        return wakeups, bridge

    def send(self, payload: str) -> None:
        self.sent.append(payload)
        for bridge in self.bridges:
            bridge.received_threadsafe(payload)


def settle():
    return asyncio.sleep(0.01)


def test_a_wake_up_reaches_the_other_server_once_and_is_not_published_again():
    async def scenario():
        channel = FakeChannel()
        one, _ = channel.join("one")
        two, _ = channel.join("two")
        heard_one, heard_two = [], []
        one.listen("function", lambda *s: heard_one.append(s))
        two.listen("function", lambda *s: heard_two.append(s))
        waiter = asyncio.ensure_future(two.wait("instance", "arn:i", timeout=5))
        await asyncio.sleep(0)
        one.wake("instance", "arn:i")
        one.wake("function", "us-east-1", "000000000000", "f")
        await asyncio.wait_for(waiter, 1)   # the other server's long poll returned
        await settle()
        assert heard_two == [("us-east-1", "000000000000", "f")]
        # Its own message came back to the sender (as NOTIFY does) and was dropped by id:
        # the sender's listener heard its local wake-up once, not twice.
        assert heard_one == [("us-east-1", "000000000000", "f")]
        # Delivered remotely with wake_local: nothing was published again.
        assert [json.loads(p) for p in channel.sent] == [
            ["one", "instance", "arn:i"], ["one", "function", "us-east-1", "000000000000", "f"]]
    asyncio.run(scenario())


def test_publishing_waits_for_the_end_of_the_callback_that_woke():
    async def scenario():
        channel = FakeChannel()
        one, _ = channel.join("one")
        one.wake("services")     # as inside a `with store.write()` block: not yet committed
        assert channel.sent == []
        await settle()           # the callback returned (the transaction committed)
        assert [json.loads(p) for p in channel.sent] == [["one", "services"]]
    asyncio.run(scenario())


def test_a_reconnected_listener_wakes_every_waiter_and_listener():
    async def scenario():
        channel = FakeChannel()
        two, bridge = channel.join("two")
        heard = []
        two.listen("function", lambda *s: heard.append(s))
        waits = [asyncio.ensure_future(two.wait(*subject, timeout=5))
                 for subject in (("instance", "arn:a"), ("instance", "arn:b"), ("services",))]
        await asyncio.sleep(0)
        bridge.reconnected_threadsafe()
        await asyncio.wait_for(asyncio.gather(*waits), 1)
        assert heard == [()]      # "anything may have changed": drop every route
        assert channel.sent == []  # a reconnect publishes nothing
    asyncio.run(scenario())


def test_without_a_bridge_a_wake_up_stays_local():
    wakeups = Wakeups()
    heard = []
    wakeups.listen("function", lambda *s: heard.append(s))
    wakeups.wake("function", "r", "a", "f")
    assert heard == [("r", "a", "f")] and wakeups.bridge is None


def test_a_message_that_is_not_a_wake_up_is_ignored():
    async def scenario():
        channel = FakeChannel()
        two, bridge = channel.join("two")
        bridge.received("not json")
        bridge.received(json.dumps({"a": 1}))
    asyncio.run(scenario())


class _Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_a_route_is_read_again_after_route_seconds_and_kept_when_unchanged(tmp_path):
    clock = _Clock()
    routes = Routes(tmp_path, clock)
    resolved = []

    def resolve(ctx, conn, name, qualifier):
        resolved.append(name)
        return _route(weight=ctx.weight)
    routes._resolve = resolve
    ctx = types.SimpleNamespace(region="r", account_id="a", weight=0.0,
                                store=types.SimpleNamespace(read=_nothing))
    first = routes.route(ctx, "f", "live")
    assert routes.route(ctx, "f", "live") is first and len(resolved) == 1
    clock.now += ROUTE_SECONDS      # unchanged: the same route, its sequence kept
    assert routes.route(ctx, "f", "live") is first and len(resolved) == 2
    ctx.weight = 1.0                # another server moved the alias, its wake-up lost
    clock.now += ROUTE_SECONDS
    assert routes.route(ctx, "f", "live").weight == 1.0
    routes.forget_all()             # the bridge reconnected
    routes.route(ctx, "f", "live")
    assert len(resolved) == 4


def _route(weight: float):
    from nozama.functions.routing import Route
    return Route("f", None, "f:live", "live", "arn:f:live", primary="v1", extra="v2",
                 weight=weight)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_an_access_key_wake_up_forgets_the_key_principal_or_everything():
    from nozama.store.access_keys import AccessKeys, _Found
    keys = AccessKeys(None, None, _Clock())
    principal = types.SimpleNamespace(account="a", arn="arn:aws:iam::a:user/u")
    creds = types.SimpleNamespace(principal=principal)
    for key in ("K1", "K2", "K3"):
        keys._cache[key] = _Found(creds if key != "K3" else None, None, 0.0)
    keys.on_wake("K3")
    assert set(keys._cache) == {"K1", "K2"}
    keys.on_wake("principal", "a", "arn:aws:iam::a:user/u")
    assert keys._cache == {}
    keys._cache["K1"] = _Found(None, None, 0.0)
    keys.on_wake()
    assert keys._cache == {}
