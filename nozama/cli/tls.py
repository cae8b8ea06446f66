"""The API's TLS: a certificate given (`--tls-cert/--tls-key`), or one that Nozama's own
certificate authority issues at start for the names the server is reached by (`--tls`).

The authority is the one whose root signs the load balancers' ACM certificates (it
lives in the store); clients trust it with `AWS_CA_BUNDLE` (the SDKs and the CLI) or
`--ca-bundle` (agents): `nozama ca` prints it.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import tempfile
from datetime import datetime, timezone

from nozama.model import certificate_authority as ca
from nozama.model.certificates import key_pem
from nozama.store import Store
from nozama.store import certificates as cert_store


class TlsError(Exception):
    """The certificate or key cannot be used."""


def server_context(cert: str | None, key: str | None, issue: bool, store: Store,
                   host: str) -> ssl.SSLContext | None:
    """The server's TLS context, or None for plain HTTP."""
    if cert or key:
        if not (cert and key):
            raise TlsError("--tls-cert and --tls-key go together")
        return _context(cert, key)
    if not issue:
        return None
    now = datetime.now(timezone.utc)
    with store.write() as conn:
        root = ca.Root.from_bytes(cert_store.authority(conn, lambda: ca.new_root(now)
                                                       .to_bytes()))
    private = ca.new_key("EC_prime256v1")
    certificate = ca.issue(root, names(host), private, now)
    # ssl loads a chain only from files: write them where only this user reads, briefly.
    directory = tempfile.mkdtemp(prefix="nozama-tls-")
    try:
        chain, secret = os.path.join(directory, "chain.pem"), os.path.join(directory, "key.pem")
        with open(chain, "w") as out:
            out.write(certificate + root.certificate)
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as out:
            out.write(key_pem(private))
        return _context(chain, secret)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def names(host: str) -> list[str]:
    """What clients call the server: its address, and this machine's names."""
    found = [] if host in ("0.0.0.0", "::", "") else [host]
    found += ["localhost", "127.0.0.1", socket.gethostname()]
    if host in ("0.0.0.0", "::", ""):
        try:
            found += socket.gethostbyname_ex(socket.gethostname())[2]
        except OSError:
            pass
    return list(dict.fromkeys(found))


def _context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise TlsError(f"cannot use {cert} and {key}: {error}") from None
    return context



def write_root(store: Store, path) -> str:
    """Write the authority's root certificate to `path` (for clients on this machine)."""
    with store.read() as conn:
        root = ca.Root.from_bytes(cert_store.authority_if_any(conn))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        out.write(root.certificate)
    return str(path)
