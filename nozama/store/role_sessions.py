"""Minting a session of a role: the one place temporary credentials are made.

A session is a key like any other (store/access_keys.py): an ASIA id, a sealed secret,
the SHA-256 of its session token, and its expiry, after which the lookup refuses it. Its
principal is the assumed role's session, whose policies are the role's, read afresh on
each lookup.

Two callers: STS AssumeRole, for a caller its policies and the role's trust policy allow
(aws/sts/assume_role.py checks both, then mints), and the control plane on a service's
behalf (ECS for a task's role, Lambda for a function's), with no caller: the role's trust
policy must trust the service (`for_service`). Sessions past their expiry are purged
whenever one is minted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from nozama.model import iam as model
from nozama.model.iam_authorize import trusts_service
from nozama.store import access_keys as key_store
from nozama.store import iam as iam_store
from nozama.store.access_keys import AccessKeys


@dataclass(frozen=True)
class RoleSession:
    access_key_id: str
    secret_access_key: str
    session_token: str
    issued_at: datetime
    expires_at: datetime
    role_arn: str
    assumed_role_id: str          # <role id>:<session name>
    assumed_role_arn: str         # arn:aws:sts::<account>:assumed-role/<role>/<session>


def role_by_arn(conn: Connection, account: str, role_arn: str):
    """The role of `account` that `role_arn` names exactly, or None."""
    name = role_arn.rsplit("/", 1)[-1]
    if not role_arn.startswith(f"arn:aws:iam::{account}:role/") or not model.NAME.fullmatch(name):
        return None
    row = iam_store.get_role(conn, account, name)
    return row if row is not None and row.arn == role_arn else None


def mint(conn: Connection, keys: AccessKeys, account: str, role, session_name: str,
         seconds: int, now: datetime) -> RoleSession:
    """A new session of `role` (its iam_roles row) lasting `seconds`, stored in `conn`'s
    transaction. Whoever calls has checked that it may be had."""
    key_id, secret, token = model.new_id("ASIA"), model.new_secret(), model.new_session_token()
    expires = now + timedelta(seconds=seconds)
    key_store.purge_expired(conn, now)
    key_store.insert(conn, key_id, account, iam_store.ROLE, role.name_key,
                     keys.seal(secret, key_id), now, session_token=token,
                     session_name=session_name, expires_at=expires)
    return RoleSession(key_id, secret, token, now, expires, role.arn,
                       f"{role.role_id}:{session_name}",
                       model.assumed_role_arn(account, role.name, session_name))


def for_service(conn: Connection, keys: AccessKeys, account: str, role_arn: str,
                service: str, session_name: str, seconds: int,
                now: datetime) -> RoleSession | None:
    """A session of the role `role_arn` names, assumed by `service` (ecs-tasks.amazonaws.com,
    lambda.amazonaws.com) for a workload of `account`. None when the role does not exist
    (or is another account's), or its trust policy does not trust the service: the role's
    owner has not let the service act as it, whatever a task definition or function says."""
    role = role_by_arn(conn, account, role_arn)
    if role is None or not trusts_service(json.loads(role.trust_policy), service):
        return None
    return mint(conn, keys, account, role, session_name, seconds, now)
