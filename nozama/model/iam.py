"""IAM's rules as pure functions: principals, their ARNs and ids, names and paths, access
key ids and secrets, and what a verified access key stands for (`Credentials`)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from nozama.kernel import errors

# Ids of IAM entities: a four-letter prefix (AKIA an access key, ASIA a temporary one,
# AIDA a user, AROA a role) and 16 characters of AWS's alphabet (A-Z and 2-7).
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
NAME = re.compile(r"[\w+=,.@-]+")
PATH = re.compile(r"(/[\x21-\x7e]*/)|/")
MAX_NAME = 64
MAX_ACCESS_KEYS = 2           # per user (IAM's quota)
MAX_SESSION_DURATION = 3600   # a role's default; CreateRole allows 3600..43200
MIN_SESSION_SECONDS = 900


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def new_secret() -> str:
    """A 40-character secret access key, as AWS's look."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_session_token() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(356))


def user_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:user{path}{name}"


def role_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def assumed_role_arn(account: str, role_name: str, session_name: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"


def check_name(name: str, what: str = "userName") -> None:
    """IAM's names: [\\w+=,.@-]+, 1 to 64 characters (ValidationError, as IAM answers)."""
    if len(name) > MAX_NAME:
        raise errors.ValidationError(
            f"1 validation error detected: Value '{name}' at '{what}' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_NAME}")
    if not NAME.fullmatch(name):
        raise errors.ValidationError(
            f"1 validation error detected: Value '{name}' at '{what}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")


def check_path(path: str) -> None:
    if len(path) > 512 or not PATH.fullmatch(path):
        raise errors.ValidationError(
            f"1 validation error detected: Value '{path}' at 'path' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)")


@dataclass(frozen=True)
class Principal:
    """Who a request runs as: a user, an assumed role's session, or the account's root."""
    kind: str                  # "user", "assumed-role" or "root"
    arn: str
    account: str
    user_id: str               # GetCallerIdentity's UserId
    # The identity-based policies' documents (inline and attached, parsed).
    policies: tuple[dict, ...] = ()

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


def root(account: str) -> Principal:
    return Principal("root", root_arn(account), account, account)


@dataclass(frozen=True)
class Credentials:
    """What a verified access key stands for: its secret (to check the signature with)
    and the principal whose policies authorize its requests."""
    access_key_id: str
    secret_access_key: str
    principal: Principal
    # A temporary key's session expiry (None for a long-term key).
    expires_at: datetime | None = None
    tags: dict = field(default_factory=dict)
