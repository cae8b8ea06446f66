"""Traffic-shifted function deployments: the plan, and the health verdict of a step.

Pure logic, driven by controllers/function_deployments.py. A plan is the list of
weights the alias's new version gets, one step after another, and how long each
step bakes before its health is judged. The last weight is always 1.0: the alias
then points at the new version alone.

The seed's parameters (`--type linear --steps 10 --interval 120`) and CodeDeploy's
predefined configurations (LambdaCanary10Percent5Minutes, ...) both become plans.
Defaults are safe: a step that is not the last of its shift is always judged,
unless the user turned health checks off in so many words.
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


# Without an interval, a type bakes as CodeDeploy's own default configuration for it
# does: LambdaLinear10PercentEvery1Minute, LambdaCanary10Percent5Minutes. CodeDeploy's
# LambdaAllAtOnce watches nothing after the shift, so an all-at-once deployment has
# no default: it needs an interval to watch, or health checks said to be off.
DEFAULT_INTERVALS = {"linear": 60.0, "canary": 300.0}
DEFAULT_STEPS = 10
DEFAULT_PERCENT = 10.0
NO_CHECKS = "--no-health-checks (API: \"healthChecks\": false)"


@dataclass(frozen=True)
class Plan:
    kind: str
    weights: tuple[float, ...]   # the new version's weight at each step; the last is 1.0
    bakes: tuple[float, ...]     # seconds each step bakes before its health is judged
    health_checks: bool = True   # False only when the user said so

    def judged(self, step: int) -> bool:
        """Whether a step's health is judged. The step to 100% of a linear or canary plan
        ends the shift (as in CodeDeploy); all-at-once's one step is its watch."""
        return self.health_checks and (step + 1 < len(self.weights)
                                       or self.kind == "all-at-once")


def percentage(weight: float) -> str:
    """A weight as the percentage a user asked for: 0.001 is "0.1%", never "0%"."""
    return f"{round(weight * 100, 8):.10g}%"


def describe(chosen: Plan) -> str:
    """The plan in words, with its unit: "canary: 0.1% of traffic for 300 s, then 100%"."""
    steps = [percentage(w) + (" of traffic" if i == 0 and w < 1 else "")
             + (f" for {b:g} s" if b else "")
             for i, (w, b) in enumerate(zip(chosen.weights, chosen.bakes))]
    if len(steps) > 1:
        steps[-1] = "then " + steps[-1]
    text = f"{chosen.kind}: {', '.join(steps)}"
    if not chosen.health_checks:
        return text + "; health checks are off: no step is judged"
    return text


def plan(kind: str, steps: int | None = None, interval: float | None = None,
         percent: float | None = None, health_checks: bool = True) -> Plan:
    """A plan from the seed's parameters.

    linear: the weight grows in `steps` equal steps; each but the last bakes
    `interval` seconds. canary: `percent` (a percentage: 0.1 is 0.1% of traffic) for
    `interval`, then all. all-at-once: all at once, then `interval` seconds of
    watching. As in the seed and CodeDeploy, the step to 100% ends the shift; only
    all-at-once watches after it. A step that bakes 0 seconds cannot be checked, so
    an interval of 0 needs `health_checks=False`: never a silent unchecked step.
    """
    if kind not in TYPES:
        raise PlanError(f"Unknown deployment type {kind!r}: use one of {', '.join(TYPES)}.")
    if interval is None:
        if kind in DEFAULT_INTERVALS:
            interval = DEFAULT_INTERVALS[kind]
        elif health_checks:
            raise PlanError(
                "An all-at-once deployment checks the new version's health only while it "
                "watches it after the shift: give --interval SECONDS to watch (for example "
                f"300), or {NO_CHECKS} to shift without any check, as CodeDeploy's "
                "LambdaAllAtOnce does.")
        else:
            interval = 0.0
    interval = float(interval)
    if interval < 0 or interval > 14 * 86400:
        raise PlanError("The interval must be between 0 seconds and 14 days.")
    if interval == 0 and health_checks:
        raise PlanError(f"An interval of 0 leaves no time to check a step's health: give an "
                        f"interval above 0 (default {_defaults()}), or {NO_CHECKS} to shift "
                        "without health checks.")
    if kind == "linear":
        steps = DEFAULT_STEPS if steps is None else steps
        if not 1 <= steps <= 100:
            raise PlanError("A linear deployment takes 1 to 100 steps.")
        weights = tuple(round(i / steps, 4) for i in range(1, steps + 1))
        return Plan(kind, weights, (interval,) * (steps - 1) + (0.0,), health_checks)
    if kind == "canary":
        percent = DEFAULT_PERCENT if percent is None else float(percent)
        if not 0 < percent < 100:
            raise PlanError("A canary's percentage must be above 0 and below 100 "
                            "(it is a percentage: 0.1 is 0.1% of traffic).")
        weight = round(percent / 100, 8)  # a percentage's precision, not 4 digits' worth
        if weight == 0:
            raise PlanError(f"A canary of {percent:g}% is too small to route any traffic.")
        return Plan(kind, (weight, 1.0), (interval, 0.0), health_checks)
    return Plan(kind, (1.0,), (interval,), health_checks)


def _defaults() -> str:
    return ", ".join(f"{kind} {seconds:g} s" for kind, seconds in DEFAULT_INTERVALS.items())


def codedeploy_plan(name: str, health_checks: bool = True) -> Plan:
    if name not in CODEDEPLOY_CONFIGS:
        raise PlanError(f"Unknown deployment configuration {name!r}: use one of "
                        f"{', '.join(CODEDEPLOY_CONFIGS)}.")
    kind, share, minutes = CODEDEPLOY_CONFIGS[name]
    if kind == "all-at-once":
        if health_checks:
            raise PlanError(
                f"{name} shifts all traffic at once and checks nothing afterwards: give "
                f"{NO_CHECKS} to accept that, or use --type all-at-once --interval SECONDS "
                "to watch the new version after the shift.")
        return plan(kind, interval=0, health_checks=False)
    if kind == "linear":
        return plan(kind, steps=100 // share, interval=minutes * 60,
                    health_checks=health_checks)
    return plan(kind, percent=share, interval=minutes * 60, health_checks=health_checks)


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
