"""lb/health.py: active checks on a fixed schedule, and failed connections of real traffic
counted as failed checks (a target cut off is out without waiting for more intervals)."""

from __future__ import annotations

import asyncio

from nozama.kernel.intervals import scaled
from nozama.lb.config import Target, TargetGroup
from nozama.lb.health import HealthChecker
from nozama.lb.targets import TargetState


def group(interval: int = 30) -> TargetGroup:
    return TargetGroup("tg", {"Attributes": {}, "HealthCheckEnabled": True,
                              "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
                              "HealthCheckPath": "/", "HealthCheckIntervalSeconds": interval,
                              "HealthCheckTimeoutSeconds": 2, "HealthyThresholdCount": 2,
                              "UnhealthyThresholdCount": 2, "Matcher": {"HttpCode": "200"}})


async def serve_ok() -> asyncio.AbstractServer:
    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
    return await asyncio.start_server(answer, "127.0.0.1", 0)


def test_failed_connections_of_real_traffic_count_as_failed_checks():
    async def main():
        server = await serve_ok()
        port = server.sockets[0].getsockname()[1]
        target = Target(1, "tg", "i-1", port, "127.0.0.1", False, None, ("healthy", None, None))
        state = TargetState(target, "healthy", None, None)
        changes = []
        checker = HealthChecker(lambda s: changes.append((s.health, s.reason)))
        checker.update({target.key: state}, {"tg": group()})
        await asyncio.sleep(0.2)                     # the first check passed
        checker.connection_failed(target.key)
        assert state.health == "healthy"             # one failure of the two it takes
        checker.connection_failed(target.key)
        assert (state.health, state.reason) == ("unhealthy", "Target.Timeout")
        checker.connection_failed(("tg", "i-unknown", 1))   # a target it does not check
        checker.close()
        server.close()
        return changes
    assert asyncio.run(main()) == [("unhealthy", "Target.Timeout")]


def test_a_passing_check_resets_the_failures():
    async def main():
        server = await serve_ok()
        port = server.sockets[0].getsockname()[1]
        target = Target(1, "tg", "i-1", port, "127.0.0.1", False, None, ("healthy", None, None))
        state = TargetState(target, "healthy", None, None)
        checker = HealthChecker(lambda s: None)
        checker.update({target.key: state}, {"tg": group(interval=1)})
        checker.connection_failed(target.key)        # then a check passes
        await asyncio.sleep(scaled(1.0) + 0.3)
        checker.connection_failed(target.key)
        checker.close()
        server.close()
        return state.health
    assert asyncio.run(main()) == "healthy"
