"""Wake-ups between the servers of one PostgreSQL store: LISTEN/NOTIFY for the bridge of
kernel/wake_bridge.py.

Two connections of its own per server, apart from the store's pool, each in a thread so
that the event loop never waits on them: the listener (LISTEN, then psycopg's
`notifies()`) and the publisher (`SELECT pg_notify(...)` in autocommit, for what the
bridge sends after the commit). The channel is named after the store's schema, so that
stores that share a database (one schema each) never hear each other.

A listener that loses its connection connects again every RETRY seconds; once it is
back, the bridge wakes everything, since NOTIFY reaches only listeners connected when it
is sent. A publisher that cannot reach the database drops what it had to send: the
listeners lost their connections too, and will wake everything when they are back.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading

from sqlalchemy import make_url

from nozama.kernel.wake_bridge import Bridge
from nozama.store.db import libpq_defaults

log = logging.getLogger(__name__)

RETRY = 1.0        # seconds between a listener's attempts to connect again
POLL = 1.0         # how often a waiting listener checks whether it must stop


def channel_of(schema: str) -> str:
    return "nozama_" + hashlib.sha256(schema.encode()).hexdigest()[:24]


class PostgresWakeups:
    """The LISTEN/NOTIFY transport of one server's Bridge."""

    def __init__(self, url: str, bridge: Bridge):
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.options = libpq_defaults(url)
        self.bridge = bridge
        bridge.send = self.send
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stopped = threading.Event()
        self.listening = threading.Event()   # set while the listener is connected
        self._threads = [threading.Thread(target=self._listen, daemon=True,
                                          name="wakeups-listen"),
                         threading.Thread(target=self._publish, daemon=True,
                                          name="wakeups-publish")]

    def start(self) -> "PostgresWakeups":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, flush: float = 1.0) -> None:
        """Stop listening; what is still to publish goes first, for up to `flush` s."""
        self._stopped.set()
        self._outbox.put(None)
        self._threads[1].join(flush)

    def send(self, payload: str) -> None:
        self._outbox.put(payload)

    def _connect(self):
        import psycopg
        conn = psycopg.connect(self.conninfo, autocommit=True, **self.options)
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        return conn, channel_of(schema or "public")

    # ------------------------------------------------------------- threads

    def _listen(self) -> None:
        import psycopg
        first = True
        while not self._stopped.is_set():
            conn = None
            try:
                conn, channel = self._connect()
                conn.execute(f'LISTEN "{channel}"')
                self.listening.set()
                if not first:
                    log.info("wake-ups from the other servers are heard again")
                    self.bridge.reconnected_threadsafe()
                first = False
                while not self._stopped.is_set():
                    for notice in conn.notifies(timeout=POLL):
                        self.bridge.received_threadsafe(notice.payload)
            except psycopg.Error as error:
                if self.listening.is_set() or first:
                    log.warning("not hearing the other servers' wake-ups: %s", error)
                first = False
            finally:
                self.listening.clear()
                if conn is not None:
                    conn.close()
            self._stopped.wait(RETRY)

    def _publish(self) -> None:
        import psycopg
        conn = channel = None
        while True:
            payload = self._outbox.get()
            batch = [payload]
            while not self._outbox.empty():   # what piled up goes in one round trip each
                batch.append(self._outbox.get())
            stopping = None in batch
            batch = [message for message in batch if message is not None]
            try:
                if conn is None and batch:
                    conn, channel = self._connect()
                for message in dict.fromkeys(batch):   # the same wake-up once
                    conn.execute("SELECT pg_notify(%s, %s)", (channel, message))
            except psycopg.Error as error:
                log.warning("could not tell the other servers of %d wake-ups: %s",
                            len(batch), error)
                if conn is not None:
                    conn.close()
                conn = None
            if stopping:
                break
        if conn is not None:
            conn.close()
