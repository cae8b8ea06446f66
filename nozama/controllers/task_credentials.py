"""Task IAM roles: the credentials the control plane sends an agent with a task.

ECS assumes a task's role (its task definition's `taskRoleArn`, or the one RunTask's
overrides name) on the task's behalf and delivers the credentials to the agent that runs
it, with a credentials id the task's containers ask the agent's endpoint for. Here they
are made the first time an assignment carries the task, kept in the store (sealed) so
that every poll sends the same ones and the poll's digest only changes when they do,
and replaced by a new session once half of the current one's life is gone
(model/role_sessions.py): the agent's next poll, at most one long poll later, brings
them. The credentials id stays the task's for its whole life: its containers were
started with it.

A task that has stopped is sent none, and its credentials go as its agent reports it
stopped (`forget`); whatever is left (a task stopped without its agent, expired
sessions) is purged whenever credentials are made.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection

from nozama.model import role_sessions as rules
from nozama.store import role_sessions
from nozama.store import task_credentials as store
from nozama.store.access_keys import AccessKeys

log = logging.getLogger(__name__)

# The tasks whose role gave no credentials, said once per process (every poll tries).
_REFUSED: set[str] = set()
_REFUSED_KEPT = 10_000


def task_role(task, definition) -> str | None:
    """The role a task runs as: RunTask's override, else its task definition's."""
    return (task.doc.get("overrides") or {}).get("taskRoleArn") or \
        definition.doc.get("taskRoleArn")


def for_assignments(conn: Connection, keys: AccessKeys | None, tasks: list,
                    definitions: dict, now: datetime) -> dict[str, dict]:
    """The credentials to send with each of `tasks` (rows of an instance's assignments)
    that has a role and has not stopped, by task ARN, made or replaced as needed."""
    roles = {task.arn: role for task in tasks if task.last_status != "STOPPED"
             and (role := task_role(task, definitions[task.task_definition_arn]))}
    if not roles or keys is None:
        return {}
    current = store.of_tasks(conn, keys, list(roles))
    sent = {}
    for task in tasks:
        role = roles.get(task.arn)
        if role is None:
            continue
        found = current.get(task.arn)
        if found is None or found.role_arn != role or rules.refresh_due(
                found.issued_at, found.expires_at, now):
            found = _renew(conn, keys, task, role, found, now)
        if found is not None:
            sent[task.arn] = channel_shape(found)
    return sent


def _renew(conn: Connection, keys: AccessKeys, task, role: str,
           previous: store.TaskCredentials | None, now: datetime):
    session = role_sessions.for_service(conn, keys, task.account, role, rules.ECS_TASKS,
                                        rules.task_session_name(task.arn),
                                        rules.SESSION_SECONDS, now)
    if session is None:
        if task.arn not in _REFUSED:
            if len(_REFUSED) >= _REFUSED_KEPT:
                _REFUSED.clear()
            _REFUSED.add(task.arn)
            log.warning("task %s gets no credentials: its role %s does not exist or does "
                        "not trust %s", task.arn, role, rules.ECS_TASKS)
        return None
    store.purge(conn, now)     # seldom: what is left of stopped tasks and expired sessions
    credentials_id = previous.credentials_id if previous is not None \
        else rules.new_credentials_id()
    return store.put(conn, keys, task.arn, credentials_id, session)


def channel_shape(found: store.TaskCredentials) -> dict:
    """A task's credentials as the agent channel carries them."""
    return {"credentialsId": found.credentials_id, "roleArn": found.role_arn,
            "accessKeyId": found.access_key_id, "secretAccessKey": found.secret_access_key,
            "sessionToken": found.session_token,
            "expiration": found.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def forget(conn: Connection, task_arns: list[str]) -> list[tuple[str, str]]:
    """The tasks stopped: their credentials and sessions go. Returns what `uncache` takes
    once the transaction has committed."""
    return store.forget(conn, task_arns)


def uncache(keys: AccessKeys | None, gone: list[tuple[str, str]]) -> None:
    """Forget the stopped tasks' sessions from this server's cache of keys at once (the
    other servers' copies expire within seconds)."""
    for account, session_arn in gone:
        if keys is not None:
            keys.forget_principal(account, session_arn)
