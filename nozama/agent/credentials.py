"""The agent's own key, found where the AWS SDKs look, without loading an SDK (botocore
would cost the agent a third of its memory at rest): a credentials file given, else
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), else the shared
credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials), in the profile
AWS_PROFILE names or [default]."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AgentKey:
    access_key: str
    secret_key: str = ""
    token: str | None = None

    def __repr__(self) -> str:   # never the secret in a log line or a traceback
        return f"AgentKey({self.access_key})"


class CredentialsError(Exception):
    """A credentials file that cannot be read, or lacks the profile's key."""


def resolve(path: str | None = None, environ=os.environ) -> AgentKey | None:
    """The key, or None when there is none anywhere."""
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    if path:
        return _from_file(Path(path), profile, required=True)
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return AgentKey(environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"],
                        environ.get("AWS_SESSION_TOKEN") or None)
    shared = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return _from_file(Path(shared).expanduser(), profile, required=False)


def _from_file(path: Path, profile: str, required: bool) -> AgentKey | None:
    parser = configparser.RawConfigParser()
    try:
        read = parser.read(path)
    except (configparser.Error, UnicodeDecodeError) as error:
        raise CredentialsError(f"{path} is not an AWS credentials file: {error}") from None
    if not read:
        if required:
            raise CredentialsError(f"cannot read {path}")
        return None
    if not parser.has_option(profile, "aws_access_key_id") or \
            not parser.has_option(profile, "aws_secret_access_key"):
        if required:
            raise CredentialsError(f"{path} has no aws_access_key_id and "
                                   f"aws_secret_access_key in [{profile}]")
        return None
    section = parser[profile]
    return AgentKey(section["aws_access_key_id"].strip(),
                    section["aws_secret_access_key"].strip(),
                    (section.get("aws_session_token") or "").strip() or None)
