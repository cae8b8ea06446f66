"""Asynchronous invocations (InvocationType Event): the durable queue, run in order.

Invoke writes the event to the function_events table before it answers 202;
this queue starts queued events as their functions' concurrency allows and
deletes each once it is done with, so an event survives a restart and runs at
least once, as Lambda's do. A failed event runs again later, up to the
function's MaximumRetryAttempts, and one older than MaximumEventAgeInSeconds is
dropped; the outcome goes to the configured destination (event_outcomes.py).
"""

from __future__ import annotations

import asyncio
import logging

from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ServiceError
from nozama.functions import notify
from nozama.functions import event_outcomes
from nozama.functions.limits import Throttled
from nozama.functions.routing import Route
from nozama.store import function_events
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

EVENTS_RUNNING = 64       # queued Event invocations running at once
EVENT_PAGE = 256          # queue rows read at a time
EVENT_SCAN_GAP = 0.05     # seconds between scans of the queue, however many events arrive


class EventQueue:
    def __init__(self, runtime, store=None):
        self.runtime = runtime      # the FunctionRuntime that runs the events
        # The leader's FencedStore on a server (only the leader runs the queue, so no two
        # servers start one event); the runtime's store where one process does it all.
        self.store = store or runtime.store
        self._events_running: set[int] = set()

    async def run(self) -> None:
        """Run queued Event invocations, oldest first, as many at once as their functions'
        concurrency allows. One leaves the queue once it ran (so after a crash it runs
        again: at least once, as Lambda's are)."""
        while True:
            await notify.events_wait(self.runtime.wakeups, 1.0)
            try:
                self._start()
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:
                log.exception("starting queued function events failed")
            await asyncio.sleep(EVENT_SCAN_GAP)

    def _start(self) -> None:
        """Start what may run now. A function at its concurrency limit keeps its events
        queued, in order, and the scan goes on past them: one throttled function's backlog
        must not hold up every other function's events."""
        throttled: set[tuple] = set()
        after = 0
        while len(self._events_running) < EVENTS_RUNNING:
            with self.store.read() as conn:
                rows = function_events.oldest(conn, after, EVENT_PAGE, self.runtime.clock.now())
            for row in rows:
                function = (row.region, row.account, row.function_name)
                if row.id in self._events_running or function in throttled:
                    continue
                if len(self._events_running) >= EVENTS_RUNNING:
                    return
                if not self._start_one(row):
                    throttled.add(function)
            if len(rows) < EVENT_PAGE:
                return
            after = rows[-1].id

    def _start_one(self, row) -> bool:
        """Admit and start one queued event; False when its function is throttled."""
        if self._expired(row):
            return True
        ctx = RequestContext(row.region, row.account, row.request_id, self.store,
                             self.runtime.clock, self.runtime, self.runtime.wakeups)
        try:
            route = self.runtime.routes.route(ctx, row.function_name, row.qualifier)
            self.runtime.admit(route)
        except Throttled:
            return False
        except ServiceError as error:  # the function or alias is gone: nothing to run
            log.warning("dropping event %s for %s: %s", row.request_id, row.function_name,
                        error.message)
            route = None
        self._events_running.add(row.id)
        asyncio.ensure_future(self._run_one(row, route))
        return True

    def _expired(self, row) -> bool:
        """Drop an event older than its MaximumEventAgeInSeconds (EventAgeExceeded)."""
        now = self.runtime.clock.now()
        with self.store.read() as conn:  # the write (a lock on SQLite) only to drop
            settings = event_outcomes.settings(conn, row)
        if event_outcomes.age(row, now) <= settings.max_age:
            return False
        with self.store.write() as conn:
            function_events.remove(conn, row.id)
            event_outcomes.deliver(conn, row, settings.on_failure, event_outcomes.record(
                row, now, "EventAgeExceeded", row.attempts), now)
        log.info("dropped event %s for %s: older than %d seconds", row.request_id,
                 row.function_name, settings.max_age)
        notify.event_queued(self.runtime.wakeups)  # a destination's event may wait
        return True

    async def _run_one(self, row, route: Route | None) -> None:
        result = None
        try:
            if route is not None:
                result = await self.runtime.invoke(route, row.payload, request_id=row.request_id)
        except Exception:
            log.exception("event invocation %s failed", row.request_id)
        try:
            with self.store.write() as conn:
                if route is None:
                    function_events.remove(conn, row.id)
                else:
                    self._settle(conn, row, result)
        finally:
            self._events_running.discard(row.id)
            notify.event_queued(self.runtime.wakeups)  # a slot is free: the next may start

    def _settle(self, conn, row, result) -> None:
        """Done (to OnSuccess), again later, or given up (to OnFailure) after a run."""
        now = self.runtime.clock.now()
        settings = event_outcomes.settings(conn, row)
        attempts = row.attempts + 1
        if result is not None and not result.outcome.function_error:
            function_events.remove(conn, row.id)
            event_outcomes.deliver(conn, row, settings.on_success, event_outcomes.record(
                row, now, "Success", attempts, result), now)
        elif attempts <= settings.retries:
            function_events.retry(conn, row.id, attempts,
                                  event_outcomes.retry_at(attempts, now))
        else:
            function_events.remove(conn, row.id)
            event_outcomes.deliver(conn, row, settings.on_failure, event_outcomes.record(
                row, now, "RetriesExhausted", attempts, result), now)
