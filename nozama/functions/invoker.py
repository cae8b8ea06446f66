"""Invocations: admission (concurrency limits), a warm or cold worker, logs, metrics.

The FunctionRuntime lives in the control plane's process, on its event loop:
Invoke hands it a route's version, it takes an idle worker of that version's
pool or starts one, waits for the outcome, and records what Lambda records:
the START/END/REPORT log lines and the AWS/Lambda metrics.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nozama.kernel.clock import Clock
from nozama.kernel.wakeups import Wakeups
from nozama.functions import limits, notify
from nozama.functions.container_workers import ContainerEngine, ContainerWorker
from nozama.functions.credentials import PLACEHOLDER, ExecutionRoles, WorkerCredentials
from nozama.functions.limits import Throttled
from nozama.functions.events import EventQueue
from nozama.functions.log_shipping import LogShipping, invocation_lines
from nozama.functions.meters import FunctionMeters
from nozama.functions.routing import Route, Routes
from nozama.functions.work_dirs import WorkDirs
from nozama.metrics import per_second
from nozama.functions.workers import (LEFTOVER_MARK, Invocation, Outcome, VersionSpec, Worker,
                                      kill_leftovers)
from nozama.store import Store
from nozama.store import function_events
from nozama.store import function_in_flight
from nozama.store import functions as function_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

IDLE_SECONDS = float(os.environ.get("NOZAMA_LAMBDA_IDLE_SECONDS", "600"))
TAIL_BYTES = 4096


@dataclass
class Result:
    outcome: Outcome
    executed_version: str
    log_tail: str | None = None


class Pool:
    """The workers of one version (one revision of $LATEST)."""

    def __init__(self, spec: VersionSpec, environment: dict[str, str], clock: Clock,
                 roles: ExecutionRoles | None = None, engine: ContainerEngine | None = None):
        self.spec = spec
        self.engine = engine      # the Docker Engine an image's workers run in
        self.environment = environment
        self.clock = clock
        self.roles = roles
        # The execution role's session the next worker starts with (functions/credentials).
        self.credentials: WorkerCredentials | None = None
        self.idle: list[Worker] = []
        self.workers: set[Worker] = set()
        self.retired = False

    async def acquire(self) -> Worker:
        self._renew_credentials()
        while self.idle:
            worker = self.idle.pop()
            if worker.alive and self._current(worker):
                return worker
            worker.kill()
        environment = dict(self.environment)
        if self.credentials is not None:
            environment.update(self.credentials.environment)
        if self.spec.image:
            worker = ContainerWorker(self.spec, environment, self.workers.discard, self.clock,
                                     self.engine)
        else:
            worker = Worker(self.spec, environment, self.workers.discard, self.clock)
        worker.credentials_key = self.credentials.key if self.credentials else ""
        self.workers.add(worker)
        try:
            await worker.start()
        except BaseException:
            self.workers.discard(worker)
            worker.kill()
            raise
        return worker

    def _renew_credentials(self) -> None:
        if self.roles is not None and self.spec.role:
            self.credentials = self.roles.current(self.credentials, self.spec.region,
                                                  self.spec.account, self.spec.function_name,
                                                  self.spec.role)

    def _current(self, worker: Worker) -> bool:
        """Whether a worker holds the credentials new workers get: one that holds an older
        session is retired rather than reused (its environment cannot change)."""
        return worker.credentials_key == (self.credentials.key if self.credentials else "")

    def release(self, worker: Worker) -> None:
        if worker.alive and not self.retired and self._current(worker):
            self.idle.append(worker)
        else:
            worker.kill()

    def retire(self) -> None:
        self.retired = True
        for worker in self.idle:
            worker.kill()
        self.idle.clear()

    def reap(self, idle_before: float) -> None:
        for worker in [w for w in self.idle if w.idle_since < idle_before]:
            self.idle.remove(worker)
            worker.kill()


class FunctionRuntime:
    def __init__(self, store: Store, clock: Clock, root: Path, wakeups: Wakeups,
                 server_id: str | None = None):
        self.store = store
        self.clock = clock
        self.wakeups = wakeups
        # Servers on one store and host share `root`; each works in its own directory
        # (functions/work_dirs.py) and marks its workers with it.
        self.server_id = server_id or uuid.uuid4().hex[:16]
        self.dirs = WorkDirs(store, clock, root, self.server_id)
        self.work_dir = str(self.dirs.own)
        self.routes = Routes(self.dirs.own, clock)
        # What servers gone from this store left running dies before this one starts a
        # worker of its own; live servers' workers are left alone.
        killed = 0
        for directory in self.dirs.leftovers():
            killed += kill_leftovers(directory)
            self.dirs.remove(directory)
        if killed:
            log.warning("killed %d processes that functions of an earlier control plane on "
                        "this data left running", killed)
        self.pools: dict[tuple, Pool] = {}
        # Image functions' containers; those an earlier control plane on this data left
        # are removed before the first starts (and now, in the background).
        self.engine = ContainerEngine(store, clock, self.work_dir,
                                      leftovers=self.dirs.leftover_test)
        threading.Thread(target=self.engine.remove_leftovers, daemon=True,
                         name="function-containers-leftovers").start()
        self.in_flight: Counter = Counter()        # (region, account, name) -> executions
        self.account_in_flight: Counter = Counter()  # (region, account) -> executions
        self.meters = FunctionMeters()
        self.logs = LogShipping(store, clock)
        self.events = EventQueue(self)
        self.roles = ExecutionRoles(store, clock)
        self.endpoint_url = ""
        self.ca_bundle = ""     # what an https:// endpoint_url is trusted by (AWS_CA_BUNDLE)
        notify.on_function_changed(wakeups, self.changed)

    # --------------------------------------------------------------- changes

    def changed(self, *function: str) -> None:
        """A function's configuration, versions or aliases changed: routes are stale, and
        so are the warm workers of a revision of $LATEST that is no longer the current
        one, or of a version (or function) deleted since. With no function named (the
        wake-up bridge reconnected: changes may have been missed), any of them may be."""
        if not function:
            self.routes.forget_all()
            for key in {key[:3] for key in self.pools}:
                self._changed(*key)
            return
        self._changed(*function)

    def _changed(self, region: str, account: str, name: str) -> None:
        self.routes.forget(region, account, name)
        with self.store.read() as conn:
            function = function_store.get(conn, region, account, name)
            stale = [key for key in self.pools if key[:3] == (region, account, name)
                     and not _current(conn, function, key[3], key[4])]
        for key in stale:
            self.pools.pop(key).retire()
        if function is None:  # deleted: its queued events have nothing left to run
            with self.store.write() as conn:
                function_events.remove_function(conn, region, account, name)

    # ----------------------------------------------------------- invocations

    def admit(self, route: Route) -> None:
        """Count an execution in, or raise Throttled."""
        fn_key = (route.primary.region, route.primary.account, route.function_name)
        account_key = fn_key[:2]
        if route.reserved is not None and not self._reserved_fits(route, fn_key):
            self._throttled(route)
            raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        if self.account_in_flight[account_key] >= limits.ACCOUNT_CONCURRENCY:
            if route.reserved is not None:
                self._record_shared(fn_key)   # the execution admitted above is not run
            self._throttled(route)
            raise Throttled("ConcurrentInvocationLimitExceeded")
        self.in_flight[fn_key] += 1
        self.account_in_flight[account_key] += 1
        self.meters.running(*fn_key, self.in_flight[fn_key])
        self.meters.running(*account_key, None, self.account_in_flight[account_key])

    def _reserved_fits(self, route: Route, fn_key: tuple) -> bool:
        """A reservation holds across the servers sharing the store: the other live
        servers' executions count (store/function_in_flight.py), and so does this one,
        recorded there before it runs. Functions without one never reach the store."""
        own = self.in_flight[fn_key]
        if own >= route.reserved:
            return False
        with self.store.write() as conn:
            return function_in_flight.admit(conn, *fn_key, self.server_id, own,
                                            route.reserved, self.clock.now())

    def _record_shared(self, fn_key: tuple) -> None:
        """This server's count of a reserved function's executions, for the others; a
        write the store misses is corrected by the next one (it is absolute)."""
        try:
            with self.store.write() as conn:
                function_in_flight.record(conn, *fn_key, self.server_id, self.in_flight[fn_key])
        except StoreUnavailable:
            pass   # the breaker logged the outage
        except Exception:
            log.exception("recording the executions in flight of %s failed", fn_key[2])

    def _throttled(self, route: Route) -> None:
        self.meters.throttled(route.primary.region, route.primary.account, route.function_name,
                              route.resource)

    def _leave(self, route: Route) -> None:
        fn_key = (route.primary.region, route.primary.account, route.function_name)
        self.in_flight[fn_key] -= 1
        self.account_in_flight[fn_key[:2]] -= 1
        if route.reserved is not None:
            self._record_shared(fn_key)
        if not self.in_flight[fn_key]:
            del self.in_flight[fn_key]

    async def invoke(self, route: Route, payload: bytes, client_context: str | None = None,
                     tail: bool = False, request_id: str | None = None) -> Result:
        """Run one invocation on an admitted route (see admit)."""
        spec = route.pick()
        request_id = request_id or str(uuid.uuid4())
        try:
            pool = self._pool(spec)
            worker = await pool.acquire()
            invocation = Invocation(request_id, payload, route.invoked_arn, spec.timeout,
                                    client_context)
            outcome = await worker.invoke(invocation)
            pool.release(worker)
        finally:
            self._leave(route)
        self.meters.invoked(spec.region, spec.account, route.function_name, route.resource,
                            spec.version if route.alias else None, outcome.duration_ms,
                            outcome.function_error)
        lines = invocation_lines(spec, request_id, outcome)
        self.logs.add(spec.region, spec.account, spec.log_group, worker.log_stream, lines)
        result = Result(outcome, spec.version)
        if tail:
            text = "".join(line + "\n" for line in lines).encode()
            result.log_tail = base64.b64encode(text[-TAIL_BYTES:]).decode()
        return result

    def _pool(self, spec: VersionSpec) -> Pool:
        pool = self.pools.get(spec.key)
        if pool is None:
            pool = self.pools[spec.key] = Pool(spec, self._environment(spec), self.clock,
                                                 self.roles, self.engine)
        return pool

    def _environment(self, spec: VersionSpec) -> dict[str, str]:
        # The API refuses the reserved names; the standard ones are set after, to win.
        env = dict(spec.environment)
        env.update({
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8", "TZ": ":UTC", "MALLOC_ARENA_MAX": "2",
            "LAMBDA_TASK_ROOT": str(spec.code_dir), "_HANDLER": spec.handler,
            "AWS_REGION": spec.region, "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        })
        # The function's own AWS calls come back to this Nozama, as its execution role
        # when it has one (the pool puts the role's session in over these).
        env.update(PLACEHOLDER)
        env[LEFTOVER_MARK] = self.work_dir
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = self.ca_bundle
        return env

    # ------------------------------------------------------- housekeeping

    async def run(self, events: bool = True) -> None:
        """Ship logs, publish each second's metrics, and stop workers idle too long; and
        run the Event queue unless `events` is False (on a server, the leader runs it)."""
        tasks = [asyncio.ensure_future(self.logs.run()),
                 asyncio.ensure_future(per_second.every_second(
                     self.clock, self.publish_metrics, "function")),
                 asyncio.ensure_future(self._reap())]
        if events:
            tasks.append(asyncio.ensure_future(self.events.run()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self.stop()

    def event_queue(self, store) -> EventQueue:
        """The Event queue writing through `store` (the leader's FencedStore)."""
        return EventQueue(self, store)

    def publish_metrics(self, second: int) -> None:
        in_flight = {**self.in_flight,
                     **{(r, a, None): n for (r, a), n in self.account_in_flight.items() if n}}
        per_second.write(self.store, self.meters.take(second, in_flight))

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(10.0, IDLE_SECONDS))
            for pool in list(self.pools.values()):
                pool.reap(self.clock.monotonic() - IDLE_SECONDS)

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.retire()
            for worker in list(pool.workers):
                worker.kill()
        try:  # the containers of image functions, before the process exits
            self.engine.stop()
        except Exception:
            log.exception("removing the function containers failed")
        try:  # what the last quarter second logged
            self.logs.write(self.logs.pending)
        except StoreUnavailable:
            log.warning("the last function logs are lost: the database is unavailable")
        except Exception:
            log.exception("shipping the last function logs failed")


def _current(conn, function, version: str, revision: str) -> bool:
    """Whether a pool's version (and revision of $LATEST) still is what an invoke runs."""
    if function is None:
        return False
    if version == "$LATEST":
        return revision == function.doc["RevisionId"]
    return function_store.get_version(conn, function.id, int(version)) is not None
