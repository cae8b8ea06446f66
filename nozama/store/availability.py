"""The database going away: fail fast while it is gone, notice alone when it is back.

When a connection to PostgreSQL breaks (the server stopped, restarted, or the network
between dropped), every store call would otherwise try to reconnect on its own thread,
and the API's thread is the event loop: each request would wait for libpq's connect
timeout, and the whole server (health check included) would stop answering. Instead the
store trips this breaker on the first connection-level failure: from then on `read()`
and `write()` raise StoreUnavailable before touching the network, one daemon thread
probes the database every second, and the first probe that answers closes the breaker.
The gateway answers StoreUnavailable as a 503 in each service's own error family, which
every AWS SDK retries; background loops skip their tick without a traceback. The outage
is logged twice: when it starts and when it ends.

Only connection-level failures trip it: a constraint violation, a deadlock or a
serialization failure are the request's own errors and leave the breaker closed. A
deadlock or a serialization failure (two servers' transactions locking rows in turn,
store/clusters.py `lock`) raises StoreConflict: the transaction was rolled back whole,
so the client's retry of the request (an SDK retries the 503) or the controller's next
tick is the retry of the whole transaction.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from nozama.kernel.clock import Clock

log = logging.getLogger(__name__)

PROBE_INTERVAL = 1.0
OPEN = -1   # Breaker.state while the database is unreachable


class StoreUnavailable(Exception):
    """The database cannot be reached now; nothing of the request was written (or, for a
    connection lost during COMMIT, whether it was is unknown). Retrying later is right."""


class StoreConflict(StoreUnavailable):
    """PostgreSQL ended the transaction to break a deadlock (40P01) or a serialization
    failure (40001): nothing of it was written, and running it again is right. The
    breaker stays closed: the database is there."""


CONFLICT_STATES = frozenset({"40P01", "40001"})


class Breaker:
    """Open while the database is unreachable.

    `state` is a plain attribute the store compares with its thread's connection on every
    transaction, so the check costs one comparison on the hot path: the epoch (the count
    of recoveries, from 0) while closed, OPEN while open. A thread's cached connection
    from before the last outage is dropped before use (store/db.py) rather than found
    broken by a request.
    """

    def __init__(self, clock: Clock, probe: Callable[[], None],
                 interval: float = PROBE_INTERVAL, background: bool = True):
        self.clock = clock
        self.state = 0
        self.epoch = 0
        self.down_since: float | None = None
        self.cause = ""   # the failure that opened it, for the log and the error's message
        self._probe = probe
        self._interval = interval
        self._background = background
        self._lock = threading.Lock()
        self._probing = False
        self._closed = threading.Event()   # set by close(): the probe thread ends

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def trip(self, error: BaseException) -> StoreUnavailable:
        """Open on a connection-level failure (the first one of an outage is logged), and
        return the error the caller raises."""
        with self._lock:
            if not self.is_open:
                self.state = OPEN
                self.down_since = self.clock.monotonic()
                self.cause = _summary(error)
                log.warning("database unavailable (%s); answering 503 until it is back",
                            self.cause)
            start = self._background and not self._probing
            self._probing = True
        if start:
            threading.Thread(target=self._run, name="store-probe", daemon=True).start()
        return self.refusal()

    def refusal(self) -> StoreUnavailable:
        return StoreUnavailable(f"The database is unavailable ({self.cause}); retry later.")

    def probe_once(self) -> bool:
        """Try the database once; on an answer close the breaker (True)."""
        try:
            self._probe()
        except Exception:
            return False
        with self._lock:
            if self.is_open:
                down = self.clock.monotonic() - (self.down_since or 0.0)
                log.warning("database back after %.1f s", down)
            self.down_since = None
            self.epoch += 1
            self.state = self.epoch
            self._probing = False
        return True

    def close(self) -> None:
        self._closed.set()

    def _run(self) -> None:
        # The first probe at once: a broken connection left over from an earlier outage
        # (or a database restarted in a blink) needs no second of refusals.
        while not self._closed.is_set():
            if self.probe_once():
                return
            self._closed.wait(self._interval)
        with self._lock:
            self._probing = False


def _summary(error: BaseException) -> str:
    cause = error.__cause__ or error
    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    return f"{type(getattr(cause, 'orig', None) or cause).__name__}: {text[0] if text else ''}"
