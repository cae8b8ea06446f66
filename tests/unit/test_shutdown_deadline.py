"""kernel/shutdown.py: a process whose orderly stop is done, or whose deadline passed,
exits at once even with a thread blocked in a call (which would hold the interpreter's
exit for as long as the call takes)."""

from __future__ import annotations

import subprocess
import sys
import time

BLOCKED_THREAD = """
import threading, time
threading.Thread(target=time.sleep, args=(60,), name="docker_0").start()
"""


def _run(script: str) -> tuple[int, float, str]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    return done.returncode, time.monotonic() - started, done.stderr


def test_finish_does_not_wait_for_a_blocked_worker_thread():
    code, seconds, _ = _run(BLOCKED_THREAD + """
from nozama.kernel import shutdown
shutdown.finish(3)
""")
    assert code == 3 and seconds < 10


def test_finish_exits_with_the_code_and_what_was_written():
    done = subprocess.run([sys.executable, "-c", """
import logging
from nozama.kernel import shutdown
logging.basicConfig(level="INFO")
print("written to a pipe, so buffered")
logging.getLogger("nozama").info("logged")
shutdown.finish(4)
raise SystemExit(0)   # not reached
"""], capture_output=True, text=True, timeout=30)
    assert done.returncode == 4
    assert done.stdout == "written to a pipe, so buffered\n"
    assert "logged" in done.stderr


def test_the_deadline_ends_a_process_that_hangs_and_names_what_is_busy():
    code, seconds, err = _run(BLOCKED_THREAD + """
import logging, time
logging.basicConfig()
from nozama.kernel import shutdown
shutdown.arm_deadline(seconds=0.3)
time.sleep(60)     # the main thread hangs too
""")
    assert code == 0 and seconds < 10
    assert "still stopping 0.3s after the stop signal" in err and "docker_0" in err
