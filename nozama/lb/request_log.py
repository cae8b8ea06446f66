"""HAProxy's request log, turned into the load balancer's request metrics.

HAProxy writes a line per request into a ring in its own memory (no system
call on the request path); the controller streams the ring's new lines over
the runtime socket, in batches, and counts them into lb/meters.py. A line is
`R <frontend> <backend> <server> <status> <Tr>` (haproxy_config.LOG_FORMAT):
Tr is the milliseconds from the request's sending to the target's response
head, -1 when the target gave none. So a response with a server and a Tr came
from a target; any other is the load balancer's own (a fixed response, a
redirect, 400, or a 502/503/504 it answered for the request concerned).
If the controller falls behind, HAProxy overwrites the oldest lines: metrics
may miss requests, the traffic never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from nozama.lb import haproxy_config
from nozama.lb.haproxy_runtime import WrongWorker
from nozama.lb.meters import Meters

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 0.2
BATCH_SECONDS = 0.05
NO_SERVER = "<NOSRV>"


class RequestLog:
    def __init__(self, meters: Meters):
        self.meters = meters
        self.rendered: haproxy_config.Rendered | None = None
        self.targets: dict = {}
        self.sessions: dict[tuple[str, str], int] = {}   # (lb, frontend) -> accepted so far

    async def follow(self, runtime, worker: int, current) -> None:
        """Count the lines of worker `worker` until it is gone; `current()` is the pid of
        the worker HAProxy runs now (a stream that ends while it is this one starts again;
        one that ends after a reload was the old worker's last)."""
        while True:
            try:
                async for chunk in runtime.events(haproxy_config.REQUEST_LOG, worker,
                                                  BATCH_SECONDS):
                    self.count(chunk)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    WrongWorker) as error:
                log.debug("request log of worker %d: %s", worker, error)
            if current() != worker:
                return
            await asyncio.sleep(RECONNECT_SECONDS)

    def count(self, chunk: bytes) -> None:
        rendered = self.rendered
        if rendered is None:
            return
        frontends, servers, targets = rendered.frontends, rendered.servers, self.targets
        meters = self.meters
        # Most lines of a batch repeat (same listener, target, status and millisecond):
        # they are counted in C first, and each different line is handled once.
        for line, times in Counter(chunk.split(b"\n")).items():
            parts = line.split()
            if len(parts) != 6 or parts[0] != b"R":
                continue   # HAProxy's own messages share the ring
            listener = frontends.get(parts[1].decode())
            if listener is None:
                continue
            lb_arn = listener.load_balancer_arn
            try:
                status, response_ms = int(parts[4]), int(parts[5])
            except ValueError:
                continue
            server = servers.get((parts[2].decode(), parts[3].decode()))
            state = targets.get(server.target_key) if server is not None else None
            if state is None:
                meters.answered(lb_arn, status, times)
                continue
            meter = meters.target(lb_arn, state)
            meter.requests += times
            if response_ms < 0:
                # The target failed; the load balancer answered for it.
                meters.answered(lb_arn, status, times)
                continue
            meter.codes[status // 100 if status < 600 else 5] += times
            # HAProxy counts whole milliseconds: the middle of the millisecond is the
            # estimate with the least error.
            meter.response_time((response_ms + 0.5) / 1000, times)

    def connections_total(self, lb_arn: str, frontend: str, total: int) -> None:
        """A frontend's sessions so far (from its statistics): the new ones since the last
        reading are the load balancer's NewConnectionCount."""
        key = (lb_arn, frontend)
        before = self.sessions.get(key)
        self.sessions[key] = total
        if before is not None and total > before:
            self.meters.balancers[lb_arn].new_connections += total - before
