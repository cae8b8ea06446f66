"""The load balancer's data plane: `nozama lb`.

It follows the ELBv2 tables: every POLL_SECONDS it reads the generation
counter the API bumps, and on a change reloads its snapshot, opens the
sockets of new listeners, closes those of deleted ones, and swaps rules,
weights and targets in place — new requests see a change within about
POLL_SECONDS, requests in flight finish as they began. It writes back only
what it observes: targets' health, draining targets that have left, every
second the request metrics of the second before (lb/meters.py), and, after
each reload and every lb_presence.HEARTBEAT_SECONDS, that it serves each load
balancer whose listeners are all bound (which makes its State active).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os

from nozama.kernel.clock import Clock
from nozama.lb import config as lb_config
from nozama.lb import hosts
from nozama.lb.balancer import Balancer, TargetState
from nozama.lb.health import HealthChecker
from nozama.lb.meters import Meters
from nozama.lb.proxy import ClientConnection, Pool, TraceIds
from nozama.metrics import per_second
from nozama.model import lb_presence, lb_rules
from nozama.store import Store
from nozama.store import load_balancers as lb_store
from nozama.store import target_groups as tg_store

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
IDLE_SWEEP_SECONDS = 0.25
# A process that may not bind ports below 1024 binds listener port + this offset
# instead (NOZAMA_LB_PORT_OFFSET); the API still reports the listener's own port.
PORT_OFFSET = int(os.environ.get("NOZAMA_LB_PORT_OFFSET", "0"))


class DataPlane:
    def __init__(self, store: Store, owner: str = "default", clock: Clock | None = None):
        self.store = store
        self.clock = clock or Clock()
        self.owner = owner          # names this data plane's block of /etc/hosts
        self.dns: dict[str, str] = {}
        self.balancer = Balancer(self.clock)
        self.traces = TraceIds(self.clock)  # X-Amzn-Trace-Id for requests without one
        self.pool = Pool()
        self.health = HealthChecker(self._health_changed, self.clock)
        self.servers: dict[tuple[str, int], asyncio.base_events.Server] = {}
        self.listeners: dict[tuple[str, int], lb_config.Listener] = {}
        self.connections: set[ClientConnection] = set()
        self.generation = -1
        self.health_changes: dict[int, TargetState] = {}
        self.meters = Meters()
        # The target groups each load balancer forwards to, for HealthyHostCount.
        self.groups_of: dict[str, set[str]] = {}
        self.balancers: list[str] = []   # the load balancers of the current snapshot
        self.listeners_wanted: dict[tuple[str, int], lb_config.Listener] = {}
        self.heartbeat_at: float | None = None  # monotonic time of the last heartbeat

    async def run(self) -> None:
        helpers = [asyncio.ensure_future(self._sweep_idle()),
                   asyncio.ensure_future(per_second.every_second(
                       self.clock, self.publish_metrics, "load balancer"))]
        try:
            await self._follow()
        finally:
            for helper in helpers:
                helper.cancel()

    async def _sweep_idle(self) -> None:
        # One sweep four times a second costs less than a timer per request.
        while True:
            await asyncio.sleep(IDLE_SWEEP_SECONDS)
            now = self.clock.monotonic()
            for connection in list(self.connections):
                connection.check_idle(now)

    def publish_metrics(self, second: int) -> None:
        """Write what second `second` counted."""
        health: dict[str, dict[str, tuple[int, int]]] = {}
        for lb_arn, group_arns in self.groups_of.items():
            health[lb_arn] = {arn: (0, 0) for arn in group_arns}
        for state in self.balancer.targets.values():
            arn = state.target.target_group_arn
            for by_group in health.values():
                if arn in by_group:
                    healthy, unhealthy = by_group[arn]
                    by_group[arn] = (healthy + (state.health == "healthy"),
                                     unhealthy + (state.health == "unhealthy"))
        connections = {lb_arn: 0 for lb_arn in self.groups_of}
        for connection in self.connections:
            lb_arn = connection.listener.load_balancer_arn
            connections[lb_arn] = connections.get(lb_arn, 0) + 1
        per_second.write(self.store, self.meters.publish(second, health, connections))

    async def _follow(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:  # a bad moment of the database must not stop the traffic
                log.exception("load balancer reload failed")
            await asyncio.sleep(POLL_SECONDS)

    async def step(self) -> None:
        generation = lb_config.generation(self.store)
        if generation != self.generation:
            snapshot = lb_config.load(self.store)
            await self.apply(snapshot)
            self.generation = snapshot.generation
            self.heartbeat_at = None  # say at once that new load balancers are served
        self._write_health()
        self._remove_drained()
        self._heartbeat()

    async def apply(self, snapshot: lb_config.Snapshot) -> None:
        if snapshot.dns_names != self.dns and hosts.write(snapshot.dns_names, self.owner):
            self.dns = snapshot.dns_names
        self.balancer.update(snapshot.target_groups)
        self.health.update(self.balancer.targets, snapshot.target_groups)
        self.groups_of = _groups_of(snapshot.listeners.values())
        self.listeners_wanted = snapshot.listeners
        self.balancers = list(snapshot.load_balancers)
        for key in list(self.servers):
            if key not in snapshot.listeners:
                self.servers.pop(key).close()
                gone = self.listeners.pop(key, None)
                # Its connections finish the request in flight, then close.
                for connection in list(self.connections):
                    if connection.listener is gone:
                        connection.finish_and_close()
        for key, listener in snapshot.listeners.items():
            current = self.listeners.get(key)
            if current is not None:
                # Existing connections hold this object: update it in place.
                current.rules, current.idle_timeout = listener.rules, listener.idle_timeout
                continue
            try:
                self.servers[key] = await self._listen(listener)
                self.listeners[key] = listener
            except OSError as error:
                log.error("cannot listen on %s:%d for %s: %s", listener.address, listener.port,
                          listener.arn, error)

    async def _listen(self, listener: lb_config.Listener):
        loop = asyncio.get_running_loop()
        port = listener.port
        try:
            return await loop.create_server(lambda: ClientConnection(self, listener),
                                            listener.address, port, reuse_address=True,
                                            backlog=1024)
        except OSError as error:
            if error.errno != errno.EACCES or not PORT_OFFSET:
                raise
        log.info("binding %s:%d as port %d (NOZAMA_LB_PORT_OFFSET)", listener.address, port,
                 port + PORT_OFFSET)
        return await loop.create_server(lambda: ClientConnection(self, listener),
                                        listener.address, port + PORT_OFFSET,
                                        reuse_address=True, backlog=1024)

    def _heartbeat(self) -> None:
        """Record that this data plane serves its load balancers: those whose listeners
        are all bound (one whose port is taken is not served)."""
        now = self.clock.monotonic()
        if self.heartbeat_at is not None and \
                now - self.heartbeat_at < lb_presence.HEARTBEAT_SECONDS:
            return
        unbound = {listener.load_balancer_arn for key, listener in self.listeners_wanted.items()
                   if key not in self.servers}
        with self.store.write() as conn:
            lb_store.mark_served(conn, [arn for arn in self.balancers if arn not in unbound],
                                 self.clock.now())
        self.heartbeat_at = now

    def _health_changed(self, state: TargetState) -> None:
        self.health_changes[state.target.row_id] = state

    def _write_health(self) -> None:
        if not self.health_changes:
            return
        changes, self.health_changes = self.health_changes, {}
        with self.store.write() as conn:
            tg_store.record_health(conn, [(row_id, s.health, s.reason, s.description)
                                          for row_id, s in changes.items()])

    def _remove_drained(self) -> None:
        """A draining target leaves once its requests are done or its delay is over."""
        now = self.clock.now()
        gone = [s.target.row_id for s in self.balancer.targets.values() if s.target.draining
                and (s.in_flight == 0 or (s.target.drain_ends_at and
                                          s.target.drain_ends_at <= now))]
        if not gone:
            return
        with self.store.write() as conn:
            tg_store.remove_drained(conn, gone)
            lb_store.bump_generation(conn)

    async def close(self) -> None:
        hosts.write({}, self.owner)
        self.health.close()
        for server in self.servers.values():
            server.close()
        for connection in list(self.connections):
            connection.close()
        self.pool.close()


def _groups_of(listeners) -> dict[str, set[str]]:
    """The target groups each load balancer's rules forward to."""
    found: dict[str, set[str]] = {}
    for listener in listeners:
        groups = found.setdefault(listener.load_balancer_arn, set())
        for rule in listener.rules:
            groups.update(lb_rules.target_group_arns(rule["Actions"]))
    return found
