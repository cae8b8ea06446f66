"""Sessions of a role that a service assumes for a workload: the rules, as pure functions.

ECS assumes a task's role (ecs-tasks.amazonaws.com) and hands the credentials to the
task's containers through the agent's credentials endpoint; Lambda assumes a function's
execution role (lambda.amazonaws.com) and puts the credentials in its workers'
environment. Both sessions are named as AWS names them: the task's id, the function's
name (what CloudTrail and GetCallerIdentity then show after `assumed-role/<role>/`).

How long a session lasts, and when a new one replaces it: SESSION_SECONDS, and a new
session once half of the current one's life is gone (`refresh_due`). Half is the margin
every consumer needs: an SDK in a container re-reads the endpoint 15 minutes before its
credentials expire (botocore's advisory refresh), an agent learns of new credentials
within one long poll, and a function worker, which cannot be given new environment
variables, is retired at the refresh and never holds credentials with less than half a
session left, hours more than the longest invocation (900 s).
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime

ECS_TASKS = "ecs-tasks.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"

# Six hours, as the credentials ECS hands to tasks last. NOZAMA_ROLE_SESSION_SECONDS
# shortens it for tests that watch a refresh happen; read once, at start.
SESSION_SECONDS = int(os.environ.get("NOZAMA_ROLE_SESSION_SECONDS") or 6 * 3600)

# The ECS agent's credentials endpoint: the address every task reaches it at (the agent
# owns it on the host), the path of its v2 API, and the variable that names the path.
ENDPOINT_ADDRESS = "169.254.170.2"
ENDPOINT_PORT = 80
CREDENTIALS_PATH = "/v2/credentials/"
RELATIVE_URI_VARIABLE = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"


def task_session_name(task_arn: str) -> str:
    """ECS names a task role's session after the task: its id, the ARN's last part."""
    return task_arn.rsplit("/", 1)[-1]


def function_session_name(function_name: str) -> str:
    """Lambda names an execution role's session after the function."""
    return function_name


def new_credentials_id() -> str:
    """The id a task's credentials are asked for by: whoever knows it gets them, so it is
    128 random bits, as unguessable as a secret key."""
    return secrets.token_hex(16)


def relative_uri(credentials_id: str) -> str:
    return CREDENTIALS_PATH + credentials_id


def refresh_due(issued_at: datetime, expires_at: datetime, now: datetime) -> bool:
    """Whether a session must give way to a new one: once half its life is gone."""
    return now >= issued_at + (expires_at - issued_at) / 2
