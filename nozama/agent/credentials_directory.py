"""The host's task credentials directory, which every agent's endpoint answers from.

One file per credentials id, `<id>.json`, mode 0600 in a 0700 directory owned by the
agents' user (root): the credentials of the tasks of every agent on the host, written
by the agent whose task it is (agent/task_credentials.py) and read by whichever agent's
endpoint a container's connection reaches (agent/credentials_endpoint.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PATH = os.environ.get("NOZAMA_TASK_CREDENTIALS_DIR", "/run/nozama/task-credentials")
ID = re.compile(r"[0-9a-f]{32}")


class CredentialsDirectory:
    """The host's task credentials: `<credentials id>.json`, mode 0600 in a 0700 directory
    owned by this user. A directory that is not (a symlink, another owner's) is not used:
    whoever controls it could read or plant credentials."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def prepare(self) -> bool:
        """Make the directory if need be; whether it is safe to use."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            found = os.lstat(self.path)
        except OSError as error:
            log.error("cannot make the task credentials directory %s (%s): task IAM roles "
                      "will not work on this host", self.path, error)
            return False
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
            log.error("%s is not a directory of this user: task IAM roles will not work on "
                      "this host", self.path)
            return False
        if stat.S_IMODE(found.st_mode) != 0o700:
            os.chmod(self.path, 0o700)
        return True

    def write(self, credentials_id: str, task_arn: str, credentials: dict,
              expires_at: float) -> None:
        """Replace the file of `credentials_id` whole: a reader sees the old or the new."""
        document = json.dumps({"taskArn": task_arn, "expiresAt": expires_at,
                               "credentials": credentials}).encode()
        temporary = self.path / f".{credentials_id}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o600)
        try:
            try:
                os.write(descriptor, document)
            finally:
                os.close(descriptor)
            os.replace(temporary, self._file(credentials_id))
        except OSError:
            temporary.unlink(missing_ok=True)
            raise

    def read(self, credentials_id: str, now: float) -> dict | None:
        """The credentials of an id, or None: unknown, malformed, or expired."""
        if not ID.fullmatch(credentials_id):
            return None
        try:
            descriptor = os.open(self._file(credentials_id), os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as source:
                document = json.loads(source.read())
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict) or document.get("expiresAt", 0) <= now:
            return None
        return document.get("credentials")

    def remove(self, credentials_id: str) -> None:
        try:
            self._file(credentials_id).unlink()
        except FileNotFoundError:
            pass

    def sweep(self, now: float) -> int:
        """Remove the expired files (of any agent: a killed one cleans nothing up)."""
        removed = 0
        for path in self.path.glob("*.json"):
            try:
                if json.loads(path.read_bytes()).get("expiresAt", 0) > now:
                    continue
            except (OSError, ValueError, AttributeError):
                pass        # unreadable: of no use to anyone either
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def _file(self, credentials_id: str) -> Path:
        return self.path / f"{credentials_id}.json"
