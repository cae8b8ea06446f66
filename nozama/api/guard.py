"""What a web page could make the endpoint do: refused before anything runs.

While Nozama runs on a developer's machine, any page that developer opens can send
it requests. Browsers send a "simple" cross-site request (a form post, a text/plain
fetch) without asking; they ask first (a CORS preflight, which Nozama never grants)
before adding any other header. So:

- an AWS request must be signed (gateway.py refuses one without SigV4 with
  MissingAuthenticationToken), and Nozama's own state-changing endpoints under
  /_nozama/ want the `X-Nozama-Client` header (or a signature): no page can add
  either to a cross-site request;
- a request the browser marks as cross-site (`Sec-Fetch-Site: cross-site` or
  `same-site`, or an `Origin` other than the endpoint's own) is refused, signed or not;
- a `Host` the server does not answer to is refused: a DNS-rebinding page reaches
  127.0.0.1 under its own name, and its requests then count as same-origin.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable
from urllib.parse import urlsplit

from nozama.kernel import errors
from nozama.kernel.http import HttpRequest

# The header Nozama's own clients (agents, `nozama functions`) send on /_nozama/ calls
# that change state. Not CORS-safelisted: a browser would preflight it.
CLIENT_HEADER = "x-nozama-client"

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_READ_ONLY = ("GET", "HEAD")


def _is_any(address: str) -> bool:
    return address in ("", "0.0.0.0", "::")


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address.lower() in _LOOPBACK_NAMES


def _machine_names() -> set[str]:
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    addresses = set()
    for name in list(names):
        try:
            addresses |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass  # a hostname that does not resolve: the names alone
    return names | addresses


def host_name(header: str) -> str:
    """The name or address of a Host header, without its port ("[::1]:4566" → "::1")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        header = header.partition(":")[0]
    return header.rstrip(".")


class AllowedHosts:
    """The names and addresses a server bound to `bind` answers to, and `extra` names
    (`nozama server --allowed-host`)."""

    def __init__(self, bind: str, extra: Iterable[str] = ()):
        self.bind_any = _is_any(bind)
        self.names = {host_name(name) for name in extra} | {bind.lower() or "0.0.0.0"}
        if self.bind_any or is_loopback(bind):
            self.names |= _LOOPBACK_NAMES | {"127.0.0.1", "::1"}
        if self.bind_any:
            self.names |= _machine_names()

    def allows(self, header: str, local_address: str) -> bool:
        name = host_name(header)
        if name in self.names:
            return True
        # Bound to every address: the one this connection came in on is the machine's own.
        return self.bind_any and bool(local_address) and name == local_address.lower()


def _origin_is_own(origin: str, host: str) -> bool:
    try:
        sent, own = urlsplit(origin.strip()), urlsplit(f"http://{host}")
        return (sent.scheme, sent.hostname, sent.port or 80) == \
            (own.scheme, own.hostname, own.port or 80)
    except ValueError:
        return False  # "null", or not a URL at all


def refusal(request: HttpRequest, hosts: AllowedHosts) -> errors.ServiceError | None:
    """Why a request must not run (Host, cross-site), or None."""
    host = request.headers.get("host", "")
    if not hosts.allows(host, request.local_address):
        return errors.AccessDenied(
            f"Nozama does not answer to the host '{host}'. Call it by an address it listens "
            "on, or allow the name with `nozama server --allowed-host NAME`.")
    site = request.headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site"):
        return errors.AccessDenied(
            f"Nozama refuses requests a browser marks as {site} (Sec-Fetch-Site).")
    origin = request.headers.get("origin")
    if origin is not None and not _origin_is_own(origin, host):
        return errors.AccessDenied(
            f"Nozama refuses requests from the origin '{origin}': only its own.")
    return None


def missing_client_header(request: HttpRequest) -> errors.ServiceError | None:
    """A state-changing call of Nozama's own endpoints must carry X-Nozama-Client (or a
    SigV4 Authorization header): no web page can add either without a preflight."""
    if request.method in _READ_ONLY or CLIENT_HEADER in request.headers \
            or request.headers.get("authorization", "").startswith("AWS4-"):
        return None
    return errors.MissingAuthenticationToken(
        "Missing Authentication Token: Nozama's own endpoints take calls with the "
        "'X-Nozama-Client' header (sent by its agents and CLI) or a SigV4 signature.")
