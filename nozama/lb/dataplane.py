"""The load balancer's data plane: `nozama lb`, the controller of an HAProxy.

It follows the ELBv2 tables: every POLL_SECONDS (QUIET_POLL_SECONDS once nothing
has changed for QUIET_AFTER_SECONDS) it reads the generation
counter the API bumps, and on a change loads a snapshot and renders HAProxy's
configuration from it (lb/haproxy_config.py). A change of structure
(listeners, rules, stickiness, timeouts) is checked and reloaded seamlessly;
anything else (weights, registrations, draining, health) goes through the
runtime API without a reload. The controller checks targets' health itself
(lb/health.py) and turns a verdict into a server's state.

It writes back only what it observes: targets' health, draining targets that
have left (their requests done or their delay over), every second the request
metrics of the second before, read from HAProxy's request log (a ring in
HAProxy's memory, streamed off the request path, lb/request_log.py), and,
after each change and every lb_presence.HEARTBEAT_SECONDS, that it serves each
load balancer whose listeners are all bound (which makes its State active).

HAProxy outlives the controller: killed, the next controller adopts it
(lb/haproxy_master.py); HAProxy killed, the controller starts it again within
a second, on the configuration and health it last knew.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import socket
from dataclasses import replace
from pathlib import Path

from nozama.kernel.clock import Clock
from nozama.lb import config as lb_config
from nozama.lb import haproxy_config, hosts
from nozama.lb.dns import DnsResponder
from nozama.lb.targets import TargetState
from nozama.lb.haproxy_master import Master
from nozama.lb.haproxy_runtime import Runtime
from nozama.lb.health import HealthChecker
from nozama.lb.meters import Meters
from nozama.lb.request_log import RequestLog
from nozama.metrics import per_second
from nozama.model import address_pools, lb_presence, lb_rules
from nozama.store import Store
from nozama.store import lb_address_pools as pool_store
from nozama.store import load_balancers as lb_store
from nozama.store import target_groups as tg_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
# Idle, it looks half as often: a change then reaches the traffic within 0.1 s, and the
# ones that follow (a deployment's steps) within 0.05 s again.
QUIET_POLL_SECONDS = 0.1
QUIET_AFTER_SECONDS = 10.0
SUPERVISE_SECONDS = 0.1
RETRY_SECONDS = 1.0
MAX_LEFT_OUT = 5   # listeners left out of one configuration before it is refused whole
# A process that may not bind ports below 1024 binds listener port + this offset
# instead (NOZAMA_LB_PORT_OFFSET); the API still reports the listener's own port.
PORT_OFFSET = int(os.environ.get("NOZAMA_LB_PORT_OFFSET", "0"))
# Admin state bits that keep a server out of rotation: maintenance forced (at runtime),
# inherited, or from a failed name resolution. (0x04 only remembers `disabled` in the
# configuration; it stays after the server is made ready.)
READY_MAINT = 0x01 | 0x02 | 0x20


class PoolError(Exception):
    """The address pool cannot be this data plane's."""


def default_threads() -> int:
    return int(os.environ.get("NOZAMA_LB_THREADS") or len(os.sched_getaffinity(0)))


