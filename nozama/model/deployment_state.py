"""What a service's deployments know beyond their AWS shape, as one typed record.

A service's document holds what DescribeServices shows: its deployments as ECS
describes them (status, counts, rolloutState). Everything else the service
controller needs to carry a deployment through — its service-deployment and
service-revision ARNs, its ListServiceDeployments status, the traffic-shift
stage and weights, lifecycle hooks, zone waves, bake clocks, what it rolls
back — lives here, in the services row's `deployment_state` column, apart from
the document. `to_json` / `from_json` are its only serialization: a control
plane restarted mid-deployment reads back exactly what it wrote.

Times are epoch seconds (the clock's now().timestamp()), as in the AWS shapes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, fields

HISTORY_KEPT = 50  # deployment records kept per service (ListServiceDeployments)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


@dataclass
class HookState:
    """One lifecycle hook's run in one stage (lifecycleHookDetails, plus when to ask an
    HTTP hook again)."""
    hook_id: str
    target_type: str
    status: str                 # AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT
    expires_at: float
    timeout_action: str         # ROLLBACK or CONTINUE
    stage: str                  # the lifecycle stage it runs in
    target_arn: str | None = None
    retry_at: float = 0.0

    @property
    def failed(self) -> bool:
        """Failed, or timed out with a timeout action that rolls back."""
        return self.status == "FAILED" or (self.status == "TIMED_OUT" and
                                           self.timeout_action == "ROLLBACK")

    @property
    def waiting(self) -> bool:
        return self.status in ("AWAITING_ACTION", "IN_PROGRESS")

    def view(self) -> dict:
        """The AWS shape (ServiceDeployment.lifecycleHookDetails[])."""
        shown = {"hookId": self.hook_id, "targetType": self.target_type,
                 "status": self.status, "expiresAt": self.expires_at,
                 "timeoutAction": self.timeout_action}
        if self.target_arn:
            shown["targetArn"] = self.target_arn
        return shown


@dataclass
class Rollout:
    """One deployment of a service, from its start to its place in the history."""
    id: str                                 # the ECS deployment id (ecs-svc/...)
    arn: str                                # its service-deployment ARN
    revision_arn: str                       # the service revision it deploys
    status: str = "IN_PROGRESS"             # ServiceDeployment.status
    sources: list[str] = field(default_factory=list)   # revisions it replaces
    configuration: dict = field(default_factory=dict)  # deploymentConfiguration at start
    stopped_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None               # ServiceDeployment.statusReason
    rollback: dict | None = None            # ServiceDeployment.rollback
    rollback_of: str | None = None          # the failed deployment this one rolls back
    # Load balancing: the target group of each loadBalancers entry its tasks serve from.
    groups: list[str] | None = None
    # Traffic shifting (controllers/traffic_shift.py).
    blue: str | None = None                 # the deployment id it shifts traffic from
    stage: str | None = None                # lifecycle stage, or DONE
    stage_at: float | None = None
    percent: float = 0.0                    # production traffic on this deployment
    step: int = -1                          # index of the production step taken
    step_at: float | None = None
    analysis_from: int | None = None        # canary analysis window start
    hooks: dict[str, HookState] = field(default_factory=dict)
    # Zone waves (controllers/zone_waves.py).
    waves: list[tuple[str, int]] | None = None
    wave: int = 0
    wave_at: float | None = None
    old_zones: dict[str, int] = field(default_factory=dict)
    waves_for: int | None = None            # the desiredCount the waves are planned for
    # Alarm bake time of a rolling deployment: when it became steady.
    steady_at: float | None = None
    # The deployment as DescribeServices showed it when last recorded (for the history).
    deployment: dict = field(default_factory=dict)

    @property
    def shifting(self) -> bool:
        """In the middle of a traffic shift (not started plainly, not done)."""
        return self.stage not in (None, "DONE")

    @property
    def failed_hook(self) -> str | None:
        return next((h.hook_id for h in self.hooks.values() if h.failed), None)

    def to_json(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "hooks":
                value = {key: _hook_json(hook) for key, hook in value.items()}
            elif f.name == "waves":
                value = [list(wave) for wave in value]
            out[_camel(f.name)] = value
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Rollout":
        known = {f.name for f in fields(cls)}
        values = {_snake(k): v for k, v in data.items() if _snake(k) in known}
        values["hooks"] = {key: HookState(**{_snake(k): v for k, v in hook.items()})
                           for key, hook in (data.get("hooks") or {}).items()}
        if values.get("waves") is not None:
            values["waves"] = [(zone, count) for zone, count in values["waves"]]
        return cls(**values)


def _hook_json(hook: HookState) -> dict:
    return {_camel(f.name): getattr(hook, f.name) for f in fields(hook)
            if getattr(hook, f.name) is not None}


@dataclass
class DeploymentState:
    """A service's deployments in progress and its deployment history."""
    # Every deployment of the service still live or in the history, oldest first, by ARN.
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    # DescribeServiceRevisions' answers, by service-revision ARN.
    revisions: dict[str, dict] = field(default_factory=dict)
    # Whether "has reached a steady state" was the last thing said about the service.
    steady: bool = False
    # Whether the service is moving tasks back to an even spread over its zones
    # (controllers/zone_rebalancing.py): it says so when it is balanced again.
    rebalancing: bool = False

    def of(self, deployment: dict) -> Rollout:
        """The rollout of one of the service document's deployments."""
        found = self.find(deployment["id"])
        if found is None:
            raise KeyError(deployment["id"])
        return found

    def find(self, deployment_id: str | None) -> Rollout | None:
        if deployment_id is None:
            return None
        for rollout in reversed(self.rollouts.values()):
            if rollout.id == deployment_id:
                return rollout
        return None

    def add(self, rollout: Rollout) -> None:
        self.rollouts[rollout.arn] = rollout

    def record(self, deployments: list[dict]) -> None:
        """Keep each live deployment's AWS shape with its rollout; the history keeps the
        newest HISTORY_KEPT (and every live one)."""
        live = set()
        for deployment in deployments:
            rollout = self.find(deployment["id"])
            if rollout is not None:
                rollout.deployment = dict(deployment)
                live.add(rollout.arn)
        for arn in list(self.rollouts)[:-HISTORY_KEPT]:
            if arn not in live:
                del self.rollouts[arn]

    def to_json(self) -> dict:
        return {"rollouts": [r.to_json() for r in self.rollouts.values()],
                "revisions": self.revisions, "steady": self.steady,
                **({"rebalancing": True} if self.rebalancing else {})}

    @classmethod
    def from_json(cls, data: dict | None) -> "DeploymentState":
        data = copy.deepcopy(data or {})  # nothing shared with the row it came from
        rollouts = [Rollout.from_json(r) for r in data.get("rollouts") or []]
        return cls({r.arn: r for r in rollouts}, dict(data.get("revisions") or {}),
                   bool(data.get("steady")), bool(data.get("rebalancing")))
