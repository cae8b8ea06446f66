"""Which Lambda runtimes this host can run, and the interpreter for each.

A python3.x runtime runs on a Python 3.x interpreter that can import awslambdaric
(the runtime interface client): Nozama's own interpreter for its version, else
`python3.x` on the PATH if that one has awslambdaric installed.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys

PYTHON_RUNTIMES = ("python3.11", "python3.12", "python3.13")


def supported(runtime: str) -> bool:
    return runtime in PYTHON_RUNTIMES


@functools.cache
def interpreter(runtime: str) -> str | None:
    """The interpreter that runs `runtime` here, or None when it is not installed."""
    if runtime not in PYTHON_RUNTIMES:
        return None
    if runtime == f"python{sys.version_info.major}.{sys.version_info.minor}":
        return sys.executable
    found = shutil.which(runtime)
    if found is None:
        return None
    probe = subprocess.run([found, "-c", "import awslambdaric"], capture_output=True,
                           timeout=30)
    return found if probe.returncode == 0 else None
