"""The registry's front: an HAProxy on the address clients push to and pull from.

It sends the requests that change what ECR shows (`PUT /v2/<name>/manifests/<ref>`) and
the token realm (`/_nozama/...`) to the gate; every other request (blobs, which are
nearly all the bytes) goes straight to Distribution. Timeouts are long: a layer of a few
GB takes minutes to upload. On a loopback address the front speaks plain HTTP, which
Docker accepts for 127.0.0.0/8 without `insecure-registries`; on any other address it
serves TLS with a certificate from Nozama's certificate authority, which Docker trusts
once the CA is in /etc/docker/certs.d/<host:port>/ca.crt (`nozama ca`).

The HAProxy process is lb/haproxy_master.Master's, in the registry's run directory.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from nozama.lb import haproxy_master


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def scheme(self) -> str:
        return "http" if self.loopback else "https"


def parse_address(text: str) -> Address:
    """HOST:PORT, where clients reach the registry (ValueError if it is not one)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host in ("0.0.0.0", "::", "*"):
        raise ValueError(f"{text!r}: give the address clients reach the registry at, "
                         "not a wildcard (it is in the images' URIs and the TLS certificate)")
    return Address(host, int(port))


def render_config(address: Address, gate_port: int, backend_port: int,
                  certificate_file: Path | None) -> str:
    tls = f" ssl crt {certificate_file}" if certificate_file is not None else ""
    return f"""\
# Written by `nozama registry` at each start.
global
    hard-stop-after 30s

defaults
    mode http
    timeout connect 5s
    timeout client 10m
    timeout server 10m
    timeout http-request 10m
    timeout http-keep-alive 60s

frontend registry
    bind {address}{tls}
    # Distribution writes absolute upload URLs (Location) with the scheme it is told.
    http-request set-header X-Forwarded-Proto {"https" if certificate_file else "http"}
    acl manifest_put method PUT
    acl manifest_path path_reg ^/v2/.+/manifests/[^/]+$
    use_backend gate if manifest_put manifest_path
    use_backend gate if {{ path_beg /_nozama/ }}
    default_backend distribution

backend distribution
    server registry 127.0.0.1:{backend_port}

backend gate
    server gate 127.0.0.1:{gate_port}
"""


class Front:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.master = haproxy_master.Master(run_dir)

    def start(self, config: str) -> None:
        """Put `config` in place and run HAProxy on it (replacing one a killed `nozama
        registry` left behind: its gate port is gone)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        candidate = self.run_dir / "haproxy.cfg.new"
        candidate.write_text(config)
        complaint = self.master.check(candidate)
        if complaint is not None:
            raise RuntimeError(f"HAProxy refused the front's configuration: {complaint}")
        if self.master.adopt():
            self.master.stop()
        os.replace(candidate, self.master.config)
        self.master.start()

    def alive(self) -> bool:
        return self.master.alive()

    def stop(self) -> None:
        """Stop at once: Distribution stops with it, so a graceful drain would only hold
        connections open to a closed backend (and `nozama up` gives its children 4.5 s)."""
        master = self.master
        if not master.alive():
            return
        for sig, seconds in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 0.5)):
            try:
                os.kill(master.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and master.alive():
                time.sleep(0.02)
            if not master.alive():
                break
        master.pid_file.unlink(missing_ok=True)


def write_certificate(run_dir: Path, certificate: str, private_key: str, chain: str) -> Path:
    """The PEM file HAProxy's `crt` takes (certificate, chain, key), private to this user."""
    path = run_dir / "front.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(certificate + chain + private_key)
    return path
