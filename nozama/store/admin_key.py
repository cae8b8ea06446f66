"""The account's first key: an administrator (root) access key made at the first start.

Without it nobody could call IAM to make the users and keys that everything else is
called with. The control plane makes it once per store: a server_keys row names it,
inserted by whichever server gets there first, so a restart, or a second server
starting at the same moment on the same database, finds the same key and makes none.
Its secret is sealed in the database like every other, and written in clear to one
place only: `<data dir>/admin-credentials` (mode 0600), in the AWS credentials file
format, so `AWS_SHARED_CREDENTIALS_FILE=<that file>` works as is.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nozama.model import iam as model
from nozama.store import access_keys, server_keys

FILE_NAME = "admin-credentials"


@dataclass(frozen=True)
class AdminKey:
    access_key_id: str
    secret_access_key: str
    path: Path
    created: bool      # made by this call: the one time it is announced


def ensure(store, keys: access_keys.AccessKeys, data_dir: str | os.PathLike, account: str,
           now: datetime) -> AdminKey | None:
    """The account's bootstrap key, made if this store never had one; its file written
    if missing. None when the key was deleted since (it is not made again)."""
    path = Path(data_dir).expanduser().resolve() / FILE_NAME
    with store.write() as conn:
        candidate = model.new_id("AKIA")
        named = server_keys.key(conn, f"bootstrap-admin-key/{account}",
                                lambda: candidate.encode()).decode()
        created = named == candidate
        secret = model.new_secret()
        if created:
            access_keys.insert(conn, named, account, "root", "", keys.seal(secret, named), now)
        else:
            row = access_keys.get(conn, named)
            secret = keys.sealer.open(row.secret, named) if row is not None else None
    if secret is None:
        return None
    if created or not path.exists():
        write_file(path, named, secret)
    return AdminKey(named, secret, path, created)


def write_file(path: Path, access_key_id: str, secret: str) -> None:
    """A credentials file (AWS's format, [default] profile), written whole under a temporary name readable by its owner only, then renamed:
    no reader ever sees half a file, nor a moment of wider permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(f"[default]\naws_access_key_id = {access_key_id}\n"
                  f"aws_secret_access_key = {secret}\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def read(data_dir: str | os.PathLike) -> tuple[str, str] | None:
    """(access key id, secret) from a data dir's admin-credentials, if it has one."""
    return read_file(Path(data_dir).expanduser().resolve() / FILE_NAME)


def read_file(path: Path) -> tuple[str, str] | None:
    """(access key id, secret) of a credentials file written by write_file, if readable."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    values = dict(line.split(" = ", 1) for line in lines if " = " in line)
    if "aws_access_key_id" not in values or "aws_secret_access_key" not in values:
        return None
    return values["aws_access_key_id"], values["aws_secret_access_key"]
