"""The task_credentials table: each task's credentials id and the current session of its
task role, which the agent channel sends with the task's assignment
(controllers/task_credentials.py decides when a session is made or replaced).

The session's secret and token are sealed with the access keys' sealer, each bound to its
task and member, so a ciphertext moved elsewhere does not open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from nozama.model.iam import assumed_role_arn
from nozama.model.role_sessions import task_session_name
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store
from nozama.store import sql
from nozama.store.access_keys import AccessKeys
from nozama.store.role_sessions import RoleSession


@dataclass(frozen=True)
class TaskCredentials:
    task_arn: str
    credentials_id: str
    role_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    issued_at: datetime
    expires_at: datetime


def of_tasks(conn: Connection, keys: AccessKeys, task_arns: list[str]
             ) -> dict[str, TaskCredentials]:
    """The credentials of those of `task_arns` that have some (one query)."""
    if not task_arns:
        return {}
    marks = ", ".join("?" * len(task_arns))
    rows = sql.all_rows(conn, f"SELECT * FROM task_credentials WHERE task_arn IN ({marks})",
                        tuple(task_arns))
    found = {}
    for row in rows:
        secret = keys.sealer.open(row.secret, f"{row.task_arn}/secret")
        token = keys.sealer.open(row.session_token, f"{row.task_arn}/token")
        if secret is not None and token is not None:   # else made anew, as if missing
            found[row.task_arn] = TaskCredentials(
                row.task_arn, row.credentials_id, row.role_arn, row.access_key_id, secret,
                token, row.issued_at, row.expires_at)
    return found


def put(conn: Connection, keys: AccessKeys, task_arn: str, credentials_id: str,
        session: RoleSession) -> TaskCredentials:
    """Make `session` the task's current one. The session it replaces stays valid until it
    expires: the SDK in a container keeps credentials until shortly before their expiry,
    and asks the endpoint again only then.

    A task keeps the credentials id it was first given (its containers were started with
    it), even when two servers renew its credentials at once: `credentials_id` is only
    used for a task that has none yet."""
    sql.run(conn, "INSERT INTO task_credentials (task_arn, credentials_id, role_arn, "
                  "access_key_id, secret, session_token, issued_at, expires_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_arn) DO UPDATE SET "
                  "role_arn = excluded.role_arn, access_key_id = excluded.access_key_id, "
                  "secret = excluded.secret, session_token = excluded.session_token, "
                  "issued_at = excluded.issued_at, expires_at = excluded.expires_at",
            (task_arn, credentials_id, session.role_arn, session.access_key_id,
             keys.sealer.seal(session.secret_access_key, f"{task_arn}/secret"),
             keys.sealer.seal(session.session_token, f"{task_arn}/token"),
             session.issued_at, session.expires_at))
    kept = sql.scalar(conn, "SELECT credentials_id FROM task_credentials WHERE task_arn = ?",
                      (task_arn,))
    return TaskCredentials(task_arn, kept, session.role_arn, session.access_key_id,
                           session.secret_access_key, session.session_token,
                           session.issued_at, session.expires_at)


def forget(conn: Connection, task_arns: list[str]) -> list[tuple[str, str]]:
    """The tasks stopped: their credentials go, and every session of their role made for
    them (sessions are named after their task), current or replaced. Returns the account
    and the assumed-role ARN of each session name gone."""
    if not task_arns:
        return []
    marks = ", ".join("?" * len(task_arns))
    rows = sql.all_rows(conn, "SELECT task_arn, role_arn FROM task_credentials WHERE "
                              f"task_arn IN ({marks})", tuple(task_arns))
    gone = []
    for row in rows:
        account, role_name = _role_of(row.role_arn)
        session = task_session_name(row.task_arn)
        key_store.delete_sessions(conn, account, iam_store.key(role_name), session)
        gone.append((account, assumed_role_arn(account, role_name, session)))
    sql.run(conn, f"DELETE FROM task_credentials WHERE task_arn IN ({marks})",
            tuple(task_arns))
    return gone


def _role_of(role_arn: str) -> tuple[str, str]:
    """The account and the role name of arn:aws:iam::<account>:role/<path><name>."""
    return role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]


def purge(conn: Connection, now: datetime) -> None:
    """What outlived its use: credentials past their expiry (their keys are purged with
    the expired access keys), and those of tasks that stopped, or are gone, without an
    agent saying so."""
    sql.run(conn, "DELETE FROM task_credentials WHERE expires_at < ?", (now,))
    stale = sql.column(conn, "SELECT c.task_arn FROM task_credentials c LEFT JOIN tasks t "
                             "ON t.arn = c.task_arn WHERE t.arn IS NULL "
                             "OR t.last_status = 'STOPPED'")
    forget(conn, stale)
