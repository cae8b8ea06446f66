"""Active HTTP health checks, per target of every target group in use.

Each target gets a check every HealthCheckIntervalSeconds (one starts each interval,
however long the last took): GET the path on
the target (or the configured port), healthy when the status matches the
matcher within the timeout. HealthyThresholdCount successes in a row make a
target healthy, UnhealthyThresholdCount failures in a row unhealthy; the
first check runs at once. Changes are written to the targets table, where
DescribeTargetHealth reads them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Callable

from nozama.kernel.intervals import scaled
from nozama.lb.targets import TargetState

log = logging.getLogger(__name__)

USER_AGENT = "ELB-HealthChecker/2.0"


def codes_match(matcher: str, status: int) -> bool:
    for part in matcher.split(","):
        low, _, high = part.partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


def _unverified() -> ssl.SSLContext:
    # Like ALB's, HTTPS health checks do not verify the target's certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_TLS = _unverified()


async def probe(host: str, port: int, path: str, timeout: float,
                https: bool = False) -> tuple[int | None, str]:
    """(status, "") of one health check request, or (None, why it failed)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            host, port, ssl=_TLS if https else None), timeout)
    except (OSError, asyncio.TimeoutError) as error:
        return None, "timeout" if isinstance(error, asyncio.TimeoutError) else "refused"
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
                     "Connection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            return None, "bad response"
        return int(parts[1]), ""
    except (OSError, asyncio.TimeoutError) as error:
        return None, "timeout" if isinstance(error, asyncio.TimeoutError) else "refused"
    finally:
        writer.close()


class HealthChecker:
    """Runs one checking task per target; `on_change(state)` hears of every transition."""

    def __init__(self, on_change: Callable[[TargetState], None]):
        self.on_change = on_change
        self.tasks: dict[tuple, asyncio.Task] = {}
        self.settings: dict[tuple, tuple] = {}
        self.runs: dict[tuple, list[int]] = {}    # key -> [successes, failures] in a row
        self.states: dict[tuple, TargetState] = {}

    def update(self, states: dict[tuple, TargetState], groups: dict) -> None:
        for key in list(self.tasks):
            if key not in states:
                self.tasks.pop(key).cancel()
                self.settings.pop(key, None)
                self.runs.pop(key, None)
        self.states = states
        for key, state in states.items():
            doc = groups[state.target.target_group_arn].doc
            settings = tuple(doc[k] for k in (
                "HealthCheckEnabled", "HealthCheckProtocol", "HealthCheckPort", "HealthCheckPath",
                "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
                "HealthyThresholdCount", "UnhealthyThresholdCount")) + (doc["Matcher"]["HttpCode"],)
            if self.settings.get(key) != settings:
                if key in self.tasks:
                    self.tasks[key].cancel()
                self.settings[key] = settings
                self.runs[key] = [0, 0]
                self.tasks[key] = asyncio.ensure_future(self._check_forever(state, settings))

    def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()

    def connection_failed(self, key: tuple) -> None:
        """Real traffic could not connect to the target (HAProxy's counters say so): one
        failed check, as a passive check counts it. Without it a host that went silent
        just after a check would be out only after `threshold` more intervals and a
        timeout; with traffic flowing, within a connect timeout and one check."""
        settings, state, run = self.settings.get(key), self.states.get(key), self.runs.get(key)
        if settings is None or state is None or run is None or not settings[0]:
            return
        run[0], run[1] = 0, run[1] + 1
        if run[1] >= settings[7] and state.health != "unhealthy":
            self._set(state, "unhealthy", "Target.Timeout", "Request timed out")

    async def _check_forever(self, state: TargetState, settings: tuple) -> None:
        enabled, protocol, port, path, interval, timeout, healthy_n, unhealthy_n, matcher = settings
        if not enabled:
            self._set(state, "healthy", None, None)
            return
        run = self.runs[state.target.key]   # successes, failures (passive ones too)
        # Checks start every interval, however long each takes (as ALB's do): a target
        # that stops answering is out within interval x threshold plus one timeout.
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            target = state.target
            check_port = target.port if port == "traffic-port" else int(port)
            status, why = await probe(target.host, check_port, path, timeout,
                                      protocol == "HTTPS")
            if status is not None and codes_match(matcher, status):
                run[0], run[1] = run[0] + 1, 0
                if run[0] >= healthy_n:
                    self._set(state, "healthy", None, None)
                elif state.health == "initial":
                    self._set(state, "initial", "Elb.InitialHealthChecking",
                              "Initial health checks in progress")
            else:
                run[0], run[1] = 0, run[1] + 1
                if run[1] >= unhealthy_n:
                    if status is not None:
                        self._set(state, "unhealthy", "Target.ResponseCodeMismatch",
                                  f"Health checks failed with these codes: [{status}]")
                    elif why == "timeout":
                        self._set(state, "unhealthy", "Target.Timeout", "Request timed out")
                    else:
                        self._set(state, "unhealthy", "Target.FailedHealthChecks",
                                  "Health checks failed")
            due = max(due + scaled(interval), loop.time())
            await asyncio.sleep(due - loop.time())

    def _set(self, state: TargetState, health: str, reason: str | None,
             description: str | None) -> None:
        if (state.health, state.reason, state.description) != (health, reason, description):
            state.health, state.reason, state.description = health, reason, description
            self.on_change(state)
