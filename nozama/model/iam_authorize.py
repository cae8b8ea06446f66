"""May this principal run this operation? AWS's answer, and AWS's refusal when not.

The verifier (api/) calls `authorize` once a request's signature has been checked and
its access key looked up (store/access_keys.py); it raises the denial in the form the
service's protocol answers: AccessDeniedException for the JSON and REST-JSON services,
AccessDenied for the query ones, UnauthorizedOperation for EC2.
"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.model import iam_resources
from nozama.model.iam import Principal
from nozama.model.iam_policy import Decision, decide, statements_of, wildcard

# Services whose wire code for a denial is AccessDenied (query protocol).
_QUERY = frozenset({"elbv2", "cloudwatch", "iam", "sts"})
# Operations AWS runs for every authenticated caller, whatever its policies say.
ALWAYS_ALLOWED = frozenset({("sts", "GetCallerIdentity")})


def authorize(principal: Principal, service: str, operation: str, params: dict,
              region: str, account: str) -> None:
    """Nothing when `principal` may run `operation` of `service` (botocore names) with
    `params`, else the service's AccessDenied error with AWS's message."""
    if principal.is_root or (service, operation) in ALWAYS_ALLOWED:
        return
    action = iam_resources.action(service, operation)
    resource = iam_resources.resource(service, operation, params, region, account)
    # The key store's principals carry Policies: compiled once, decisions remembered.
    decision = decide(principal.policies, action, resource)
    if decision is Decision.ALLOW:
        return
    raise denied(principal, service, action, resource, decision)


def denied(principal: Principal, service: str, action: str, resource: str,
           decision: Decision | None) -> errors.ServiceError:
    """The denial of `action` on `resource`; with no decision (a role's trust policy
    refused, or no such role), AWS's message gives no reason."""
    why = {Decision.EXPLICIT_DENY: " with an explicit deny in an identity-based policy",
           Decision.IMPLICIT_DENY: f" because no identity-based policy allows the {action} "
                                   "action"}.get(decision, "")
    message = (f"User: {principal.arn} is not authorized to perform: {action} on resource: "
               f"{resource}{why}")
    if service == "ec2":
        return errors.ec2.UnauthorizedOperation(
            f"You are not authorized to perform this operation. {message}")
    if service in _QUERY:
        return errors.AccessDenied(message)
    return errors.AccessDeniedException(message)


# ---------------------------------------------------------------- trust policies

def trusts(trust_policy: dict, principal: Principal, action: str = "sts:AssumeRole") -> bool:
    """Whether a role's trust policy lets `principal` run `action` (AssumeRole): a
    statement whose Principal names it, its account (the account id or its root ARN) or
    "*"; an explicit Deny that names it wins."""
    return _trusted(trust_policy, "AWS", _names_of(principal), action)


def trusts_service(trust_policy: dict, service: str, action: str = "sts:AssumeRole") -> bool:
    """Whether a role's trust policy lets an AWS service (lambda.amazonaws.com,
    ecs-tasks.amazonaws.com) run `action`, as CreateFunction and RegisterTaskDefinition
    check: a statement whose Principal is "*" or whose Service names it (a name or a
    list of them); an explicit Deny that names it wins. The AWS key ("AWS": "*") names
    IAM principals, never a service."""
    return _trusted(trust_policy, "Service", {service}, action)


def _trusted(trust_policy: dict, key: str, names: set[str], action: str) -> bool:
    """The trust policy's answer for a principal known by `names` under `key` of a
    statement's Principal ("AWS" or "Service"). Statements' Conditions are not evaluated
    (a statement applies whatever its Condition says)."""
    allowed = False
    for statement in statements_of(trust_policy):
        if not isinstance(statement, dict) or not _action_matches(statement, action):
            continue
        if not _principal_matches(statement.get("Principal"), key, names):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _names_of(principal: Principal) -> set[str]:
    names = {principal.account, f"arn:aws:iam::{principal.account}:root", principal.arn}
    if principal.kind == "assumed-role":
        # arn:aws:sts::<account>:assumed-role/<role>/<session>: its role's ARN names it too
        role = principal.arn.split(":assumed-role/", 1)[1].rsplit("/", 1)[0]
        names.add(f"arn:aws:iam::{principal.account}:role/{role}")
    return names


def _action_matches(statement: dict, action: str) -> bool:
    if "Action" in statement:
        return any(isinstance(p, str) and wildcard(p, True).fullmatch(action)
                   for p in _listed(statement["Action"]))
    if "NotAction" in statement:
        return not any(isinstance(p, str) and wildcard(p, True).fullmatch(action)
                       for p in _listed(statement["NotAction"]))
    return False


def _principal_matches(principal, key: str, names: set[str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(name == "*" or name in names for name in _listed(principal.get(key)))


def _listed(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
