"""The access_keys table, and the lookup the SigV4 verifier makes on every request.

`AccessKeys.lookup(access_key_id, session_token)` answers what a key stands for: its
secret (decrypted, store/sealing.py) and its principal with the documents of its
policies, in one indexed query (the key's row, joined to its user or role and to that
principal's policies). None for a key that is unknown, Inactive, or presented with a
session token that is not its own. Temporary credentials past their expiration are
returned as they are, with their `expires_at`: the verifier refuses them as AWS does,
with ExpiredToken, rather than as a key it does not know.

The verifier calls it on every request, so each server keeps what it read for a few
seconds (CACHE_SECONDS). A change this server makes (UpdateAccessKey, DeleteAccessKey, a
policy put, attached or removed) forgets the keys it concerns here at once, and wakes
TOPIC: the other servers of the same store (kernel/wake_bridge.py) forget them too
(`on_wake`), so a key deleted on one is refused by all at once. A wake-up that was lost
is bounded by CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from nozama.kernel.clock import Clock
from nozama.model import iam as model
from nozama.model import iam_managed_policies as managed
from nozama.model.iam_policy import Policies
from nozama.store import sql
from nozama.store.sealing import Sealer

ACTIVE, INACTIVE = "Active", "Inactive"
TOPIC = "access-key"   # subject: a key id, or ("principal", account, ARN or its prefix)
CACHE_SECONDS = 5.0
_CACHE_ENTRIES = 10_000    # bounded: garbage key ids must not grow it without end


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- rows

def insert(conn: Connection, access_key_id: str, account: str, principal_type: str,
           principal_key: str, secret: bytes, created_at: datetime,
           session_token: str | None = None, session_name: str | None = None,
           expires_at: datetime | None = None) -> None:
    sql.run(conn, "INSERT INTO access_keys (access_key_id, account, principal_type, "
                  "principal_key, status, secret, created_at, session_token_sha256, "
                  "session_name, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (access_key_id, account, principal_type, principal_key, ACTIVE, secret,
             created_at, token_digest(session_token) if session_token else None,
             session_name, expires_at))


def of_principal(conn: Connection, account: str, principal_type: str,
                 principal_key: str) -> list:
    """A principal's long-term keys, oldest first."""
    return sql.all_rows(conn, "SELECT access_key_id, status, created_at FROM access_keys "
                              "WHERE account = ? AND principal_type = ? AND principal_key = ? "
                              "AND expires_at IS NULL ORDER BY created_at, access_key_id",
                        (account, principal_type, principal_key))


def get(conn: Connection, access_key_id: str):
    return sql.one(conn, "SELECT * FROM access_keys WHERE access_key_id = ?", (access_key_id,))


def set_status(conn: Connection, access_key_id: str, status: str) -> None:
    sql.run(conn, "UPDATE access_keys SET status = ? WHERE access_key_id = ?",
            (status, access_key_id))


