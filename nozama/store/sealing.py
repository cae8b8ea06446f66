"""Sealing secrets at rest: AES-256-GCM with a key that lives beside the store, not in it.

Access keys' secrets must be readable by the server (SigV4 signs with the secret
itself: there is no hash to keep instead), so they are encrypted, and the key that
decrypts them is a file of the server's data dir (`secrets.key`, mode 0600, made at
the first start), never a row of the database. Whoever reads the database (a dump,
a backup, a replica) gets ciphertexts only.

With a PostgreSQL store the data dir holds no database, but it is still the server's
own directory (`--data-dir`, or the default one): every server of one database needs
a copy of the same `secrets.key`. The database keeps a check value of the key (an HMAC
of a constant, which says nothing of the key), so that a server started with another
key refuses to start and says which file to copy, instead of failing every signature.

Each ciphertext is bound to its row (the access key id is the associated data), so a
secret copied onto another key's row does not decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection

from nozama.store import server_keys

KEY_FILE = "secrets.key"
_VERSION = b"\x01"
_CHECK_NAME = "secrets-key-check"


class KeyMismatch(RuntimeError):
    """The data dir's key is not the one this database's secrets were sealed with."""


class Sealer:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("a sealing key is 32 bytes")
        self._aead = AESGCM(key)
        self.check_value = hmac.new(key, b"nozama secrets key check", hashlib.sha256).digest()

    def seal(self, plaintext: str, bound_to: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(),
                                                    bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str | None:
        """The plaintext, or None when `sealed` was not sealed by this key for this row."""
        sealed = bytes(sealed)
        if len(sealed) < 29 or sealed[:1] != _VERSION:
            return None
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], bound_to.encode()).decode()
        except (InvalidTag, UnicodeDecodeError):
            return None

    def check(self, conn: Connection, key_path: Path) -> None:
        """Record this key's check value if the database has none, else compare."""
        stored = server_keys.key(conn, _CHECK_NAME, lambda: self.check_value)
        if not hmac.compare_digest(stored, self.check_value):
            raise KeyMismatch(
                f"{key_path} is not the key this database's access keys were sealed with: "
                "copy secrets.key from the data dir of the server that first started on "
                "this database")


def load_key(data_dir: str | os.PathLike) -> tuple[bytes, Path]:
    """The sealing key of `data_dir`, made (readable by its owner only) if there is none.

    Two servers starting at once on one data dir both end with the key one of them made:
    the file is created whole under a temporary name, then linked into place, which
    fails for the second."""
    directory = Path(data_dir).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    if not path.exists():
        temporary = directory / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, secrets.token_bytes(32))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise KeyMismatch(f"{path} is not a sealing key (32 bytes)")
    return key, path
