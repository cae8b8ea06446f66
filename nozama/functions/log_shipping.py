"""Function logs to CloudWatch Logs: /aws/lambda/NAME, a stream per worker.

Lines are buffered and written a few times a second in one transaction, as
Lambda's own log delivery is asynchronous: an invocation never waits on the
database for its logs. The group and stream are created on first use.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from nozama.kernel.clock import Clock
from nozama.store import Store
from nozama.store import log_events, log_groups, log_streams
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25


class LogShipping:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        # (region, account, group, stream) -> [(timestamp ms, message)]
        self.pending: dict[tuple, list[tuple[int, str]]] = defaultdict(list)

    def add(self, region: str, account: str, group: str, stream: str,
            lines: list[str]) -> None:
        now = int(self.clock.time() * 1000)
        self.pending[(region, account, group, stream)].extend((now, line) for line in lines)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            batches, self.pending = self.pending, defaultdict(list)
            if not batches:
                continue
            try:
                # In a thread: at a few thousand invocations a second a batch takes tens
                # of milliseconds to write, which the event loop must not wait for.
                await asyncio.to_thread(self.write, batches)
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:  # logs must never stop invocations
                log.exception("shipping function logs failed")

    def write(self, batches: dict[tuple, list[tuple[int, str]]]) -> None:
        now = int(self.clock.time() * 1000)
        with self.store.write() as conn:
            for (region, account, group_name, stream_name), events in batches.items():
                group = log_groups.get(conn, region, account, group_name)
                if group is None:
                    log_groups.create(conn, region, account, group_name, now, "STANDARD",
                                      False, {})
                    group = log_groups.get(conn, region, account, group_name)
                stream = log_streams.get(conn, group.id, stream_name)
                if stream is None:
                    log_streams.create(conn, region, account, group.id, stream_name, now)
                    stream = log_streams.get(conn, group.id, stream_name)
                rows = [{"group_id": group.id, "stream_id": stream.id, "timestamp": ts,
                         "ingestion_time": now, "size": len(message.encode()),
                         "message": message} for ts, message in events]
                log_events.insert_many(conn, rows)
                log_streams.record_upload(conn, stream.id, events[0][0], events[-1][0], now,
                                          sum(row["size"] for row in rows))


def invocation_lines(spec, request_id: str, outcome) -> list[str]:
    """What Lambda logs of one invocation: INIT_START on a cold start, START, the
    function's own output, END and REPORT."""
    lines = []
    if outcome.init_ms is not None and spec.runtime:  # an image brings its own runtime
        lines.append(f"INIT_START Runtime Version: {spec.runtime.replace('python', 'python:')}")
    lines.append(f"START RequestId: {request_id} Version: {spec.version}")
    output = outcome.output.decode(errors="replace")
    lines.extend(output.rstrip("\n").split("\n") if output else [])
    lines.append(f"END RequestId: {request_id}")
    report = (f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
              f"Billed Duration: {max(1, int(outcome.duration_ms + 0.999))} ms\t"
              f"Memory Size: {spec.memory_mb} MB\tMax Memory Used: {outcome.max_memory_mb} MB")
    if outcome.init_ms is not None:
        report += f"\tInit Duration: {outcome.init_ms:.2f} ms"
    if outcome.error_type == "Sandbox.Timedout":
        report += "\tStatus: timeout"
    elif outcome.error_type:
        report += f"\tStatus: error\tError Type: {outcome.error_type}"
    lines.append(report)
    return lines