class DataPlane:
    def __init__(self, store: Store, owner: str, run_dir: Path, clock: Clock | None = None,
                 threads: int | None = None, address_pool: str | None = None,
                 dns_responder: DnsResponder | None = None):
        self.store = store
        # The addresses this host owns, which load balancers take (None: loopback ones).
        self.address_pool = address_pool
        self.pool_owner = f"{socket.gethostname()}:{run_dir}"
        self.dns_responder = dns_responder   # answers the names for other hosts
        self.clock = clock or Clock()
        self.owner = owner          # names this data plane's block of /etc/hosts
        self.run_dir = run_dir
        self.threads = threads or default_threads()
        self.master = Master(run_dir)
        self.runtime = Runtime(str(self.master.runtime_socket))
        self.dns: dict[str, str] = {}
        self.targets: dict[tuple, TargetState] = {}
        self.health = HealthChecker(self._health_changed)
        self.health_changes: dict[int, TargetState] = {}
        self.meters = Meters()
        self.log = RequestLog(self.meters)
        self.snapshot: lb_config.Snapshot | None = None
        self.generation = -1
        self.rendered: haproxy_config.Rendered | None = None   # what HAProxy runs
        self.maps: dict[str, list] = {}       # map contents HAProxy has
        self.written: dict[str, bytes] = {}   # files on disk
        self.dirty = True                     # the snapshot or health changed
        self.applied_at = 0.0
        self.changed_at = 0.0                 # when the generation last moved
        self.retry = False                    # something to try again in a while
        self.unbound: dict[str, str] = {}     # load balancer -> a listener it cannot bind
        self.refused: str | None = None       # why the latest configuration is not served
        self.rejected: dict[str, str] = {}    # load balancer -> a listener HAProxy refuses
        self.refused_structure: str | None = None
        self.groups_of: dict[str, set[str]] = {}
        self.heartbeat_at: float | None = None
        self.connections: dict[str, int] = {}             # load balancer -> open ones
        self.readers: set[asyncio.Task] = set()
        self.worker: int | None = None        # the current HAProxy worker's pid
        self.lock = asyncio.Lock()            # one change of HAProxy at a time

    # ------------------------------------------------------------ running

    async def run(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)   # it holds the listeners' private keys and admin sockets
        (self.run_dir / "files").mkdir(exist_ok=True)
        (self.run_dir / "maps").mkdir(exist_ok=True)
        self._record_pool()
        await self.step()
        helpers = [asyncio.ensure_future(self._supervise()),
                   asyncio.ensure_future(self._watch_stats()),
                   asyncio.ensure_future(per_second.every_second(
                       self.clock, self.publish_metrics, "load balancer"))]
        try:
            while True:
                quiet = self.clock.monotonic() - self.changed_at > QUIET_AFTER_SECONDS
                await asyncio.sleep(QUIET_POLL_SECONDS if quiet else POLL_SECONDS)
                try:
                    await self.step()
                except StoreUnavailable:
                    pass   # the store logs an outage once; HAProxy keeps its last config
                except Exception:  # a bad moment of the database must not stop the traffic
                    log.exception("load balancer update failed")
        finally:
            for helper in helpers + list(self.readers):
                helper.cancel()

    def _record_pool(self) -> None:
        """Record this host's address pool, which CreateLoadBalancer hands addresses from;
        a pool that overlaps another data plane's is refused (PoolError)."""
        with self.store.write() as conn:
            pool_store.forget(conn, self.pool_owner, keep=self.address_pool)
            if self.address_pool is not None:
                problem = pool_store.record(conn, self.address_pool, self.pool_owner,
                                            self.clock.now())
                if problem is not None:
                    raise PoolError(problem)

    def _claim_addresses(self) -> None:
        """Load balancers made before this pool was recorded (with a loopback address)
        move into it, so that other hosts reach them."""
        if self.address_pool is None:
            return
        with self.store.write() as conn:
            pools = pool_store.cidrs(conn)
            taken = lb_store.addresses(conn)
            for arn, address in lb_store.arns_and_addresses(conn):
                if address_pools.contains(pools, address):
                    continue
                new = address_pools.free_address(pools, taken)
                if new is None:
                    log.error("no address is left in the pool %s for load balancer %s",
                              self.address_pool, arn)
                    return
                lb_store.set_address(conn, arn, new)
                lb_store.bump_generation(conn)
                taken.add(new)
                log.info("load balancer %s moves from %s to %s", arn, address, new)

    async def step(self) -> None:
        generation = lb_config.generation(self.store)
        if generation != self.generation:
            self._claim_addresses()
            generation = lb_config.generation(self.store)
            self.snapshot = lb_config.load(self.store)
            self.generation = self.snapshot.generation
            self._follow_targets(self.snapshot)
            self.dirty = True
            self.heartbeat_at = None  # say at once that new load balancers are served
            self.changed_at = self.clock.monotonic()
        now = self.clock.monotonic()
        if (self.unbound or self.retry) and now - self.applied_at >= RETRY_SECONDS:
            self.dirty = True   # a port another program held may be free by now
        if self.dirty:
            self.dirty = False
            self.applied_at = now
            try:
                await self.apply()
            except BaseException:
                # Not applied (HAProxy's socket refused, say, in the middle of a reload):
                # the next step tries again, and health is recorded only once it is.
                self.dirty = True
                raise
        self._write_health()
        await self._remove_drained()
        self._heartbeat()

    def _follow_targets(self, snapshot: lb_config.Snapshot) -> None:
        """Targets keep the health they had across snapshots; new ones start from what the
        store last recorded (so that a restarted controller routes at once)."""
        states = {}
        for group in snapshot.target_groups.values():
            for target in group.targets:
                state = self.targets.get(target.key)
                if state is None:
                    state = TargetState(target, *target.health)
                else:
                    state.target = target
                states[target.key] = state
        self.targets = states
        self.health.update(states, snapshot.target_groups)
        self.groups_of = _groups_of(snapshot.listeners.values())
        if self.dns_responder is not None:
            self.dns_responder.update(snapshot.dns_names)
        if snapshot.dns_names != self.dns and hosts.write(snapshot.dns_names, self.owner):
            self.dns = snapshot.dns_names

    # ------------------------------------------------------------ HAProxy

    async def apply(self) -> None:
        async with self.lock:
            snapshot = await self._bindable(self.snapshot)
            try:
                rendered = self._render(snapshot)
            except ValueError as error:   # a value no configuration can hold
                log.error("cannot render generation %d: %s", self.generation, error)
                if self.rendered is not None:
                    self._refused(str(error), replace(self.rendered, structure=str(error)))
                return
            # A listener HAProxy refuses is left out (its load balancer says why), and
            # the rest goes on.
            self.rejected = {}
            for _ in range(MAX_LEFT_OUT):
                if self.rendered is not None and \
                        rendered.structure == self.rendered.structure:
                    break
                complaint = await self._check(rendered)
                smaller = complaint and self._without_refused_listeners(snapshot, rendered,
                                                                        complaint)
                if not smaller:
                    break
                snapshot = smaller
                rendered = self._render(snapshot)
            if self.rendered is None:
                await self._start_or_adopt(rendered)
            elif rendered.structure == self.rendered.structure:
                await self._runtime(rendered)
            elif rendered.structure == self.refused_structure:
                # Refused already: wait for a change. Targets' health and draining still
                # reach the servers the running configuration has.
                await self._runtime(rendered, servers_only=True)
            else:
                await self._reload(rendered)

    async def _bindable(self, snapshot: lb_config.Snapshot) -> lb_config.Snapshot:
        """The snapshot without the listeners whose address cannot be bound (a port another
        program holds): HAProxy would refuse the whole configuration for one of them."""
        if self.rendered is not None:
            bound = {(listener.address, haproxy_config.bind_port(listener.port, PORT_OFFSET))
                     for listener in self.rendered.frontends.values()}
        else:
            bound = _bound_by(self.master.config) if self.master.adopt() else set()
        kept, unbound = {}, {}
        for key, listener in snapshot.listeners.items():
            port = haproxy_config.bind_port(listener.port, PORT_OFFSET)
            if (listener.address, port) in bound or _can_bind(listener.address, port) or \
                    await self._serves(listener):
                kept[key] = listener
            else:
                log.error("cannot listen on %s:%d for %s: the port is taken", listener.address,
                          listener.port, listener.arn)
                unbound[listener.load_balancer_arn] = (
                    f"The listener on port {listener.port} cannot listen: another program "
                    f"holds {listener.address}:{port}")
        self.unbound = unbound
        return replace(snapshot, listeners=kept)

    async def _serves(self, listener: lb_config.Listener) -> bool:
        """Whether the running HAProxy has the listener's frontend (the port it holds is
        then its own, whatever this controller last knew of a reload)."""
        try:
            rows = await self.runtime.stats()
        except (OSError, asyncio.TimeoutError):
            return False
        name = haproxy_config.frontend_name(listener.arn)
        return any(r.get("pxname") == name and r.get("svname") == "FRONTEND" for r in rows)

    async def _start_or_adopt(self, rendered: haproxy_config.Rendered) -> None:
        if self.master.adopt():
            log.info("adopted the running HAProxy (pid %d)", self.master.pid)
            self.rendered = self.log.rendered = _previous(self.run_dir, rendered)
            self.log.targets = self.targets
            await self._read_log()   # of the worker it runs now
            if rendered.structure != self.rendered.structure:
                await self._reload(rendered)
            else:
                self.maps = {}   # what it holds is unknown: set every map again
                await self._runtime(rendered)
            return
        await self._start(rendered)

    def _render(self, snapshot: lb_config.Snapshot) -> haproxy_config.Rendered:
        """The configuration of `snapshot` with the health the targets have now."""
        ready = {key: state.health == "healthy" for key, state in self.targets.items()}
        return haproxy_config.render(snapshot, ready, str(self.run_dir), self.threads,
                                     PORT_OFFSET)

    async def _start(self, rendered: haproxy_config.Rendered) -> None:
        """Start HAProxy on `rendered`, once it is checked."""
        if not await self._write(rendered):
            return
        self.master.start()
        if await self._wait_until_up():
            self._committed(rendered)
            self.maps = dict(rendered.maps)
            log.info("HAProxy started (pid %d)", self.master.pid)
            await self._read_log()

    async def _wait_until_up(self, seconds: float = 5.0) -> bool:
        for _ in range(int(seconds / 0.02)):
            if await self.runtime.alive():
                return True
            if not self.master.alive():
                break
            await asyncio.sleep(0.02)
        log.error("HAProxy did not start: see %s", self.master.log_file)
        return False

    async def _check(self, rendered: haproxy_config.Rendered) -> str | None:
        """Write the configuration beside the one in place, with its files, and have
        HAProxy check it: None when it takes it, its complaint otherwise."""
        for path, content in rendered.files.items():
            if self.written.get(path) != content:
                _write_file(Path(path), content)
                self.written[path] = content
        _write_file(self.run_dir / "haproxy.cfg.new", rendered.text.encode())
        # The check is a process of its own (tens of milliseconds, more with many
        # certificates): the event loop goes on meanwhile.
        return await asyncio.get_running_loop().run_in_executor(
            None, self.master.check, self.run_dir / "haproxy.cfg.new")

    def _without_refused_listeners(self, snapshot: lb_config.Snapshot,
                                   rendered: haproxy_config.Rendered,
                                   complaint: str) -> lb_config.Snapshot | None:
        """The snapshot without the listener HAProxy's complaint is about (a certificate
        OpenSSL refuses, say), so that one listener does not hold back every load
        balancer's changes; None when the complaint names no listener."""
        name = _section_at(rendered.text, complaint)
        listener = rendered.frontends.get(name) if name else None
        if listener is None:
            return None
        lines = complaint.strip().splitlines()
        why = next((line for line in lines if "parsing [" in line), lines[-1])[:300]
        self.rejected[listener.load_balancer_arn] = (
            f"The listener on port {listener.port} cannot be served; HAProxy refuses its "
            f"configuration: {why}")
        log.error("leaving out listener %s, which HAProxy refuses: %s", listener.arn, why)
        return replace(snapshot, listeners={key: item for key, item in snapshot.listeners.items()
                                            if item.arn != listener.arn})

    async def _write(self, rendered: haproxy_config.Rendered) -> bool:
        """Put the configuration and its files in place, once HAProxy has checked them."""
        candidate = self.run_dir / "haproxy.cfg.new"
        complaint = await self._check(rendered)
        if complaint is not None:
            log.error("HAProxy refuses the configuration for generation %d; the previous one "
                      "keeps serving: %s", self.generation, complaint)
            self._refused(complaint, rendered)
            return False
        os.replace(candidate, self.master.config)
        return True

    async def _reload(self, rendered: haproxy_config.Rendered) -> None:
        previous = self.master.config.read_bytes() if self.master.config.exists() else None
        if not await self._write(rendered):
            return
        failure = await self.master.reload()
        if failure is not None:
            log.error("reload failed, the previous configuration keeps serving: %s", failure)
            if previous is not None:
                _write_file(self.master.config, previous)
            self._refused(failure, rendered)
            return
        self._committed(rendered)
        self.maps = {path: entries for path, entries in rendered.maps.items()}
        await self._read_log()

    async def _runtime(self, rendered: haproxy_config.Rendered,
                       servers_only: bool = False) -> None:
        """Bring the running HAProxy to `rendered` without a reload (only its servers'
        states, when `rendered` is not what it runs)."""
        for path, entries in ([] if servers_only else rendered.maps.items()):
            if self.maps.get(path) != entries:
                await self.runtime.replace_map(path, entries)
                self.maps[path] = entries
        actual = await self.runtime.servers()
        commands = []
        for backend in rendered.backends.values():
            have = actual.get(backend.name, {})
            options = haproxy_config.server_options(backend.group)
            for name, server in backend.servers.items():
                if name not in have:
                    if not backend.dynamic or servers_only:
                        continue
                    commands.append(f"add server {backend.name}/{name} "
                                    f"{server.address}:{server.port}{options}")
                    if server.ready:
                        commands.append(f"enable server {backend.name}/{name}")
                elif server.ready != (not have[name] & READY_MAINT):
                    state = "ready" if server.ready else "maint"
                    commands.append(f"set server {backend.name}/{name} state {state}")
            for name in have:
                if name not in backend.servers and backend.dynamic and not servers_only:
                    # Out of rotation first; HAProxy removes it once its connections end.
                    commands += [f"set server {backend.name}/{name} state maint",
                                 f"del server {backend.name}/{name}"]
        if commands:
            answer = await self.runtime.run_all(commands)
            # A server with connections left cannot be deleted yet: try again later.
            self.retry = "still" in answer or "cannot" in answer.lower()
        if not servers_only:
            self._write_files_only(rendered)
            self._committed(rendered)

    def _write_files_only(self, rendered: haproxy_config.Rendered) -> None:
        """What a restart would start from: the latest configuration, already checked in
        structure (its servers and maps are the runtime's)."""
        for path, content in rendered.files.items():
            if self.written.get(path) != content:
                _write_file(Path(path), content)
                self.written[path] = content
        _write_file(self.master.config, rendered.text.encode())

    def _refused(self, why: str, rendered: haproxy_config.Rendered) -> None:
        """Say so on every load balancer: which of them the change was for is not known."""
        first = why.strip().splitlines()[-1] if why.strip() else "no reason given"
        self.refused = ("The data plane could not apply the latest configuration and serves "
                        f"the previous one: {first[:300]}")
        self.refused_structure = rendered.structure
        self.heartbeat_at = None

    def _committed(self, rendered: haproxy_config.Rendered) -> None:
        if self.refused is not None:
            self.refused, self.refused_structure, self.heartbeat_at = None, None, None
        self.rendered = rendered
        self.log.rendered = rendered
        self.log.targets = self.targets
        _write_file(self.run_dir / "haproxy.structure", rendered.structure.encode())

    async def _read_log(self) -> None:
        """Read the request log of the current worker (a reload's new one), while the old
        one's reader reads on until it has finished."""
        self.worker = await self.master.current_worker()
        if self.worker is None:
            return
        task = asyncio.ensure_future(self.log.follow(self.runtime, self.worker,
                                                     lambda: self.worker))
        self.readers.add(task)
        task.add_done_callback(self.readers.discard)

    async def _supervise(self) -> None:
        """Start HAProxy again, on the last configuration and health, if it dies."""
        while True:
            await asyncio.sleep(SUPERVISE_SECONDS)
            if self.rendered is None or self.master.alive():
                continue
            log.error("HAProxy exited (status %s): starting it again", self.master.reap())
            async with self.lock:
                await self._start(self._render(await self._bindable(self.snapshot)))

    async def _watch_stats(self) -> None:
        """Open connections per load balancer, once a second (ActiveConnectionCount), and
        the targets that real traffic failed to connect to since (a passive check)."""
        errors: dict[tuple[str, str], int] = {}
        while True:
            await asyncio.sleep(1.0)
            if self.rendered is None:
                continue
            try:
                rows = await self.runtime.stats()
            except (OSError, asyncio.TimeoutError):
                continue
            connections = {}
            errors = self._connection_errors(rows, errors)
            for row in rows:
                name = row.get("pxname", "")
                listener = self.rendered.frontends.get(name)
                if row.get("svname") == "FRONTEND" and listener is not None:
                    lb = listener.load_balancer_arn
                    connections[lb] = connections.get(lb, 0) + int(row.get("scur") or 0)
                    self.log.connections_total(lb, name, int(row.get("stot") or 0))
            self.connections = connections

    def _connection_errors(self, rows: list[dict], before: dict) -> dict:
        """Each server's connection errors and retries so far; a server whose count grew
        since `before` counts a failed check."""
        servers = {(haproxy_config.backend_name(key[0]), haproxy_config.server_name(key)): key
                   for key in self.targets}
        now = {}
        for row in rows:
            key = servers.get((row.get("pxname"), row.get("svname")))
            if key is None:
                continue
            count = sum(int(row.get(field) or 0) for field in ("econ", "wretr"))
            now[(row["pxname"], row["svname"])] = count
            if count > before.get((row["pxname"], row["svname"]), count):
                self.health.connection_failed(key)
        return now

    # ------------------------------------------------------------ what it observes

    def publish_metrics(self, second: int) -> None:
        """Write what second `second` counted."""
        health: dict[str, dict[str, tuple[int, int]]] = {}
        for lb_arn, group_arns in self.groups_of.items():
            health[lb_arn] = {arn: (0, 0) for arn in group_arns}
        for state in self.targets.values():
            arn = state.target.target_group_arn
            for by_group in health.values():
                if arn in by_group:
                    healthy, unhealthy = by_group[arn]
                    by_group[arn] = (healthy + (state.health == "healthy"),
                                     unhealthy + (state.health == "unhealthy"))
        connections = {lb_arn: self.connections.get(lb_arn, 0) for lb_arn in self.groups_of}
        per_second.write(self.store, self.meters.publish(second, health, connections))

    def _health_changed(self, state: TargetState) -> None:
        self.health_changes[state.target.row_id] = state
        self.dirty = True

    def _write_health(self) -> None:
        if not self.health_changes:
            return
        changes, self.health_changes = self.health_changes, {}
        with self.store.write() as conn:
            tg_store.record_health(conn, [(row_id, s.health, s.reason, s.description)
                                          for row_id, s in changes.items()])

    async def _remove_drained(self) -> None:
        """A draining target leaves once its requests are done (HAProxy's count of its
        sessions, read now) or its delay is over."""
        draining = [s.target for s in self.targets.values() if s.target.draining]
        if self.rendered is None or not draining:
            return
        try:
            rows = await self.runtime.stats()
        except (OSError, asyncio.TimeoutError):
            return
        in_flight = {(row.get("pxname"), row.get("svname")): int(row.get("scur") or 0)
                     for row in rows}
        now = self.clock.now()
        gone = []
        for target in draining:
            server = (haproxy_config.backend_name(target.target_group_arn),
                      haproxy_config.server_name(target.key))
            if in_flight.get(server, 0) == 0 or (target.drain_ends_at and
                                                 target.drain_ends_at <= now):
                gone.append(target.row_id)
        if not gone:
            return
        with self.store.write() as conn:
            tg_store.remove_drained(conn, gone)
            lb_store.bump_generation(conn)

    def _heartbeat(self) -> None:
        """Record that this data plane serves its load balancers, and what keeps it from
        serving some of them as asked (which makes them active_impaired)."""
        now = self.clock.monotonic()
        if self.snapshot is None or self.rendered is None or (
                self.heartbeat_at is not None and
                now - self.heartbeat_at < lb_presence.HEARTBEAT_SECONDS):
            return
        problems = {**self.unbound, **self.rejected}
        if self.refused is not None:
            problems.update({arn: self.refused for arn in self.snapshot.load_balancers})
        with self.store.write() as conn:
            lb_store.mark_served(conn, self.snapshot.load_balancers, self.clock.now(), problems)
        self.heartbeat_at = now

    async def close(self, stop_haproxy: bool = True) -> None:
        hosts.write({}, self.owner)
        self.health.close()
        for reader in list(self.readers):
            reader.cancel()
        if stop_haproxy:
            if not self.master.alive():
                self.master.adopt()   # stopped before it had adopted a running HAProxy
            await asyncio.get_running_loop().run_in_executor(None, self.master.stop)


