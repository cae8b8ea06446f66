"""The roles AWS services assume for a workload: a function's execution role (Lambda's
CreateFunction and UpdateFunctionConfiguration) and a task's roles (ECS's
RegisterTaskDefinition: taskRoleArn and executionRoleArn).

When such a role is named, AWS checks that it is a role of the caller's account whose
trust policy lets the service assume it, whether or not the caller's signature was
checked; each service refuses otherwise with an error of its own. IAM is global: the
role is the account's, whatever the request's region.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection

from nozama.model import arns
from nozama.model import iam as model
from nozama.model.iam_authorize import denied, trusts_service
from nozama.model.iam_policy import Decision, evaluate
from nozama.store import iam as iam_store

LAMBDA = "lambda.amazonaws.com"
ECS_TASKS = "ecs-tasks.amazonaws.com"
PASS_ROLE = "iam:PassRole"


def assumable_by(conn: Connection, account: str, reference: str, service: str, *,
                 names: bool = False) -> bool:
    """Whether `reference` names a role of `account` that `service` may assume: the
    role's ARN or, with `names` (ECS's taskRoleArn takes "the short name or full ARN"),
    its name."""
    row = _role(conn, account, reference, names)
    return row is not None and trusts_service(json.loads(row.trust_policy), service)


def check_pass_role(ctx, reference: str, service: str, caller_service: str) -> None:
    """iam:PassRole: may the caller hand the role to `service`? AWS asks it of whoever
    names a role for a workload, or anyone allowed to create a function could run code
    as any role that trusts Lambda. Policies may name the service with the condition
    key iam:PassedToService (AWS's managed policies do). AccessDeniedException naming
    the caller, the action and the role when not. The account's root may; so may any
    caller of a server with auth off (ctx.caller is None: no signature was checked)."""
    principal = ctx.caller
    if principal is None or principal.is_root:
        return
    arn = reference if arns.is_arn(reference) else \
        f"arn:aws:iam::{ctx.account_id}:role/{reference}"
    decision = evaluate(principal.policies, PASS_ROLE, arn, {"iam:PassedToService": service})
    if decision is not Decision.ALLOW:
        raise denied(principal, caller_service, PASS_ROLE, arn, decision)


def _role(conn: Connection, account: str, reference: str, names: bool):
    if not arns.is_arn(reference):
        if not names or not model.NAME.fullmatch(reference):
            return None
        return iam_store.get_role(conn, account, reference)
    # arn:aws:iam::<account>:role/<path><name>: the path must be the role's own too.
    name = reference.rsplit("/", 1)[-1]
    if not reference.startswith(f"arn:aws:iam::{account}:role/") or \
            not model.NAME.fullmatch(name):
        return None
    row = iam_store.get_role(conn, account, name)
    return row if row is not None and row.arn == reference else None
