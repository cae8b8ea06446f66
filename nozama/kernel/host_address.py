"""A host's own addresses: the one it is reached at, and whether an address is its own.

An agent registers the address its host is reached at: load balancers reach instance
targets there, and DescribeTasks shows it in the tasks' network bindings. By default
it is the source address of the host's route to the control plane (what the kernel
would use to talk to it), which is right for a host with one network; `--address`
names another, which must be one of the host's own. A data plane's address pool must
be the host's own too (`nozama lb --address-pool`).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressError(Exception):
    """The address cannot be this host's."""


def route_address(endpoint: str) -> str:
    """The source address of this host's route to the control plane at `endpoint`."""
    url = urlsplit(endpoint)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    try:
        family, _, _, _, target = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(target)   # UDP: picks the route, sends nothing
            return probe.getsockname()[0]
    except OSError as error:
        raise AddressError(f"no route to the control plane at {endpoint} ({error}); "
                           "give this host's address with --address") from None


def check_own(address: str) -> str:
    """`address` normalized, if it is a unicast address of this host; AddressError if not."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise AddressError(f"{address!r} is not an IP address") from None
    if parsed.is_unspecified or parsed.is_multicast:
        raise AddressError(f"{address} is not a host's address")
    family = socket.AF_INET6 if parsed.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(parsed), 0))   # the kernel binds only addresses the host owns
        except OSError:
            raise AddressError(f"{address} is not an address of this host, so nothing "
                               "would reach its tasks there") from None
    return str(parsed)
