"""What the data plane knows of targets, and the names of its stickiness cookies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nozama.lb.config import Target, TargetGroup


def token(*parts) -> str:
    """A stickiness cookie's value: an opaque name for a target group or a target."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


# The cookie that carries a group's own stickiness, by stickiness.type.
STICKY_COOKIES = {"lb_cookie": "AWSALB", "app_cookie": "AWSALBAPP-0"}


def sticky_targets(group: TargetGroup) -> str | None:
    """The name of the cookie of the group's own (target) stickiness, if it is on."""
    attributes = group.attributes
    if attributes.get("stickiness.enabled") != "true":
        return None
    return STICKY_COOKIES.get(attributes.get("stickiness.type", "lb_cookie"))


@dataclass
class TargetState:
    """What the data plane knows of a target beyond its registration."""
    target: Target
    health: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    # Its request meters, by load balancer ARN (lb/meters.py).
    meters: dict = field(default_factory=dict)
