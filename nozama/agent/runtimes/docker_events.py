"""Docker's event stream, watched from a thread and handed to the event loop.

The runtime learns that a container died, ran out of memory or changed health
from `docker events` rather than by polling each container. The stream lives in
its own thread (the SDK blocks) and every event is delivered in order to an
asyncio queue. When the stream breaks (the Docker Engine restarted) the watcher
reconnects with backoff and delivers RESYNC, so the runtime re-reads its
containers and learns what happened while nobody was listening.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable

from nozama.agent.runtimes.base import LABEL_TASK_ARN

log = logging.getLogger(__name__)

RESYNC = {"Type": "nozama", "Action": "resync"}   # (re)connected: re-read every container
MIN_BACKOFF, MAX_BACKOFF = 0.25, 10.0


class EventWatcher:
    def __init__(self, connect: Callable[[], object], loop: asyncio.AbstractEventLoop,
                 queue: asyncio.Queue):
        self._connect = connect          # a new DockerClient for each connection
        self._loop = loop
        self._queue = queue
        self._closing = threading.Event()
        self._stream = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="docker-events")

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._closing.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()       # unblocks the thread's read
            except Exception:  # noqa: BLE001 - already broken is fine
                pass
        self._thread.join(timeout)

    def _deliver(self, event: dict) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:         # the loop is closed: nobody is listening
            self._closing.set()

    def _run(self) -> None:
        backoff = MIN_BACKOFF
        while not self._closing.is_set():
            try:
                self._follow()
                backoff = MIN_BACKOFF
            except Exception as error:  # noqa: BLE001 - any failure means reconnect
                if self._closing.is_set():
                    break
                log.warning("docker event stream failed (%s); reconnecting in %.1fs",
                            error, backoff)
            if self._closing.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _follow(self) -> None:
        client = self._connect()
        try:
            self._stream = client.events(decode=True, filters={
                "type": ["container"], "label": [LABEL_TASK_ARN]})
            # Subscribed: anything that happened before now is found by re-reading.
            self._deliver(RESYNC)
            for event in self._stream:
                self._deliver(event)
                if self._closing.is_set():
                    break
        finally:
            self._stream = None
            client.close()
