"""Blue/green, canary and linear deployments: traffic moves, tasks stay until it has.

With deploymentConfiguration.strategy BLUE_GREEN, CANARY or LINEAR, a service's
loadBalancers carry an advancedConfiguration: the alternate target group, the
production listener rule and (optionally) the test listener rule. A new
deployment (green) then runs beside the current one (blue), stage by stage as
ECS names them:

  RECONCILE_SERVICE, PRE_SCALE_UP   lifecycle hooks only
  SCALE_UP                          green starts desiredCount tasks in the target
                                    group blue does not serve from
  POST_SCALE_UP                     hooks
  TEST_TRAFFIC_SHIFT                the test rule forwards to green
  POST_TEST_TRAFFIC_SHIFT,
  PRE_PRODUCTION_TRAFFIC_SHIFT      hooks
  PRODUCTION_TRAFFIC_SHIFT          the production rule's weights move to green:
                                    all at once, canary percent then the rest, or
                                    linear steps, each step baking before the next
  POST_PRODUCTION_TRAFFIC_SHIFT     hooks
  BAKE_TIME                         bakeTimeInMinutes with blue still running
  CLEAN_UP                          blue's tasks drain and stop

Task counts while traffic moves (what ECS documents: UpdateService's desiredCount
"doesn't trigger a new service deployment"; each revision of a deployment keeps a
computed desired count of the service's desiredCount times its scale, rounded up,
as TaskSet.computedDesiredCount says; and the bake time is "the duration when both
blue and green service revisions are running simultaneously after the production
traffic has shifted", so that a rollback can return all traffic to blue at once):
- green, the PRIMARY deployment, is sized to the service's desiredCount from
  SCALE_UP on, and a change of desiredCount during the shift resizes it;
- blue keeps its scale of 100% until CLEAN_UP: desiredCount tasks, resized with
  the service's desiredCount, a task that dies replaced (in blue's own target
  group, of blue's revision), whatever share of production traffic it still
  has. It must be able to take all of it back in one write. Only in CLEAN_UP,
  once no traffic is left on it, does its desired count go to 0 and its tasks
  drain and stop. Blue's deployment shows that desired count in DescribeServices.

Until CLEAN_UP, a rollback (an alarm, a failed hook, StopServiceDeployment)
only has to point the rules back at blue — one write, which the data plane
applies within its poll interval — and stop green. Each move of the weights is
a rewrite of the rule's forward action, which never cuts a request in flight.

Everything is in the deployment's Rollout (stage, percent, hooks...,
model/deployment_state.py), and every pass writes the weights it says: a control
plane restarted in the middle of a shift resumes it with the traffic where it was.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from nozama.controllers.rolling import Step
from nozama.kernel.http_client import BackgroundCalls, post_json
from nozama.lb import meters
from nozama.metrics import canary, series
from nozama.model.deployment_state import HookState, Rollout
from nozama.store import load_balancers as lb_store
from nozama.store import tags as tag_store

log = logging.getLogger(__name__)

STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")
STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP",
          "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT",
          "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
DONE = "DONE"
# ServiceDeployment.lifecycleStage has no PRE_PRODUCTION_TRAFFIC_SHIFT (a hook stage).
SHOWN_AS = {"PRE_PRODUCTION_TRAFFIC_SHIFT": "POST_TEST_TRAFFIC_SHIFT", DONE: "CLEAN_UP"}
# Nozama's own option, as a tag of the service: "true" compares green with blue on live
# traffic while they share it, and rolls back or moves on early (metrics/canary.py).
CANARY_ANALYSIS_TAG = "nozama:canary-analysis"
ANALYSIS_WARMUP = 2
# "header:NAME" or "cookie:NAME": the canary's share is a share of users, each of whom
# stays on one revision for the whole rollout.
CANARY_IDENTITY_TAG = "nozama:canary-identity"
HOOK_TIMEOUT_MINUTES = 60
HOOK_RETRY_SECONDS = 2.0
HOOK_REQUEST_SECONDS = 10.0


def uses_traffic_shift(configuration: dict) -> bool:
    return configuration.get("strategy", "ROLLING") in STRATEGIES


def production_steps(configuration: dict) -> list[tuple[float, float]]:
    """(share of production traffic on green, seconds to bake after that step)."""
    strategy = configuration["strategy"]
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        return [(float(canary.get("canaryPercent", 10.0)),
                 60.0 * canary.get("canaryBakeTimeInMinutes", 10)), (100.0, 0.0)]
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        step, bake = float(linear.get("stepPercent", 10.0)), \
            60.0 * linear.get("stepBakeTimeInMinutes", 6)
        steps, share = [], step
        while share < 100.0 - 1e-9:
            steps.append((share, bake))
            share += step
        return steps + [(100.0, 0.0)]
    return [(100.0, 0.0)]


def describe_split(rollout: Rollout) -> str:
    """The traffic split of a deployment in progress, in words."""
    percent = rollout.percent
    return (f"Lifecycle stage {rollout.stage}: {percent:g}% of production traffic on the "
            f"new revision, {100 - percent:g}% on the previous one.")


def weights(percent: float) -> tuple[int, int]:
    """(blue, green) forward weights for a share of traffic on green; ALB's weights are
    whole numbers up to 999, so fractional shares use 999 as the whole."""
    if percent == int(percent):
        return 100 - int(percent), int(percent)
    green = round(percent / 100 * 999)
    return 999 - green, green


def start(green: Rollout, blue: Rollout | None, entries: list[dict]) -> None:
    """Prepare a new deployment: its tasks go to the target group blue does not use."""
    if blue is None:
        green.groups = [e["targetGroupArn"] for e in entries]
        green.stage = DONE  # nothing to shift from: the first deployment just starts
        return
    theirs = blue.groups or [e["targetGroupArn"] for e in entries]
    green.groups = [
        e["advancedConfiguration"]["alternateTargetGroupArn"]
        if group == e["targetGroupArn"] else e["targetGroupArn"]
        for e, group in zip(entries, theirs)]
    green.blue = blue.id
    green.stage, green.percent, green.step, green.hooks = STAGES[0], 0.0, -1, {}


class TrafficShift:
    """One pass's work on a traffic-shifted deployment: `deployment` (green, its AWS shape)
    and its `rollout`, beside `blue`'s rollout; `events` is the service's ServiceEvents."""

    def __init__(self, conn: Connection, service: dict, deployment: dict, rollout: Rollout,
                 blue: Rollout | None, events, now: float, region: str, account: str,
                 tags: dict[str, str], calls: BackgroundCalls):
        self.conn, self.service, self.events, self.calls = conn, service, events, calls
        self.deployment, self.rollout, self.blue = deployment, rollout, blue
        self.entries = service["loadBalancers"]
        self.configuration = rollout.configuration
        self.now, self.region, self.account = now, region, account
        self.failure: str | None = None  # why the deployment must roll back, if it must
        self.analysis = tags.get(CANARY_ANALYSIS_TAG, "").lower() == "true"
        self.identity = identity_option(tags.get(CANARY_IDENTITY_TAG, ""))

    @classmethod
    def of(cls, conn: Connection, service: dict, deployment: dict, rollout: Rollout,
           blue: Rollout | None, events, now: float, region: str,
           account: str, calls: BackgroundCalls) -> "TrafficShift":
        """The shift of a service's deployment, with the options its tags give; HTTP
        lifecycle hooks are called through `calls` (the server's)."""
        tags = tag_store.get(conn, service["serviceArn"])
        return cls(conn, service, deployment, rollout, blue, events, now, region, account,
                   tags, calls)

    @property
    def stage(self) -> str:
        return self.rollout.stage

    def step(self, mine: list, healthy: list, old: list) -> Step:
        """Move the deployment on as far as it can go in this pass; what to start and stop."""
        desired = self.deployment["desiredCount"]
        # Green keeps desiredCount tasks from SCALE_UP on (a task that dies is replaced);
        # blue keeps its own until CLEAN_UP.
        scaled = Step(max(0, desired - len(mine)), 0, max(0, len(mine) - desired))
        self._apply_weights()
        while self.stage != DONE:
            stage = self.stage
            hold = scaled if STAGES.index(stage) >= STAGES.index("SCALE_UP") else Step(0, 0, 0)
            if stage == "SCALE_UP":
                if len(healthy) < desired or len(mine) != desired:
                    return scaled
            elif stage == "TEST_TRAFFIC_SHIFT":
                self._point_test_rules(self.rollout.groups)
            elif stage == "PRODUCTION_TRAFFIC_SHIFT":
                if not self._shift_production():
                    return hold
            elif stage == "BAKE_TIME":
                bake = 60.0 * (self.configuration.get("bakeTimeInMinutes") or 0)
                if self.now < self.rollout.stage_at + bake:
                    return hold
            elif stage == "CLEAN_UP" and old:
                return Step(scaled.start, len(old), 0)
            if self._hooks(stage) != "DONE":
                return hold  # waiting for a hook, or one failed (the pass rolls back)
            self._enter(STAGES[STAGES.index(stage) + 1] if stage != "CLEAN_UP" else DONE)
        return Step(scaled.start, len(old), scaled.stop_primary)

    def blue_deployment(self) -> dict | None:
        """Blue's deployment in the service's document (ACTIVE beside green)."""
        if self.blue is None:
            return None
        return next((d for d in self.service["deployments"] if d["id"] == self.blue.id),
                    None)

    def blue_step(self, old: list, draining: set[str]) -> tuple[int, int, list]:
        """(blue's tasks to start, how many to stop, blue's tasks) in this pass, sizing
        blue as the module's docstring says; sets blue's desiredCount in the document.
        Called after step(): CLEAN_UP stops all of blue through step()'s stop_old."""
        blue = self.blue_deployment()
        if blue is None:
            return 0, 0, []
        cleaning = self.stage in ("CLEAN_UP", DONE)
        wanted = 0 if cleaning else self.deployment["desiredCount"]
        blue["desiredCount"] = wanted
        if cleaning:
            return 0, 0, []
        # Blue's tasks on draining instances are on their way out: they are replaced.
        theirs = [t for t in old if t.deployment_id == blue["id"]
                  and t.container_instance_arn not in draining]
        return max(0, wanted - len(theirs)), max(0, len(theirs) - wanted), theirs

    def _enter(self, stage: str) -> None:
        self.rollout.stage, self.rollout.stage_at = stage, self.now
        if stage != DONE:
            self.events.of_deployment(self.deployment, f"{stage.replace('_', ' ').lower()}.")

    # ------------------------------------------------------------ traffic

    def _shift_production(self) -> bool:
        """Take the next step when the current one has baked; True when all are taken."""
        steps = production_steps(self.configuration)
        index = self.rollout.step
        if index >= 0 and self.now < self.rollout.step_at + steps[index][1]:
            if not self.analysis or steps[index][0] >= 100:
                return False
            found = self._analyze()
            if found.outcome == canary.FAIL:
                # The event names the signal that decided (5XX, 4XX or latency).
                self.events.of_deployment(self.deployment, f"canary analysis: {found.reason}"
                                          " — rolling back.")
                self.failure = f"Automatic canary analysis: {found.reason}."
                return False
            if found.outcome == canary.CONTINUE:
                return False
            self.events.of_deployment(self.deployment,
                                      f"canary analysis passed early: {found.reason}.")
        if index + 1 >= len(steps):
            return True
        index += 1
        percent = steps[index][0]
        self.rollout.step, self.rollout.step_at, self.rollout.percent = index, self.now, percent
        # The analysis starts once green's first connections are made (they add their
        # set-up to its first response times).
        if self.rollout.analysis_from is None:
            self.rollout.analysis_from = int(self.now) + ANALYSIS_WARMUP
        self._apply_weights()
        self.events.of_deployment(self.deployment, f"shifted {percent:g}% of production "
                                  "traffic to the new revision.")
        return index + 1 >= len(steps) and steps[index][1] == 0

    def _analyze(self) -> canary.Verdict:
        """Green against blue, over what the load balancer measured since the canary began
        (each production rule's load balancer, each entry's pair of target groups)."""
        start, end = self.rollout.analysis_from, int(self.now)
        verdict = canary.Verdict(canary.CONTINUE, "no traffic measured yet")
        for entry, green, blue in zip(self.entries, self.rollout.groups,
                                      self._blue_groups()):
            rule = lb_store.rule(self.conn, entry["advancedConfiguration"][
                "productionListenerRule"])
            if rule is None:
                continue
            balancer = lb_store.listener(self.conn, rule.listener_arn).load_balancer_arn
            verdict = canary.verdict(self._sample(balancer, green, start, end),
                                     self._sample(balancer, blue, start, end))
            if verdict.outcome != canary.PASS:
                return verdict
        return verdict

    def _sample(self, balancer: str, group: str, start: int, end: int) -> canary.Sample:
        dims = [{"Name": "LoadBalancer", "Value": meters.dimension(balancer)},
                {"Name": "TargetGroup", "Value": meters.dimension(group)}]
        region, account = self.region, self.account

        def read(name: str):
            return series.window(self.conn, region, account, {
                "Namespace": meters.NAMESPACE, "MetricName": name, "Dimensions": dims},
                start, end)
        requests, errors, client_errors, times = (
            read("RequestCount"), read(meters.TARGET_CODES[5]), read(meters.TARGET_CODES[4]),
            read("TargetResponseTime"))
        return canary.Sample(
            requests.sum if requests else 0.0, errors.sum if errors else 0.0,
            times.sketch if times else None, times.min if times else 0.0,
            times.max if times else 0.0,
            client_errors=client_errors.sum if client_errors else 0.0)

    def _apply_weights(self) -> None:
        """Make each production rule forward as the record says (a no-op when it does)."""
        percent = self.rollout.percent
        blue_groups = self._blue_groups()
        for entry, green, blue in zip(self.entries, self.rollout.groups, blue_groups):
            rule = entry["advancedConfiguration"]["productionListenerRule"]
            blue_weight, green_weight = weights(percent)
            if self.identity:
                # Green first: by identity, its share of users only ever grows from the
                # first buckets (lb/balancer.py), so its users stay on it.
                set_forward(self.conn, rule, [(green, green_weight), (blue, blue_weight)],
                            self.identity)
            else:
                set_forward(self.conn, rule, [(blue, blue_weight), (green, green_weight)])

    def _blue_groups(self) -> list[str]:
        return [e["advancedConfiguration"]["alternateTargetGroupArn"]
                if g == e["targetGroupArn"] else e["targetGroupArn"]
                for e, g in zip(self.entries, self.rollout.groups)]

    def _point_test_rules(self, groups: list[str]) -> None:
        for entry, group in zip(self.entries, groups):
            rule = entry["advancedConfiguration"].get("testListenerRule")
            if rule:
                set_forward(self.conn, rule, [(group, 1)])

    def roll_back(self) -> None:
        """All traffic back to blue (production and test), at once."""
        self.rollout.percent = 0.0
        self._apply_weights()
        self._point_test_rules(self._blue_groups())

    # ------------------------------------------------------------ hooks

    def _hooks(self, stage: str) -> str:
        """DONE, WAITING or FAILED: the hooks of a stage."""
        hooks = [(i, h) for i, h in enumerate(self.configuration.get("lifecycleHooks") or [])
                 if stage in h.get("lifecycleStages", [])]
        if not hooks:
            return "DONE"
        states = self.rollout.hooks
        outcome = "DONE"
        for index, hook in hooks:
            hook_id = f"{stage.lower()}-{index}"
            state = states.get(hook_id)
            if state is None:
                timeout = hook.get("timeoutConfiguration") or {}
                state = states[hook_id] = HookState(
                    hook_id=hook_id, target_type=hook["targetType"],
                    status="AWAITING_ACTION" if hook["targetType"] == "PAUSE"
                    else "IN_PROGRESS",
                    expires_at=self.now + 60 * timeout.get("timeoutInMinutes",
                                                           HOOK_TIMEOUT_MINUTES),
                    timeout_action=timeout.get("action", "ROLLBACK"), stage=stage,
                    target_arn=hook.get("hookTargetArn") or None)
            if state.waiting:
                if hook["targetType"] != "PAUSE":
                    self._call(hook, state, stage)
                if state.waiting and self.now >= state.expires_at:
                    state.status = "TIMED_OUT"
            if state.failed:
                return "FAILED"
            if state.waiting:
                outcome = "WAITING"
        return outcome

    def _call(self, hook: dict, state: HookState, stage: str) -> None:
        """An HTTP hook: POST the deployment's facts; its answer's hookStatus decides."""
        key = f"{self.rollout.arn}|{state.hook_id}"
        if not self.calls.running(key) and self.now < state.retry_at:
            return
        body = {"serviceDeploymentArn": self.rollout.arn,
                "serviceArn": self.service["serviceArn"], "lifecycleStage": stage,
                "hookId": state.hook_id, "targetServiceRevisionArn": self.rollout.revision_arn,
                "hookDetails": hook.get("hookDetails")}
        status = self.calls.result(key, _post, hook["hookTargetArn"], body)
        if status is BackgroundCalls.NOT_DONE:
            return
        if status == "IN_PROGRESS":
            state.retry_at = self.now + HOOK_RETRY_SECONDS
        else:
            state.status = status
            self.events.of_deployment(self.deployment,
                                      f"lifecycle hook {state.hook_id} {status.lower()}.")

    def failed_hook(self) -> str | None:
        return self.rollout.failed_hook


def _post(url: str, body: dict) -> str:
    """Call an HTTP hook: SUCCEEDED, FAILED or IN_PROGRESS (ask again later)."""
    try:
        answer = post_json(url, body, HOOK_REQUEST_SECONDS)
    except (OSError, ValueError) as error:
        log.info("lifecycle hook %s failed: %s", url, error)
        return "FAILED"
    status = answer.get("hookStatus") if isinstance(answer, dict) else None
    return status if status in ("SUCCEEDED", "FAILED", "IN_PROGRESS") else "FAILED"


def set_forward(conn, rule_arn: str, groups: list[tuple[str, int]],
                identity: dict | None = None) -> None:
    """Make a rule forward to `groups` with those weights (sharded by `identity` when
    given), when it does not already."""
    row = lb_store.rule(conn, rule_arn)
    if row is None:
        return
    wanted = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups]
    action = row.doc["Actions"][0]
    config = action.get("ForwardConfig") or {}
    if action["Type"] == "forward" and config.get("TargetGroups") == wanted and \
            action.get("_identity") == identity:
        return
    forward = {"Type": "forward", "ForwardConfig": {
        "TargetGroups": wanted,
        "TargetGroupStickinessConfig": config.get("TargetGroupStickinessConfig",
                                                  {"Enabled": False})}}
    if identity:
        # Nozama's own member: the data plane reads it, the API's shapes leave it out.
        forward["_identity"] = identity
    lb_store.replace_rule_actions(conn, row, [forward])


def identity_option(value: str) -> dict | None:
    """The canary identity a service's tag names: "header:NAME" or "cookie:NAME"."""
    kind, _, name = value.partition(":")
    # Names as a load balancer can read them: letters, digits, '-', '_' and '.'.
    usable = name and all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)
    return {kind: name} if kind in ("header", "cookie") and usable else None
