"""Choosing where a request goes: a target group by weight, then a target in it.

Weights use smooth weighted round robin (as nginx does): over any run of
requests the split is as close to the weights as whole requests allow, with
no randomness to drift. Inside a group, round_robin or
least_outstanding_requests picks among the targets that are healthy and not
draining; a group without one answers 503.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

from nozama.kernel.clock import Clock
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


IDENTITY_BUCKETS = 10_000


def by_identity(groups: list[dict], identity: str) -> str | None:
    """The group an identity belongs to: its hash picks one of IDENTITY_BUCKETS buckets,
    and the groups own consecutive ranges of buckets in proportion to their weights, in
    their order. A group that grows keeps the identities it had (its range only
    extends), so a user who reached the canary stays on it while its share grows."""
    total = sum(g["Weight"] for g in groups)
    if total == 0:
        return None
    bucket = int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(),
                            "big") % IDENTITY_BUCKETS
    edge = 0.0
    for group in groups:
        edge += group["Weight"] / total * IDENTITY_BUCKETS
        if bucket < edge:
            return group["TargetGroupArn"]
    return groups[-1]["TargetGroupArn"]


@dataclass
class TargetState:
    """What the data plane knows of a target beyond its registration."""
    target: Target
    health: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    in_flight: int = 0
    # When it last became healthy (the clock's monotonic()), for slow start; None: long ago,
    # as for the health a restarted data plane reads back.
    healthy_since: float | None = None
    # Its request meters, by load balancer ARN (lb/meters.py).
    meters: dict = field(default_factory=dict)

    def became(self, health: str, now: float) -> None:
        """A health check's verdict, at monotonic time `now`."""
        if health == "healthy" and self.health != "healthy":
            self.healthy_since = now
        self.health = health


@dataclass
class WeightedChoice:
    """Smooth weighted round robin over one forward action's target groups."""
    weights: list[tuple[str, int]]
    current: dict[str, int] = field(default_factory=dict)

    def next(self) -> str | None:
        total = sum(w for _, w in self.weights)
        if total == 0:
            return None
        best = None
        for arn, weight in self.weights:
            self.current[arn] = self.current.get(arn, 0) + weight
            if best is None or self.current[arn] > self.current[best]:
                best = arn
        self.current[best] -= total
        return best


class Balancer:
    def __init__(self, clock: Clock | None = None):
        self.clock = clock or Clock()
        self.targets: dict[tuple[str, str, int], TargetState] = {}
        self.groups: dict[str, TargetGroup] = {}
        self.choices: dict[int, WeightedChoice] = {}
        self.turns: dict[str, itertools.count] = {}
        self.ramps: dict[str, dict[tuple, int]] = {}  # slow start's round robin state
        # By group, read on every request: its targets' states, and how it picks one
        # (stickiness cookie, least outstanding requests, slow start seconds).
        self.members: dict[str, list[TargetState]] = {}
        self.policies: dict[str, tuple[str | None, bool, int]] = {}

    def update(self, groups: dict[str, TargetGroup]) -> None:
        """Take a new snapshot's groups; targets keep their health across reloads."""
        states = {}
        for group in groups.values():
            for target in group.targets:
                state = self.targets.get(target.key)
                if state is None:
                    state = TargetState(target, *target.health)
                else:
                    state.target = target
                states[target.key] = state
        self.targets, self.groups = states, groups
        self.members = {arn: [states[t.key] for t in group.targets]
                        for arn, group in groups.items()}
        self.policies = {arn: (sticky_targets(group), group.attributes.get(
            "load_balancing.algorithm.type") == "least_outstanding_requests", int(
                group.attributes.get("slow_start.duration_seconds", "0")))
            for arn, group in groups.items()}
        self.choices, self.ramps = {}, {}

    def group_for(self, action: dict, sticky: str | None = None,
                  identity: str | None = None) -> str | None:
        """The target group for a request; `sticky` is its AWSALBTG cookie, honoured
        when the action's stickiness is on and the group is still one of its own;
        `identity` is the user's identity when the action shards by it."""
        config = action["ForwardConfig"]
        groups = config["TargetGroups"]
        if len(groups) == 1:
            return groups[0]["TargetGroupArn"]
        if identity is not None:
            return by_identity(groups, identity)
        if sticky and config["TargetGroupStickinessConfig"].get("Enabled"):
            for group in groups:
                if token(group["TargetGroupArn"]) == sticky and group["Weight"] > 0:
                    return group["TargetGroupArn"]
        choice = self.choices.get(id(action))
        if choice is None:
            choice = self.choices[id(action)] = WeightedChoice(
                [(g["TargetGroupArn"], g["Weight"]) for g in groups])
        return choice.next()

    def target_in(self, group_arn: str, sticky: str | None = None) -> TargetState | None:
        """A target of the group; `sticky` is the request's AWSALB cookie, honoured when
        the group's stickiness is on and that target can still take requests."""
        members = self.members.get(group_arn)
        if members is None:
            return None
        # Healthy and not draining: the targets that take new requests.
        ready = [s for s in members if s.health == "healthy" and not s.target.draining]
        if not ready:
            return None
        cookie, least_outstanding, slow_start = self.policies[group_arn]
        if sticky and cookie:
            for state in ready:
                if token(*state.target.key) == sticky:
                    return state
        if least_outstanding:
            return min(ready, key=lambda s: s.in_flight)
        if slow_start:
            return self._slow_start_choice(group_arn, ready, slow_start)
        turn = self.turns.setdefault(group_arn, itertools.count())
        return ready[next(turn) % len(ready)]

    def _slow_start_choice(self, group_arn: str, ready: list[TargetState],
                           duration: int) -> TargetState:
        """Round robin in which a target that just became healthy gets a share that grows
        linearly to a full one over the slow start duration."""
        now = self.clock.monotonic()
        weights = []
        for state in ready:
            since = state.healthy_since
            ramp = 1.0 if since is None else min(1.0, (now - since) / duration)
            weights.append((state, max(1, round(100 * ramp))))
        chooser = self.ramps.setdefault(group_arn, {})
        total = sum(w for _, w in weights)
        best = None
        for state, weight in weights:
            chooser[state.target.key] = chooser.get(state.target.key, 0) + weight
            if best is None or chooser[state.target.key] > chooser[best.target.key]:
                best = state
        chooser[best.target.key] -= total
        return best
