"""IAM policy documents: checking them as IAM does, and evaluating them as AWS does.

`check_document` is what PutUserPolicy, PutRolePolicy and CreateRole run on the text
they are given, with IAM's MalformedPolicyDocument messages. `evaluate` is the
identity-based part of AWS's evaluation logic, pure so that it is tested without a
server: an explicit Deny in any statement wins, else an Allow, else the request is
implicitly denied. Actions match case-insensitively and resources case-sensitively,
both with the `*` and `?` wildcards.

`decide` is `evaluate` for every request a key signs: the key store hands a principal's
documents on as `Policies`, which compiles them once (a statement's patterns into one
regular expression) and remembers its decisions; it lives as long as the key store's
cache entry, so both are forgotten with it.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from typing import Iterable

from nozama.kernel import errors

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_LEVEL = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                   "Principal", "NotPrincipal", "Condition"}
_VENDOR = re.compile(r"[a-zA-Z0-9*?-]+")
# What a policy document may be, at most (IAM's own quota for inline role policies).
MAX_DOCUMENT = 131072


class Decision(enum.Enum):
    ALLOW = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


# ---------------------------------------------------------------- checking

def _malformed(message: str) -> errors.ServiceError:
    return errors.iam.MalformedPolicyDocumentException(message)


_SYNTAX = "Syntax errors in policy."


def check_document(text: str, trust: bool = False) -> dict:
    """The policy document `text` parsed, or MalformedPolicyDocument with IAM's message.

    A trust policy (a role's AssumeRolePolicyDocument) names principals and no
    resources; an identity policy names resources and no principal."""
    if len(text) > MAX_DOCUMENT:
        raise _malformed(f"Cannot exceed quota for PolicySize: {MAX_DOCUMENT}")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise _malformed(_SYNTAX) from None
    if not isinstance(document, dict) or not set(document) <= _TOP_LEVEL:
        raise _malformed(_SYNTAX)
    if "Version" in document and document["Version"] not in VERSIONS:
        raise _malformed(_SYNTAX)
    if "Id" in document and not isinstance(document["Id"], str):
        raise _malformed(_SYNTAX)
    statements = statements_of(document)
    if not statements:
        raise _malformed(_SYNTAX)
    for statement in statements:
        _check_syntax(statement, trust)
    if document.get("Version") != "2012-10-17" and not trust:
        raise _malformed("Policy document must be version 2012-10-17 or greater.")
    for statement in statements:
        _check_meaning(statement, trust)
    return document


def statements_of(document: dict) -> list:
    """The Statement element as a list: AWS takes one statement object alone too."""
    found = document.get("Statement")
    if isinstance(found, dict):
        return [found]
    return found if isinstance(found, list) else []


def _strings(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value))


def _check_syntax(statement, trust: bool) -> None:
    if not isinstance(statement, dict) or not set(statement) <= _STATEMENT_KEYS:
        raise _malformed(_SYNTAX)
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise _malformed(_SYNTAX)
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise _malformed(_SYNTAX)
    for pair in (("Action", "NotAction"), ("Resource", "NotResource"),
                 ("Principal", "NotPrincipal")):
        if all(key in statement for key in pair):
            raise _malformed(_SYNTAX)
        for key in pair:
            if key in statement and key not in ("Principal", "NotPrincipal") \
                    and not _strings(statement[key]):
                raise _malformed(_SYNTAX)
    if "Condition" in statement:
        _check_condition(statement["Condition"])


def _check_condition(condition) -> None:
    if not isinstance(condition, dict):
        raise _malformed(_SYNTAX)
    for operator, block in condition.items():
        if not isinstance(block, dict) or not all(
                _strings(v) or isinstance(v, (bool, int, float)) for v in block.values()):
            raise _malformed(_SYNTAX)
        if _condition_test(operator) is None:
            raise _malformed(_SYNTAX)


def _check_meaning(statement: dict, trust: bool) -> None:
    actions = _as_list(statement.get("Action", statement.get("NotAction")))
    if not actions:
        raise _malformed("Policy statement must contain actions.")
    for action in actions:
        _check_action(action)
    if trust:
        if "Resource" in statement or "NotResource" in statement:
            raise _malformed("Has prohibited field Resource")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise _malformed("Missing required field Principal")
        _check_principal(statement.get("Principal", statement.get("NotPrincipal")))
        return
    if "Principal" in statement or "NotPrincipal" in statement:
        raise _malformed("Policy document should not specify a principal.")
    resources = _as_list(statement.get("Resource", statement.get("NotResource")))
    if not resources:
        raise _malformed("Policy statement must contain resources.")
    for resource in resources:
        _check_resource(resource)


def _check_action(action: str) -> None:
    if action == "*":
        return
    if ":" not in action:
        raise _malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, "
                         "ec2, etc.")
    if action.count(":") > 1:
        raise _malformed("Actions/Condition can contain only one colon.")
    vendor = action.split(":", 1)[0]
    if not _VENDOR.fullmatch(vendor):
        raise _malformed(f"Vendor {vendor} is not valid")


def _check_resource(resource: str) -> None:
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) < 2 or parts[0] != "arn":
        raise _malformed(f'Resource {resource} must be in ARN format or "*".')
    if parts[1] not in ("aws", "aws-cn", "aws-us-gov", "*"):
        raise _malformed(f'Partition "{parts[1]}" is not valid for resource "{resource}".')
    if len(parts) < 6 or not parts[2] or "*" in parts[2] or "?" in parts[2]:
        raise _malformed("Resource vendor must be fully qualified and cannot contain "
                         "regexes.")


def _check_principal(principal) -> None:
    """A trust policy's Principal: "*", or {"AWS" | "Service" | "Federated": names}."""
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal or not all(
            key in ("AWS", "Service", "Federated", "CanonicalUser") and _strings(value)
            for key, value in principal.items()):
        raise _malformed("Invalid principal in policy")
    for name in _as_list(principal.get("AWS")):
        if name != "*" and not re.fullmatch(r"\d{12}", name) \
                and not re.fullmatch(r"arn:aws[\w-]*:(iam|sts)::\d{12}:\S+", name):
            raise _malformed(f'Invalid principal in policy: "AWS":"{name}"')


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# ---------------------------------------------------------------- evaluating

def evaluate(policies: Iterable[dict], action: str, resource: str,
             context: dict | None = None) -> Decision:
    """AWS's decision for `action` on `resource` under identity-based `policies`.

    `context` holds the request's condition keys (aws:SourceIp, ...); a statement
    whose Condition names a key the context lacks does not apply, as in AWS."""
    allowed = False
    for policy in policies:
        for statement in statements_of(policy):
            if not isinstance(statement, dict) or not _applies(statement, action, resource,
                                                               context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    if "Action" in statement:
        if not _any_match(statement["Action"], action, fold=True):
            return False
    elif "NotAction" in statement:
        if _any_match(statement["NotAction"], action, fold=True):
            return False
    else:
        return False
    if "Resource" in statement:
        if not _any_match(statement["Resource"], resource, fold=False):
            return False
    elif "NotResource" in statement:
        if _any_match(statement["NotResource"], resource, fold=False):
            return False
    return conditions_hold(statement.get("Condition") or {}, context)


class Policies(tuple):
    """A principal's policy documents (a tuple of them) that keeps, for the requests it
    authorizes, its statements compiled and its decisions: at most DECISIONS of them
    (action, resource), all forgotten when full. The documents must not change after;
    the key store (store/access_keys.py) makes a new one whenever it reads them again."""

    DECISIONS = 512

    def __new__(cls, documents=()):
        self = super().__new__(cls, documents)
        self.decisions: dict[tuple[str, str], Decision] = {}
        self.compiled: tuple | bool | None = None     # _compile's, once decide needs it
        return self


def decide(policies: Iterable[dict], action: str, resource: str) -> Decision:
    """`evaluate(policies, action, resource)` with no condition keys in the context;
    with `Policies`, from what they compiled and remember."""
    if not isinstance(policies, Policies):
        return evaluate(policies, action, resource)
    decision = policies.decisions.get((action, resource))
    if decision is not None:
        return decision
    if policies.compiled is None:
        policies.compiled = _compile(policies)
    if policies.compiled is False:
        decision = evaluate(policies, action, resource)
    else:
        decision = _decide(policies.compiled, action, resource)
    if len(policies.decisions) >= Policies.DECISIONS:
        policies.decisions.clear()
    policies.decisions[(action, resource)] = decision
    return decision


# A statement as `decide` reads it: its effect; its Action (or NotAction) and its Resource
# (or NotResource) patterns as one expression each (None: matches nothing), and whether
# they are the Not- kind; whether it names resources at all; its Condition.
_Compiled = tuple[str, "re.Pattern | None", bool, bool, "re.Pattern | None", bool, dict]


def _compile(policies: Policies) -> tuple[_Compiled, ...] | bool:
    """The statements that can apply, compiled; False when a document is not one that
    check_document lets through (evaluate then reads them, and fails as it fails)."""
    try:
        return tuple(_statement(statement) for policy in policies
                     for statement in statements_of(policy)
                     if isinstance(statement, dict)
                     and ("Action" in statement or "NotAction" in statement))
    except Exception:
        return False


def _statement(statement: dict) -> _Compiled:
    not_action = "Action" not in statement
    actions = _union(statement["NotAction" if not_action else "Action"], fold=True)
    has_resource = "Resource" in statement or "NotResource" in statement
    not_resource = "Resource" not in statement
    resources = _union(statement.get("NotResource" if not_resource else "Resource"),
                       fold=False)
    return statement.get("Effect"), actions, not_action, has_resource, resources, \
        not_resource, statement.get("Condition") or {}


def _union(patterns, fold: bool) -> re.Pattern | None:
    """One expression that fully matches what any of `patterns` does (None for none)."""
    found = [p for p in _as_list(patterns) if isinstance(p, str)]
    if not found:
        return None
    bodies = "|".join(wildcard(p, fold).pattern for p in dict.fromkeys(found))
    return re.compile(f"(?:{bodies})", re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def _decide(compiled: tuple[_Compiled, ...], action: str, resource: str) -> Decision:
    """What evaluate decides (its _applies, step by step), from compiled statements."""
    allowed = False
    for effect, actions, not_action, has_resource, resources, not_resource, condition \
            in compiled:
        if (actions is not None and actions.fullmatch(action) is not None) == not_action:
            continue
        if has_resource and (resources is not None
                             and resources.fullmatch(resource) is not None) == not_resource:
            continue
        if condition and not conditions_hold(condition, {}):
            continue
        if effect == "Deny":
            return Decision.EXPLICIT_DENY
        if effect == "Allow":
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _any_match(patterns, value: str, fold: bool) -> bool:
    return any(isinstance(p, str) and wildcard(p, fold).fullmatch(value) is not None
               for p in _as_list(patterns))


@functools.lru_cache(maxsize=4096)
def wildcard(pattern: str, fold: bool) -> re.Pattern:
    """`*` matches any run of characters, `?` any one; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


# ---------------------------------------------------------------- conditions

def conditions_hold(condition: dict, context: dict) -> bool:
    """Every operator block holds (AND); within a block every key holds (AND); a key
    holds when any of its values matches (OR)."""
    for operator, block in condition.items():
        test = _condition_test(operator)
        if test is None or not isinstance(block, dict):
            return False
        if_exists = operator.endswith("IfExists")
        for key, wanted in block.items():
            actual = _context_value(context, key)
            if actual is None:
                if if_exists or operator == "Null":
                    if operator == "Null":
                        if str(wanted).lower() != "true":
                            return False
                    continue
                return False
            if operator == "Null":
                if str(wanted).lower() != "false":
                    return False
                continue
            values = wanted if isinstance(wanted, list) else [wanted]
            if not test([str(v) if not isinstance(v, bool) else str(v).lower()
                         for v in values], actual):
                return False
    return True


def _context_value(context: dict, key: str):
    for name, value in context.items():
        if name.lower() == key.lower():   # condition keys are case-insensitive
            return value
    return None


def _like(patterns: list[str], actual) -> bool:
    return any(wildcard(p, False).fullmatch(a) for p in patterns for a in _values(actual))


def _values(actual) -> list[str]:
    items = actual if isinstance(actual, (list, tuple)) else [actual]
    return [str(a).lower() if isinstance(a, bool) else str(a) for a in items]


_TESTS = {
    "StringEquals": lambda p, a: any(v in p for v in _values(a)),
    "StringNotEquals": lambda p, a: not any(v in p for v in _values(a)),
    "StringEqualsIgnoreCase": lambda p, a: any(
        v.lower() in {x.lower() for x in p} for v in _values(a)),
    "StringLike": _like,
    "StringNotLike": lambda p, a: not _like(p, a),
    "ArnEquals": _like, "ArnLike": _like,
    "ArnNotEquals": lambda p, a: not _like(p, a), "ArnNotLike": lambda p, a: not _like(p, a),
    "Bool": lambda p, a: any(v.lower() in {x.lower() for x in p} for v in _values(a)),
    "Null": lambda p, a: True,
}


def _condition_test(operator: str):
    name = operator.split(":", 1)[1] if operator.startswith(("ForAnyValue:", "ForAllValues:")) \
        else operator
    name = name[:-len("IfExists")] if name.endswith("IfExists") and name != "Null" else name
    return _TESTS.get(name)
