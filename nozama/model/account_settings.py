"""ECS account settings as pure rules: the names, their values, their defaults, and
who a setting belongs to (a principal: the root user, an IAM user or an IAM role).

ECS keeps a setting per principal and region. The root user's setting is the
account's default for users and roles that set none (PutAccountSettingDefault
writes it); where neither is set, ECS's own default applies. A principal's
effective setting is the first of: its own, the root user's, ECS's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nozama.kernel import errors

_SWITCH = ("enabled", "disabled")

# Each setting's accepted values and ECS's default where nothing is set (today's
# defaults: long ARNs on since 2021, tag authorization on, non-blocking log delivery
# since June 2025, Fargate retirement after 7 days).
VALUES: dict[str, tuple[str, ...]] = {
    "serviceLongArnFormat": _SWITCH,
    "taskLongArnFormat": _SWITCH,
    "containerInstanceLongArnFormat": _SWITCH,
    "awsvpcTrunking": _SWITCH,
    "containerInsights": ("enabled", "disabled", "enhanced"),
    "fargateFIPSMode": _SWITCH,
    "tagResourceAuthorization": ("on", "off"),
    "fargateTaskRetirementWaitPeriod": ("0", "7", "14"),
    "guardDutyActivate": ("on", "off"),
    "defaultLogDriverMode": ("blocking", "non-blocking"),
    "fargateEventWindows": _SWITCH,
}
DEFAULTS: dict[str, str] = {
    "serviceLongArnFormat": "enabled",
    "taskLongArnFormat": "enabled",
    "containerInstanceLongArnFormat": "enabled",
    "awsvpcTrunking": "disabled",
    "containerInsights": "disabled",
    "fargateFIPSMode": "disabled",
    "tagResourceAuthorization": "on",
    "fargateTaskRetirementWaitPeriod": "7",
    "guardDutyActivate": "off",
    "defaultLogDriverMode": "non-blocking",
    "fargateEventWindows": "disabled",
}
# Settings AWS manages on the account's behalf: read-only through the API.
AWS_MANAGED = frozenset({"guardDutyActivate"})
# Settings only the root user may hold (ECS refuses them for a user or role).
ROOT_ONLY = frozenset({"fargateTaskRetirementWaitPeriod", "fargateFIPSMode",
                       "fargateEventWindows"})
# The long ARN formats can no longer be turned off in ECS; Nozama always uses long ARNs.
LONG_ARN_FORMATS = frozenset({"serviceLongArnFormat", "taskLongArnFormat",
                              "containerInstanceLongArnFormat"})

_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):(root|user/[\w+=,.@/-]+|"
                        r"role/[\w+=,.@/-]+)")


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    principal_arn: str

    def shape(self) -> dict:
        """The Setting shape of the ECS API."""
        return {"name": self.name, "value": self.value, "principalArn": self.principal_arn,
                "type": "aws_managed" if self.name in AWS_MANAGED else "user"}


def check_name(name: str | None) -> str:
    if name not in VALUES:
        raise errors.ecs.InvalidParameterException(
            f"{name} should be one of [{','.join(VALUES)}]")
    return name


def check_value(name: str, value: str | None) -> str:
    """The value, if the setting accepts it; InvalidParameterException otherwise."""
    if name in AWS_MANAGED:
        raise errors.ecs.InvalidParameterException(
            f"The {name} account setting is managed by AWS and cannot be modified.")
    if value not in VALUES[name]:
        raise errors.ecs.InvalidParameterException(
            f"The value '{value}' is not valid for the account setting {name}. "
            f"Valid values: {', '.join(VALUES[name])}.")
    return value


def principal(account: str, principal_arn: str | None) -> str:
    """The principal a request's `principalArn` names; the caller (the account's root
    user, as Nozama does not tell users apart yet) when it names none."""
    if not principal_arn:
        return root_arn(account)
    match = _PRINCIPAL.fullmatch(principal_arn)
    if match is None:
        raise errors.ecs.InvalidParameterException(
            f"principalArn '{principal_arn}' is not a valid ARN of the root user, an IAM "
            "user or an IAM role.")
    if match.group(1) != account:
        raise errors.ecs.AccessDeniedException(
            "You can only modify or list the account settings of principals in your own "
            "account.")
    return principal_arn


def check_principal_may_hold(name: str, principal_arn: str, account: str) -> None:
    if name in ROOT_ONLY and principal_arn != root_arn(account):
        raise errors.ecs.InvalidParameterException(
            f"The {name} account setting can only be set for the root user.")


def effective(name: str, principal_arn: str, account: str,
              explicit: dict[tuple[str, str], str]) -> Setting:
    """The setting `name` as it applies to the principal, from the explicit settings
    {(principal_arn, name): value}: its own, else the root user's, else ECS's default.
    The principalArn shown is the principal's own where it set one, else the root's."""
    own = explicit.get((principal_arn, name))
    if own is not None:
        return Setting(name, own, principal_arn)
    root = root_arn(account)
    return Setting(name, explicit.get((root, name), DEFAULTS[name]), root)