def _groups_of(listeners) -> dict[str, set[str]]:
    """The target groups each load balancer's rules forward to."""
    found: dict[str, set[str]] = {}
    for listener in listeners:
        groups = found.setdefault(listener.load_balancer_arn, set())
        for rule in listener.rules:
            groups.update(lb_rules.target_group_arns(rule["Actions"]))
    return found


def _can_bind(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
            return True
        except OSError as error:
            return error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)


def _section_at(text: str, complaint: str) -> str | None:
    """The name of the configuration section of the line HAProxy's complaint points at
    ("parsing [haproxy.cfg.new:79]")."""
    match = re.search(r"haproxy\.cfg\.new:(\d+)\]", complaint)
    if match is None:
        return None
    lines = text.splitlines()[:int(match.group(1))]
    for line in reversed(lines):
        if line.startswith(("frontend ", "backend ", "global", "defaults", "ring ")):
            kind, _, name = line.partition(" ")
            return name.strip() if kind == "frontend" else None
    return None


def _bound_by(config: Path) -> set[tuple[str, int]]:
    """The addresses a running HAProxy's configuration binds (it holds their ports)."""
    found = set()
    try:
        lines = config.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] == "bind":
            address, _, port = words[1].rpartition(":")
            found.add((address, int(port)))
    return found


def _previous(run_dir: Path, rendered: haproxy_config.Rendered) -> haproxy_config.Rendered:
    """What an adopted HAProxy runs, as far as a reload is concerned: the structure the
    previous controller recorded (its servers and maps are read back at runtime)."""
    try:
        structure = (run_dir / "haproxy.structure").read_text()
    except OSError:
        structure = ""
    return replace(rendered, structure=structure)


def _write_file(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
