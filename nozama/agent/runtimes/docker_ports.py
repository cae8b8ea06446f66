"""Host ports for bridge-mode port mappings that ask for any port (hostPort 0).

The runtime picks the port itself, instead of letting Docker choose, so that it
can publish it explicitly and report it before the container starts. A port is
free when we can bind it; ports handed out stay reserved until their task is
cleaned up, since a created-but-not-started container does not hold its port yet.
"""

from __future__ import annotations

import random
import socket
import threading

EPHEMERAL_RANGE = (49153, 65535)       # what ECS uses for dynamic host ports


def is_free(port: int, protocol: str = "tcp") -> bool:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


class HostPortAllocator:
    def __init__(self, reserved: tuple[int, ...] = (), port_range=EPHEMERAL_RANGE):
        self._lock = threading.Lock()
        self._taken: dict[int, str] = {}          # port → owner (task ARN)
        self._reserved = set(reserved)
        self._range = port_range

    def allocate(self, owner: str, protocol: str = "tcp") -> int:
        """A free host port, reserved for `owner` until `release(owner)`."""
        low, high = self._range
        with self._lock:
            # Random probing keeps two agents on one host from racing for the same port.
            for _ in range(200):
                port = random.randint(low, high)
                if port in self._taken or port in self._reserved:
                    continue
                if is_free(port, protocol):
                    self._taken[port] = owner
                    return port
        raise RuntimeError("no free host port in the ephemeral range")

    def hold(self, owner: str, port: int) -> None:
        """Mark a port in use by an adopted task."""
        with self._lock:
            self._taken[port] = owner

    def release(self, owner: str) -> None:
        with self._lock:
            for port in [p for p, o in self._taken.items() if o == owner]:
                del self._taken[port]
