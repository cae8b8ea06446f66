"""Traffic-shifted function deployments: the plan, and the health verdict of a step.

Pure logic, driven by controllers/function_deployments.py. A plan is the list of
weights the alias's new version gets, one step after another, and how long each
step bakes before its health is judged. The last weight is always 1.0: the alias
then points at the new version alone.

The seed's parameters (`--type linear --steps 10 --interval 120`) and CodeDeploy's
predefined configurations (LambdaCanary10Percent5Minutes, ...) both become plans.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = ("linear", "canary", "all-at-once")

# CodeDeploy's predefined Lambda configurations: (type, percent, minutes).
CODEDEPLOY_CONFIGS = {
    "LambdaCanary10Percent5Minutes": ("canary", 10, 5),
    "LambdaCanary10Percent10Minutes": ("canary", 10, 10),
    "LambdaCanary10Percent15Minutes": ("canary", 10, 15),
    "LambdaCanary10Percent30Minutes": ("canary", 10, 30),
    "LambdaLinear10PercentEvery1Minute": ("linear", 10, 1),
    "LambdaLinear10PercentEvery2Minutes": ("linear", 10, 2),
    "LambdaLinear10PercentEvery3Minutes": ("linear", 10, 3),
    "LambdaLinear10PercentEvery10Minutes": ("linear", 10, 10),
    "LambdaAllAtOnce": ("all-at-once", 100, 0),
}


class PlanError(ValueError):
    """Parameters that make no plan; the message says why."""


@dataclass(frozen=True)
class Plan:
    kind: str
    weights: tuple[float, ...]   # the new version's weight at each step; the last is 1.0
    bakes: tuple[float, ...]     # seconds each step bakes before its health is judged


def plan(kind: str, steps: int | None = None, interval: float | None = None,
         percent: float | None = None) -> Plan:
    """A plan from the seed's parameters.

    linear: the weight grows in `steps` equal steps; each but the last bakes
    `interval` seconds. canary: `percent` for `interval`, then all. all-at-once:
    all at once, then `interval` seconds of watching (0: none). As in the seed and
    CodeDeploy, the step to 100% ends the shift; only all-at-once watches after it.
    """
    if kind not in TYPES:
        raise PlanError(f"Unknown deployment type {kind!r}: use one of {', '.join(TYPES)}.")
    interval = 0.0 if interval is None else float(interval)
    if interval < 0 or interval > 14 * 86400:
        raise PlanError("The interval must be between 0 seconds and 14 days.")
    if kind == "linear":
        steps = 10 if steps is None else steps
        if not 1 <= steps <= 100:
            raise PlanError("A linear deployment takes 1 to 100 steps.")
        weights = tuple(round(i / steps, 4) for i in range(1, steps + 1))
        return Plan(kind, weights, (interval,) * (steps - 1) + (0.0,))
    if kind == "canary":
        percent = 10.0 if percent is None else float(percent)
        if not 0 < percent < 100:
            raise PlanError("A canary's percentage must be above 0 and below 100.")
        return Plan(kind, (round(percent / 100, 4), 1.0), (interval, 0.0))
    return Plan(kind, (1.0,), (interval,))


def codedeploy_plan(name: str) -> Plan:
    if name not in CODEDEPLOY_CONFIGS:
        raise PlanError(f"Unknown deployment configuration {name!r}: use one of "
                        f"{', '.join(CODEDEPLOY_CONFIGS)}.")
    kind, percent, minutes = CODEDEPLOY_CONFIGS[name]
    if kind == "linear":
        return plan(kind, steps=100 // percent, interval=minutes * 60)
    return plan(kind, percent=percent, interval=minutes * 60)


@dataclass(frozen=True)
class StepHealth:
    """What was seen of the new version while a step ran."""
    invocations: float
    errors: float
    alarms_firing: tuple[str, ...] = ()


def verdict(health: StepHealth, version: str, step_over: bool,
            allow_no_invocations: bool) -> str | None:
    """Why the step is unhealthy, or None when it is (so far) healthy.

    Errors and alarms fail a step the moment they are seen. Silence only counts
    once the step is over: a version nobody invoked shows no errors, which proves
    nothing (the seed's warning), so it fails the step unless the user allows it.
    """
    if health.alarms_firing:
        return f"Alarm {', '.join(health.alarms_firing)} is in ALARM"
    if health.errors > 0:
        return f"Version {version} had {int(health.errors)} errors"
    if step_over and health.invocations == 0 and not allow_no_invocations:
        return (f"Version {version} was not invoked during the step, so its health is "
                "unknown (allow this with --allow-no-invocations)")
    return None
