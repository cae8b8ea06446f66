"""Which server runs the controllers: the lease runner of every `nozama server`.

Several servers may share one PostgreSQL store; all of them serve the API, but only the
holder of the controllers' lease (store/leadership.py) runs the controllers, with a
FencedStore whose writes check the lease's epoch. Every TICK seconds each server renews
its heartbeat (store/servers.py) and either renews the lease (the leader) or tries to
take it (the others). A lease lasts LEASE_SECONDS; the leader also stops on its own at a
local deadline (when its last renewal was sent + LEASE_SECONDS - MARGIN), so a leader
that stalled (SIGSTOP, a long pause) steps down before its next write rather than after.

Stepping down cancels the controllers first, before anything else happens on the loop;
their loops are synchronous between awaits, so a cancel lands between transactions and
the fence covers a transaction already under way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Callable

from nozama.kernel.clock import Clock
from nozama.store import Store
from nozama.store import leadership as lease_store
from nozama.store import servers as server_store
from nozama.store.db import FencedStore, StoreUnavailable

log = logging.getLogger(__name__)

TOPIC = "leader"
LEASE_SECONDS = 3.0
TICK = 1.0
MARGIN = 0.5


class Leadership:
    def __init__(self, store: Store, clock: Clock, address: str = "",
                 on_gain: Callable[[FencedStore], None] = lambda fenced: None,
                 on_loss: Callable[[], None] = lambda: None,
                 server_id: str | None = None, version: str = "", wakeups=None):
        self.store, self.clock = store, clock
        self.server_id = server_id or uuid.uuid4().hex[:16]
        self.address, self.version = address, version
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.on_gain, self.on_loss = on_gain, on_loss
        self.started_at = clock.now()
        self.lease: lease_store.Lease | None = None
        self.deadline = 0.0       # monotonic: the leader steps down past it
        self.leader_id: str | None = None
        self.leader_epoch: int | None = None
        self.peers: list = []
        # A leader that stops cleanly wakes TOPIC: the others (kernel/wake_bridge.py)
        # try to take its lease at once rather than at their next tick.
        self.wakeups = wakeups
        self.stopped = False

    # ------------------------------------------------------------- the loop

    def tick(self) -> None:
        """One heartbeat, and one renewal or one attempt to lead."""
        if self.stopped:
            # The stop's own wake-up may resume `run` before its cancel lands (wait_for
            # returns what completed): a stopping server never takes the lease again.
            return
        if self.lease is not None and not self.still_leader():
            self.step_down("its lease passed its local deadline")
        now = self.clock.now()
        sent = self.clock.monotonic()
        try:
            with self.store.write() as conn:
                server_store.heartbeat(conn, self.server_id, self.host, self.pid, self.address,
                                       self.version, self.started_at, now)
                if self.lease is not None:
                    kept = lease_store.renew(conn, self.lease, now, LEASE_SECONDS)
                    gained = None
                else:
                    kept, gained = False, self._acquire(conn, now)
            with self.store.read() as conn:
                row = lease_store.current(conn)
                self.peers = server_store.live(conn, now)
        except StoreUnavailable:
            # The store's breaker logs the outage once; a leader that cannot renew its
            # lease stops its controllers now rather than at its deadline.
            if self.lease is not None:
                self.step_down("the store did not answer")
            return
        except Exception:
            log.exception("the leadership tick failed")
            if self.lease is not None:
                self.step_down("the store did not answer")
            return
        self.leader_id, self.leader_epoch = (row.holder, row.epoch) if row else (None, None)
        if self.lease is not None:
            if kept:
                self.deadline = sent + LEASE_SECONDS - MARGIN
            else:
                self.step_down("another server holds the lease now")
        elif gained is not None:
            self.lease, self.deadline = gained, sent + LEASE_SECONDS - MARGIN
            self.leader_id, self.leader_epoch = gained.holder, gained.epoch
            log.info("server %s leads the controllers, epoch %d", self.server_id, gained.epoch)
            self.on_gain(FencedStore(self.store, gained, self.clock, self.still_leader))

    def _acquire(self, conn, now):
        gained = lease_store.acquire(conn, self.server_id, now, LEASE_SECONDS)
        if gained is None:
            row = lease_store.current(conn)
            if row is not None and self._is_dead_local_server(conn, row.holder):
                # This host's previous server, killed without releasing: its lease
                # need not run out, so that a restarted server leads at once.
                lease_store.release(conn, lease_store.Lease(row.holder, row.epoch), now)
                gained = lease_store.acquire(conn, self.server_id, now, LEASE_SECONDS)
        return gained

    def _is_dead_local_server(self, conn, holder: str) -> bool:
        from nozama.store import sql
        row = sql.one(conn, "SELECT host, pid FROM servers WHERE id = ?", (holder,))
        if row is None or row.host != self.host or row.pid == self.pid:
            return False
        try:
            os.kill(row.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    async def run(self) -> None:
        while True:
            if self.wakeups is None:
                await asyncio.sleep(TICK)
            else:
                await self.wakeups.wait(TOPIC, timeout=TICK)
            self.tick()

    def still_leader(self) -> bool:
        return self.lease is not None and self.clock.monotonic() < self.deadline

    def step_down(self, why: str) -> None:
        lease, self.lease = self.lease, None
        if lease is None:
            return
        self.on_loss()   # the controllers stop before anything else runs
        log.warning("server %s no longer leads (epoch %d): %s; its controllers stopped",
                    self.server_id, lease.epoch, why)

    def stop(self) -> None:
        """A clean stop: controllers first, then the lease and the server's row go."""
        lease = self.lease
        self.stopped = True
        self.step_down("the server is stopping")
        try:
            with self.store.write() as conn:
                if lease is not None:
                    lease_store.release(conn, lease, self.clock.now())
                server_store.withdraw(conn, self.server_id)
        except Exception:
            log.exception("releasing the lease failed")
            return
        if lease is not None and self.wakeups is not None:
            self.wakeups.wake(TOPIC)

    # ------------------------------------------------------------- health

    def status(self) -> dict:
        now = self.clock.now()
        return {"leader": self.still_leader(), "epoch": self.leader_epoch,
                "leaderId": self.leader_id, "serverId": self.server_id,
                "peers": [{"id": p.id, "address": p.address, "host": p.host,
                           "ageSeconds": round((now - _aware(p.heartbeat_at))
                                               .total_seconds(), 3)}
                          for p in self.peers]}


def _aware(value):
    from nozama.kernel.clock import as_datetime
    return as_datetime(value)
