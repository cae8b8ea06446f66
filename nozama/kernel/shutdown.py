"""Stopping a process promptly: every Nozama process exits within 5 s of SIGTERM or SIGINT.

Each process first stops in order (stop accepting, cancel what waits, write what must
survive). What can still hold it afterwards is a worker thread blocked in a call that
cannot be interrupted: a `docker stop` waiting out a container's stop timeout, a
PutLogEvents to a control plane that is going away, an outbound HTTP call. The
interpreter's exit joins every such thread, so one of them would keep the process
alive for as long as the call takes. Those calls are safe to abandon: Docker finishes
a stop on its own, an agent that starts again adopts its containers and resumes its
logs, and nothing of the store is written from them. Two guards follow from that:

- `arm_deadline()`, called when the stop signal arrives: if the process still runs
  EXIT_SECONDS later (whatever it is stuck on, the event loop included), it names the
  threads still busy and exits at once;
- `finish(code)`, called after the orderly shutdown, exits at once, without the
  interpreter's teardown (which would wait for those threads, and takes its time).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
import traceback
from typing import Callable, NoReturn

log = logging.getLogger(__name__)

EXIT_SECONDS = 4.0     # within the 5 s a stop is allowed (`nozama up` kills past 4.5 s)

_armed = threading.Event()


def arm_deadline(code: int = 0, seconds: float = EXIT_SECONDS) -> None:
    """Exit with `code` `seconds` from now, unless the process has ended by then."""
    if _armed.is_set():
        return          # a second signal keeps the first deadline
    _armed.set()
    threading.Thread(target=_deadline, args=(code, seconds), daemon=True,
                     name="exit-deadline").start()


early_stop = threading.Event()   # SIGTERM came before the process could handle it


def catch_early_stop() -> None:
    """Record a SIGTERM that arrives before the event loop's handler is installed."""
    signal.signal(signal.SIGTERM, lambda *_: early_stop.set())


def stopping(stop: asyncio.Event) -> Callable[[], None]:
    """A stop signal's handler for an event loop: set `stop`, and arm the deadline."""
    def handler() -> None:
        arm_deadline()
        stop.set()
    return handler


def _deadline(code: int, seconds: float) -> None:
    time.sleep(seconds)
    log.warning("still stopping %.1fs after the stop signal; exiting now. Busy: %s",
                seconds, describe(busy_threads()) or "the main thread")
    _exit(code)


def finish(code: int) -> NoReturn:
    """After the orderly shutdown: exit with `code`, now.

    What would follow is the interpreter's teardown, which waits for every worker thread
    (see above) and frees every object one by one: a few tenths of a second of CPU for
    each process, seconds when `nozama up` stops five of them at once on a busy machine.
    None of it is needed: the store is closed, and the logs are flushed here."""
    left = busy_threads()
    if left:
        log.info("exiting without waiting for %d blocked call(s): %s", len(left),
                 describe(left))
    logging.shutdown()
    _exit(code)


def busy_threads() -> list[threading.Thread]:
    """Threads the interpreter's exit would wait for (all but the main and daemons)."""
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()]


def describe(threads: list[threading.Thread]) -> str:
    """Each thread's name and the call it is in, e.g. `docker_0 in adapters.py:send`."""
    frames = sys._current_frames()
    parts = []
    for thread in threads:
        frame = frames.get(thread.ident)
        where = ""
        if frame is not None:
            # The innermost frame outside the standard library says what it waits for.
            stack = traceback.extract_stack(frame)
            own = [f for f in stack if "/lib/python" not in f.filename
                   or "site-packages" in f.filename] or stack
            last = own[-1]
            where = f" in {os.path.basename(last.filename)}:{last.name}"
        parts.append(f"{thread.name}{where}")
    return ", ".join(parts)


def _exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe must not keep us alive
            pass
    os._exit(code)
