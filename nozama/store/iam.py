"""The IAM tables of users, roles and their policies (inline and attached).

Names are looked up by `name_key`, the lowercased name: IAM names are unique within an
account whatever their case. Access keys are in store/access_keys.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.store import sql

USER, ROLE = "user", "role"
INLINE, MANAGED = "inline", "managed"


def key(name: str) -> str:
    return name.lower()


# ---------------------------------------------------------------- users

def create_user(conn: Connection, account: str, name: str, user_id: str, arn: str, path: str,
                created_at: datetime) -> None:
    sql.run(conn, "INSERT INTO iam_users (account, name_key, name, user_id, arn, path, "
                  "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (account, key(name), name, user_id, arn, path, created_at))


def get_user(conn: Connection, account: str, name: str):
    return _get(conn, "iam_users", account, name)


def users(conn: Connection, account: str, path_prefix: str, after: str, limit: int) -> list:
    """Users whose path starts with `path_prefix`, by name key after `after`."""
    return _listing(conn, "iam_users", account, path_prefix, after, limit)


def delete_user(conn: Connection, account: str, name: str) -> None:
    _delete(conn, "iam_users", account, name)


# ---------------------------------------------------------------- roles

def create_role(conn: Connection, account: str, name: str, role_id: str, arn: str, path: str,
                created_at: datetime, trust_policy: str, max_session_duration: int,
                description: str | None) -> None:
    sql.run(conn, "INSERT INTO iam_roles (account, name_key, name, role_id, arn, path, "
                  "created_at, trust_policy, max_session_duration, description) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account, key(name), name, role_id, arn, path, created_at, trust_policy,
             max_session_duration, description))


def get_role(conn: Connection, account: str, name: str):
    return _get(conn, "iam_roles", account, name)


def roles(conn: Connection, account: str, path_prefix: str, after: str, limit: int) -> list:
    """Roles whose path starts with `path_prefix`, by name key after `after`."""
    return _listing(conn, "iam_roles", account, path_prefix, after, limit)


def delete_role(conn: Connection, account: str, name: str) -> None:
    _delete(conn, "iam_roles", account, name)


# Users and roles are kept alike: an account's, by the lower case of their name.
def _get(conn: Connection, table: str, account: str, name: str):
    return sql.one(conn, f"SELECT * FROM {table} WHERE account = ? AND name_key = ?",
                   (account, key(name)))


def _listing(conn: Connection, table: str, account: str, path_prefix: str, after: str,
             limit: int) -> list:
    return sql.all_rows(conn, f"SELECT * FROM {table} WHERE account = ? AND name_key > ? "
                              "AND substr(path, 1, ?) = ? ORDER BY name_key LIMIT ?",
                        (account, after, len(path_prefix), path_prefix, limit))


def _delete(conn: Connection, table: str, account: str, name: str) -> None:
    sql.run(conn, f"DELETE FROM {table} WHERE account = ? AND name_key = ?",
            (account, key(name)))


# ---------------------------------------------------------------- policies

_OF = "account = ? AND principal_type = ? AND principal_key = ?"


def put_policy(conn: Connection, account: str, principal_type: str, name: str, kind: str,
               policy_name: str, document: str | None) -> None:
    """Add or replace an inline policy, or attach a managed one (again: no change)."""
    params = (account, principal_type, key(name), kind, policy_name)
    sql.run(conn, f"DELETE FROM iam_principal_policies WHERE {_OF} AND kind = ? "
                  "AND policy_name = ?", params)
    sql.run(conn, "INSERT INTO iam_principal_policies (account, principal_type, "
                  "principal_key, kind, policy_name, document) VALUES (?, ?, ?, ?, ?, ?)",
            (*params, document))


def get_policy(conn: Connection, account: str, principal_type: str, name: str, kind: str,
               policy_name: str):
    return sql.one(conn, f"SELECT * FROM iam_principal_policies WHERE {_OF} AND kind = ? "
                         "AND policy_name = ?",
                   (account, principal_type, key(name), kind, policy_name))


def delete_policy(conn: Connection, account: str, principal_type: str, name: str, kind: str,
                  policy_name: str) -> bool:
    return sql.run(conn, f"DELETE FROM iam_principal_policies WHERE {_OF} AND kind = ? "
                         "AND policy_name = ?",
                   (account, principal_type, key(name), kind, policy_name)) > 0


def policy_names(conn: Connection, account: str, principal_type: str, name: str,
                 kind: str) -> list[str]:
    return sql.column(conn, f"SELECT policy_name FROM iam_principal_policies WHERE {_OF} "
                            "AND kind = ? ORDER BY policy_name",
                      (account, principal_type, key(name), kind))


def count_policies(conn: Connection, account: str, principal_type: str, name: str) -> int:
    return sql.scalar(conn, f"SELECT COUNT(*) FROM iam_principal_policies WHERE {_OF}",
                      (account, principal_type, key(name)))


def count_attachments(conn: Connection, account: str, policy_arn: str) -> int:
    """How many users and roles of the account a managed policy is attached to."""
    return sql.scalar(conn, "SELECT COUNT(*) FROM iam_principal_policies WHERE account = ? "
                            "AND kind = 'managed' AND policy_name = ?", (account, policy_arn))
