"""The execution role's credentials in a function's workers, as Lambda gives them.

Lambda assumes a function's role (`Role`) and sets AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in its execution environment, so that the
SDK in the handler calls AWS as the role, with the role's policies and nothing more.

A process's environment is fixed when it starts, so a worker keeps the credentials it
was started with. Each pool (one version) holds one session of the role for the workers
it starts; once half of that session's life is gone (model/role_sessions.py) the pool
mints a new one for its next workers, and retires the workers that hold the old one as
they come back idle. A worker therefore never runs an invocation with less than half a
session (three hours) left on its credentials, far more than the longest timeout.

Without a role that exists and trusts lambda.amazonaws.com (or a server without the
sealing key of access keys), the workers get placeholder keys, as before: an emulator
that accepts any credentials takes them; a server that verifies signatures refuses them.
The pool asks again every RETRY_SECONDS (a role made after its function).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from nozama.kernel.clock import Clock
from nozama.model import role_sessions as rules
from nozama.store import Store, role_sessions

log = logging.getLogger(__name__)

PLACEHOLDER = {"AWS_ACCESS_KEY_ID": "nozama", "AWS_SECRET_ACCESS_KEY": "nozama",
               "AWS_SESSION_TOKEN": "nozama"}
# How long a pool whose role gave no session keeps its placeholders before it asks again:
# asking takes a write transaction, which a warm invocation must not pay each time.
RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerCredentials:
    """What a pool gives the workers it starts: environment variables, and the session
    they belong to (None for the placeholders)."""
    environment: dict
    session: role_sessions.RoleSession | None = None
    retry_at: datetime | None = None     # placeholders: when to ask for a session again

    @property
    def key(self) -> str:
        return self.session.access_key_id if self.session else ""


class ExecutionRoles:
    """Sessions of functions' execution roles, minted in the store."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def current(self, held: WorkerCredentials | None, region: str, account: str,
                function_name: str, role_arn: str) -> WorkerCredentials:
        """`held` while it is good for new workers; else a new session of the role."""
        now = self.clock.now()
        if held is not None and held.session is not None and not rules.refresh_due(
                held.session.issued_at, held.session.expires_at, now):
            return held
        if held is not None and held.session is None and now < held.retry_at:
            return held
        session = self._mint(account, function_name, role_arn, now)
        if session is None:
            if held is None or held.session is not None:
                log.warning("function %s (%s, %s) gets no credentials of its role %r: the "
                            "role does not exist or does not trust %s", function_name,
                            region, account, role_arn, rules.LAMBDA)
            return WorkerCredentials(dict(PLACEHOLDER),
                                     retry_at=now + timedelta(seconds=RETRY_SECONDS))
        return WorkerCredentials({"AWS_ACCESS_KEY_ID": session.access_key_id,
                                  "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
                                  "AWS_SESSION_TOKEN": session.session_token}, session)

    def _mint(self, account: str, function_name: str, role_arn: str, now):
        keys = self.store.access_keys
        if keys is None or not role_arn:
            return None
        with self.store.write() as conn:
            return role_sessions.for_service(
                conn, keys, account, role_arn, rules.LAMBDA,
                rules.function_session_name(function_name), rules.SESSION_SECONDS, now)