def delete(conn: Connection, access_key_id: str) -> None:
    sql.run(conn, "DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,))


def purge_expired(conn: Connection, now: datetime) -> None:
    """Temporary keys past their expiry are of no use to anyone."""
    sql.run(conn, "DELETE FROM access_keys WHERE expires_at < ?", (now,))


# One indexed query: the key's row (primary key), its user or role (primary key), and
# that principal's policies (primary key prefix). A root key joins nothing.
_LOOKUP = (
    "SELECT k.account, k.principal_type, k.status, k.secret, k.session_token_sha256, "
    "k.session_name, k.expires_at, u.user_id, u.arn AS user_arn, r.role_id, "
    "r.name AS role_name, p.kind, p.policy_name, p.document "
    "FROM access_keys k "
    "LEFT JOIN iam_users u ON k.principal_type = 'user' AND u.account = k.account "
    "AND u.name_key = k.principal_key "
    "LEFT JOIN iam_roles r ON k.principal_type = 'role' AND r.account = k.account "
    "AND r.name_key = k.principal_key "
    "LEFT JOIN iam_principal_policies p ON p.account = k.account "
    "AND p.principal_type = k.principal_type AND p.principal_key = k.principal_key "
    "WHERE k.access_key_id = ?")


@dataclass(frozen=True)
class _Found:
    """What the cache keeps of a key: its credentials, and what they must be shown with."""
    credentials: model.Credentials | None
    token_sha256: str | None
    read_at: float


class AccessKeys:
    """The access keys' secrets, sealed and opened, and the verifier's lookup.

    One per server (cli/server.py makes it); reached as `store.access_keys`."""

    def __init__(self, store, sealer: Sealer, clock: Clock):
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self._cache: dict[str, _Found] = {}
        self._lock = threading.Lock()

    def seal(self, secret: str, access_key_id: str) -> bytes:
        return self.sealer.seal(secret, access_key_id)

    def lookup(self, access_key_id: str, session_token: str | None) -> model.Credentials | None:
        found = self._cached(access_key_id)
        if found is None:
            found = self._read(access_key_id)
        credentials = found.credentials
        if credentials is None:
            return None
        # A temporary key goes with its own token; a long-term key with none.
        if found.token_sha256 is None:
            return credentials if not session_token else None
        if not session_token or not hmac.compare_digest(token_digest(session_token),
                                                         found.token_sha256):
            return None
        return credentials

    def principal(self, access_key_id: str) -> model.Principal | None:
        """Whom a key stands for, its session token unchecked: for calls that name their
        key in the credential scope while signatures are not verified."""
        credentials = (self._cached(access_key_id) or self._read(access_key_id)).credentials
        if credentials is None or (credentials.expires_at is not None
                                   and credentials.expires_at <= self.clock.now()):
            return None
        return credentials.principal

    def forget(self, access_key_id: str) -> None:
        with self._lock:
            self._cache.pop(access_key_id, None)

    def on_wake(self, *subject: str) -> None:
        """A wake-up of TOPIC (from this server or another): forget what it names; with
        no subject (wake-ups may have been missed), everything."""
        if not subject:
            with self._lock:
                self._cache.clear()
        elif subject[0] == "principal" and len(subject) == 3:
            self.forget_principal(subject[1], subject[2])
        else:
            self.forget(subject[0])

    def forget_principal(self, account: str, arn_or_kind: str) -> None:
        """Forget every cached key whose principal's ARN is `arn_or_kind` (a user's, or an
        assumed role's prefix `arn:aws:sts::<account>:assumed-role/<role>/`)."""
        with self._lock:
            for key_id, found in list(self._cache.items()):
                principal = found.credentials.principal if found.credentials else None
                if principal is not None and principal.account == account \
                        and principal.arn.startswith(arn_or_kind):
                    del self._cache[key_id]

    def _cached(self, access_key_id: str) -> _Found | None:
        found = self._cache.get(access_key_id)
        if found is not None and self.clock.monotonic() - found.read_at < CACHE_SECONDS:
            return found
        return None

    def _read(self, access_key_id: str) -> _Found:
        with self.store.read() as conn:
            rows = sql.all_rows(conn, _LOOKUP, (access_key_id,))
        credentials, token = self._credentials(access_key_id, rows)
        found = _Found(credentials, token, self.clock.monotonic())
        with self._lock:
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[access_key_id] = found
        return found

    def _credentials(self, access_key_id: str, rows: list):
        if not rows or rows[0].status != ACTIVE:
            return None, None
        first = rows[0]
        secret = self.sealer.open(first.secret, access_key_id)
        principal = _principal(first, rows)
        if secret is None or principal is None:
            return None, None
        return model.Credentials(access_key_id, secret, principal, first.expires_at), \
            first.session_token_sha256


def active_principal(conn: Connection, access_key_id: str,
                     now: datetime) -> model.Principal | None:
    """Whom a key stands for, with its policies, if it is Active and unexpired; its secret
    is not opened. For the registry's gate, which checks ECR passwords rather than
    signatures and holds no sealing key."""
    rows = sql.all_rows(conn, _LOOKUP, (access_key_id,))
    if not rows or rows[0].status != ACTIVE:
        return None
    if rows[0].expires_at is not None and rows[0].expires_at <= now:
        return None
    return _principal(rows[0], rows)


def _principal(first, rows: list) -> model.Principal | None:
    # Policies: a tuple that compiles them once and remembers what it decided, for as
    # long as this cache entry lives (model/iam_policy.py).
    policies = Policies(document for document in (_document(row) for row in rows)
                        if document is not None)
    if first.principal_type == "root":
        return model.root(first.account)
    if first.principal_type == "user" and first.user_id is not None:
        return model.Principal("user", first.user_arn, first.account, first.user_id,
                               policies)
    if first.principal_type == "role" and first.role_id is not None:
        arn = model.assumed_role_arn(first.account, first.role_name, first.session_name)
        return model.Principal("assumed-role", arn, first.account,
                               f"{first.role_id}:{first.session_name}", policies)
    return None     # the user or role is gone


def _document(row) -> dict | None:
    if row.kind == "managed":
        return managed.document(row.policy_name)
    if row.kind == "inline" and row.document:
        try:
            return json.loads(row.document)
        except ValueError:
            return None
    return None


def delete_of_principal(conn: Connection, account: str, principal_type: str,
                        principal_key: str) -> None:
    """Every key of a principal (a deleted role's sessions: a role made again under the
    same name must not inherit them)."""
    sql.run(conn, "DELETE FROM access_keys WHERE account = ? AND principal_type = ? "
                  "AND principal_key = ?", (account, principal_type, principal_key))


def delete_sessions(conn: Connection, account: str, role_key: str, session_name: str) -> None:
    """Every session of one name of a role (a stopped task's: its current session and the
    ones it replaced, which SDKs may still hold until they expire)."""
    sql.run(conn, "DELETE FROM access_keys WHERE account = ? AND principal_type = 'role' "
                  "AND principal_key = ? AND session_name = ?",
            (account, role_key, session_name))
