"""The function deployment workflow: shift an alias to a new version, step by step.

A durable workflow in the control plane. Each deployment's record says its
stage (PreTraffic, Shifting, PostTraffic), its step and when that step began;
every move writes the alias and the record in one transaction, so a restarted
control plane picks up exactly where the last one was, however long the plan.

Every TICK the workflow looks at each deployment in progress:
- PreTraffic: run the pre-traffic hook function, if any, then shift to step 0.
- Shifting: errors of the new version (through the alias or invoked directly)
  and the given alarms fail the step as soon as they show; when the step has
  baked, silence fails it too unless allowed (functions/deploy.py). A healthy
  step moves the alias to the next weight; after the last, PostTraffic. Only a
  deployment created with health checks off moves on unjudged, and its events
  say so at every step.
- PostTraffic: run the post-traffic hook, if any; the deployment has succeeded.
A failed check, hook or stop request points the alias back at the original
version alone (a rollback).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import string

import orjson

from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ServiceError
from nozama.kernel.clock import Clock
from nozama.functions import notify
from nozama.functions.deploy import (Plan, PlanError, StepHealth, codedeploy_plan,
                                     describe as describe_plan, percentage, plan, verdict)
from nozama.functions.limits import Throttled
from nozama.metrics import series
from nozama.kernel import errors
from nozama.functions.lookup import LATEST, find_alias, find_function, find_version, new_revision_id
from nozama.store import Store
from nozama.store import alarms as alarm_store
from nozama.store import function_deployments as deployment_store
from nozama.store import functions as function_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

TICK = 0.25
# A second's metrics are written just after it ends: judge a step once they are in.
SETTLE = 1.5
MAX_EVENTS = 200


# ------------------------------------------------------------------ creating

def create(ctx: RequestContext, params: dict) -> dict:
    """Check a deployment request and record it; the workflow takes it from there."""
    name, alias_name = _text(params, "functionName"), _text(params, "aliasName")
    version = str(params.get("newVersion", ""))
    chosen = _plan(params)
    alarms = [str(a) for a in params.get("alarms") or []]
    if alarms and not chosen.health_checks:
        raise errors.lambda_.InvalidParameterValueException(
            "Alarms are health checks: give alarms or turn health checks off, not both.")
    hooks = {k: str(params[k]) for k in ("preTrafficHook", "postTrafficHook") if params.get(k)}
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        function = find_function(ctx, conn, name)
        # Locked: two deployments of one alias created at once on two servers take turns,
        # and the second finds the first one shifting.
        alias = find_alias(ctx, conn, function, alias_name, lock=True).doc
        if not version.isdigit():
            raise errors.lambda_.InvalidParameterValueException(
                "newVersion must be a published version number.")
        find_version(ctx, conn, function, version)
        current = alias["FunctionVersion"]
        if current == LATEST:
            raise errors.lambda_.InvalidParameterValueException(
                f"Alias {alias_name} points at $LATEST: traffic can "
                "only shift between published versions.")
        if current == version:
            raise errors.lambda_.InvalidParameterValueException(
                f"Alias {alias_name} already points at version "
                f"{version}.")
        if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            raise errors.lambda_.ResourceConflictException(
                f"Alias {alias_name} already routes to two versions: "
                "another shift is under way.")
        for row in deployment_store.search(conn, ctx.region, ctx.account_id, name):
            if row.status == deployment_store.ACTIVE and row.doc["aliasName"] == alias_name:
                raise errors.lambda_.ResourceConflictException(
                    f"Deployment {row.deployment_id} is already shifting "
                    f"alias {alias_name}.")
        for alarm in alarms:
            if alarm_store.get(conn, ctx.region, ctx.account_id, alarm) is None:
                raise errors.lambda_.ResourceNotFoundException(f"Alarm {alarm} does not exist.")
        for hook in hooks.values():
            find_function(ctx, conn, hook)
        doc = {
            "deploymentId": "d-" + "".join(random.choices(string.ascii_uppercase
                                                          + string.digits, k=9)),
            "functionName": name, "aliasName": alias_name,
            "fromVersion": current, "toVersion": version,
            "type": chosen.kind, "deploymentConfig": params.get("deploymentConfig"),
            "weights": list(chosen.weights), "bakes": list(chosen.bakes),
            "alarms": alarms, "hooks": hooks,
            "allowNoInvocations": bool(params.get("allowNoInvocations")),
            "healthChecks": chosen.health_checks, "plan": describe_plan(chosen),
            "status": deployment_store.ACTIVE, "stage": "PreTraffic", "step": -1,
            "weight": 0.0, "stepStartedAt": now.timestamp(),
            "createdAt": now.timestamp(), "updatedAt": now.timestamp(), "events": [],
        }
        _event(doc, now.timestamp(), f"Deployment of {name} version {version} to alias "
               f"{alias_name} (from version {current}) created: {doc['plan']}")
        deployment_store.create(conn, ctx.region, ctx.account_id, doc, now)
    return doc


def _text(params: dict, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise errors.lambda_.InvalidParameterValueException(f"{key} is required.")
    return value


def _plan(params: dict) -> Plan:
    """The plan asked for. Whoever asks (the CLI, or this API directly), the defaults
    are the same safe ones: no unchecked step unless `healthChecks` is false."""
    health_checks = params.get("healthChecks", True)
    if not isinstance(health_checks, bool):
        raise errors.lambda_.InvalidParameterValueException("healthChecks must be true or false.")
    try:
        if params.get("deploymentConfig"):
            if params.get("type"):
                raise PlanError("Give either a deployment configuration or a type, not both.")
            fixed = [key for key in ("steps", "interval", "percent")
                     if params.get(key) is not None]
            if fixed:
                raise PlanError(f"A deployment configuration fixes its steps and interval: "
                                f"give either it or {', '.join(fixed)}, not both.")
            return codedeploy_plan(str(params["deploymentConfig"]), health_checks)
        return plan(str(params.get("type") or "linear"), _number(params, "steps", int),
                    _number(params, "interval", float), _number(params, "percent", float),
                    health_checks)
    except PlanError as error:
        raise errors.lambda_.InvalidParameterValueException(str(error)) from None


def _number(params: dict, key: str, kind):
    value = params.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise errors.lambda_.InvalidParameterValueException(f"{key} must be a number.") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise errors.lambda_.InvalidParameterValueException(f"{key} must be a finite number.")
    return number


def _event(doc: dict, at: float, message: str) -> None:
    doc["events"] = (doc["events"] + [{"at": at, "message": message}])[-MAX_EVENTS:]
    doc["updatedAt"] = at


# ----------------------------------------------------------------- the workflow

class FunctionDeployments:
    def __init__(self, store: Store, clock: Clock, runtime):
        self.store, self.clock, self.runtime = store, clock, runtime
        self.hooks_running: set[str] = set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                self.tick()
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:  # one bad pass must not end the workflow
                log.exception("function deployment pass failed")

    def tick(self) -> None:
        with self.store.read() as conn:
            rows = deployment_store.active(conn)
        for row in rows:
            if row.deployment_id in self.hooks_running:
                continue
            try:
                self.advance(row.region, row.account, row.deployment_id)
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:
                log.exception("deployment %s failed to advance", row.deployment_id)

    def _context(self, region: str, account: str) -> RequestContext:
        return RequestContext(region, account, "", self.store, self.clock, self.runtime,
                              self.runtime.wakeups)

    def advance(self, region: str, account: str, deployment_id: str) -> None:
        """One look at a deployment; reads and writes without awaiting in between, so
        nothing else on the loop (a stop request) interleaves."""
        ctx = self._context(region, account)
        now = self.clock.now().timestamp()
        with self.store.write() as conn:
            # The record, then its alias: a stop, a hook's outcome or an UpdateAlias on
            # another server waits for this step instead of being written over.
            row = deployment_store.get_active(conn, region, account, deployment_id, lock=True)
            if row is None:
                return
            doc = dict(row.doc)
            try:
                function = find_function(ctx, conn, doc["functionName"])
                alias = find_alias(ctx, conn, function, doc["aliasName"], lock=True)
            except ServiceError as error:
                doc["status"], doc["reason"] = "Failed", error.message
                _event(doc, now, f"Failed: {error.message}; nothing left to roll back")
                deployment_store.save(conn, row.id, doc)
                return
            weight = doc["weight"]
            if doc.get("stopRequested"):
                self._roll_back(conn, alias, doc, now, doc.get("stopReason")
                                or "Stopped on request")
            elif doc["stage"] == "PreTraffic":
                self._hook_or(ctx, doc, "preTrafficHook", now,
                              lambda: self._shift(conn, alias, doc, 0, now))
            elif doc["stage"] == "Shifting":
                self._check_step(conn, ctx, alias, doc, now)
            elif doc["stage"] == "PostTraffic":
                self._hook_or(ctx, doc, "postTrafficHook", now,
                              lambda: self._succeed(doc, now))
            deployment_store.save(conn, row.id, doc)
        if doc["weight"] != weight:  # the alias moved: invocations must see it now
            notify.function_changed(ctx, doc["functionName"])

    def _check_step(self, conn, ctx, alias, doc: dict, now: float) -> None:
        step, started = doc["step"], doc["stepStartedAt"]
        bake = doc["bakes"][step]
        # Judged unless it ends the shift or the user turned checks off. A record
        # from before health checks could be turned off has no such key: checked.
        chosen = Plan(doc["type"], tuple(doc["weights"]), tuple(doc["bakes"]),
                      doc.get("healthChecks", True))
        if chosen.judged(step):
            over = now >= started + bake + SETTLE
            health = self._health(conn, ctx, doc, int(started), int(now) + 1)
            reason = verdict(health, doc["toVersion"], over, doc["allowNoInvocations"])
            if reason is not None:
                self._roll_back(conn, alias, doc, now, f"Health check failed at "
                                f"{percentage(doc['weight'])}: {reason}")
                return
            if not over:
                return
            _event(doc, now, f"Step {step + 1} healthy: {int(health.invocations)} "
                             f"invocations of version {doc['toVersion']}, no errors")
        elif not chosen.health_checks:
            if now < started + bake:
                return
            if step + 1 < len(chosen.weights) or chosen.kind == "all-at-once":
                _event(doc, now, f"Step {step + 1} not checked: health checks are off")
        if step + 1 < len(doc["weights"]):
            self._shift(conn, alias, doc, step + 1, now)
        else:
            doc["stage"] = "PostTraffic"

    def _health(self, conn, ctx, doc: dict, start: int, end: int) -> StepHealth:
        name, version = doc["functionName"], doc["toVersion"]
        through_alias = [{"Name": "FunctionName", "Value": name},
                         {"Name": "Resource", "Value": f"{name}:{doc['aliasName']}"},
                         {"Name": "ExecutedVersion", "Value": version}]
        direct = [{"Name": "FunctionName", "Value": name},
                  {"Name": "Resource", "Value": f"{name}:{version}"}]

        def total(metric: str) -> float:
            found = 0.0
            for dims in (through_alias, direct):
                agg = series.window(conn, ctx.region, ctx.account_id,
                                    {"Namespace": "AWS/Lambda", "MetricName": metric,
                                     "Dimensions": dims}, start, end)
                found += agg.sum if agg is not None else 0.0
            return found

        firing = tuple(name for name in doc["alarms"]
                       if (row := alarm_store.get(conn, ctx.region, ctx.account_id, name))
                       is not None and row.state_value == "ALARM")
        return StepHealth(total("Invocations"), total("Errors"), firing)

    def _shift(self, conn, alias, doc: dict, step: int, now: float) -> None:
        weight = doc["weights"][step]
        _write_alias(conn, alias, doc["fromVersion"], doc["toVersion"], weight)
        doc.update(stage="Shifting", step=step, weight=weight, stepStartedAt=now)
        _event(doc, now, f"Step {step + 1} of {len(doc['weights'])}: version "
                         f"{doc['toVersion']} gets {percentage(weight)} of alias "
                         f"{doc['aliasName']}")

    def _succeed(self, doc: dict, now: float) -> None:
        doc.update(status="Succeeded", stage="Done", completedAt=now)
        _event(doc, now, f"Succeeded: alias {doc['aliasName']} points at version "
                         f"{doc['toVersion']}")

    def _roll_back(self, conn, alias, doc: dict, now: float, reason: str) -> None:
        _write_alias(conn, alias, doc["fromVersion"], doc["toVersion"], 0.0)
        doc.update(status="RolledBack", stage="Done", weight=0.0, reason=reason,
                   completedAt=now)
        _event(doc, now, f"Rolled back: {reason}; alias {doc['aliasName']} points at "
                         f"version {doc['fromVersion']} again")

    # ---------------------------------------------------------------- hooks

    def _hook_or(self, ctx: RequestContext, doc: dict, hook: str, now: float, then) -> None:
        """Run the stage's hook (once its outcome is recorded, go on), or go on at once."""
        name = doc["hooks"].get(hook)
        outcome = doc.get(f"{hook}Status")
        if name is None or outcome == "Succeeded":
            then()
        elif outcome is None:
            doc[f"{hook}Status"] = "InProgress"
            _event(doc, now, f"Running {hook} function {name}")
            self.hooks_running.add(doc["deploymentId"])
            asyncio.ensure_future(self._run_hook(ctx, doc["deploymentId"], hook, name))
        elif outcome == "InProgress":
            # A restart lost the hook's run: run it again (hooks run at least once).
            doc[f"{hook}Status"] = None
        else:
            doc["stopRequested"] = True
            doc["stopReason"] = f"{hook} function {name} failed: {outcome}"

    async def _run_hook(self, ctx: RequestContext, deployment_id: str, hook: str,
                        name: str) -> None:
        payload = orjson.dumps({"DeploymentId": deployment_id,
                                "LifecycleEventHookExecutionId": f"{deployment_id}-{hook}"})
        try:
            route = self.runtime.routes.route(ctx, name, None)
            self.runtime.admit(route)
            result = await self.runtime.invoke(route, payload)
            status = _hook_status(result.outcome)
        except Throttled:
            status = "throttled"
        except ServiceError as error:
            status = error.message
        except Exception as error:  # the hook's failure, not the workflow's
            log.exception("hook %s of %s", name, deployment_id)
            status = str(error)
        finally:
            self.hooks_running.discard(deployment_id)
        self._record_hook(ctx.region, ctx.account_id, deployment_id, hook, status)

    def _record_hook(self, region: str, account: str, deployment_id: str, hook: str,
                     status: str) -> None:
        now = self.clock.now().timestamp()
        with self.store.write() as conn:
            row = deployment_store.get_active(conn, region, account, deployment_id, lock=True)
            if row is None:
                return
            doc = dict(row.doc)
            doc[f"{hook}Status"] = status
            outcome = "succeeded" if status == "Succeeded" else f"failed: {status}"
            _event(doc, now, f"{hook} {outcome}")
            deployment_store.save(conn, row.id, doc)

    # ----------------------------------------------------------------- stop

    def stop(self, ctx: RequestContext, deployment_id: str) -> dict:
        with self.store.write() as conn:
            row = deployment_store.get(conn, ctx.region, ctx.account_id, deployment_id,
                                       lock=True)
            if row is None:
                raise errors.lambda_.ResourceNotFoundException(
                    f"Deployment {deployment_id} does not exist.")
            if row.status != deployment_store.ACTIVE:
                raise errors.lambda_.ResourceConflictException(
                    f"Deployment {deployment_id} is {row.status}: only a "
                    "deployment in progress can be stopped.")
            doc = dict(row.doc, stopRequested=True)
            deployment_store.save(conn, row.id, doc)
        self.advance(ctx.region, ctx.account_id, deployment_id)
        return describe(ctx, deployment_id)


def _hook_status(outcome) -> str:
    if outcome.function_error:
        return "the function failed: " + outcome.payload[:200].decode(errors="replace")
    try:
        answer = orjson.loads(outcome.payload)
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict) and answer.get("status", "Succeeded") != "Succeeded":
        return f"the function answered status {answer.get('status')!r}"
    return "Succeeded"


def _write_alias(conn, alias, from_version: str, to_version: str, weight: float) -> None:
    doc = dict(alias.doc)
    doc.pop("RoutingConfig", None)
    if weight >= 1.0:
        doc["FunctionVersion"] = to_version
    else:
        doc["FunctionVersion"] = from_version
        if weight > 0:
            doc["RoutingConfig"] = {"AdditionalVersionWeights": {to_version: weight}}
    if doc == alias.doc:
        return  # a rollback before any shift: the alias, RevisionId included, stays
    function_store.update_alias(conn, alias.id, dict(doc, RevisionId=new_revision_id()))


def describe(ctx: RequestContext, deployment_id: str) -> dict:
    with ctx.store.read() as conn:
        row = deployment_store.get(conn, ctx.region, ctx.account_id, deployment_id)
    if row is None:
        raise errors.lambda_.ResourceNotFoundException(
            f"Deployment {deployment_id} does not exist.")
    return row.doc


def listing(ctx: RequestContext, function_name: str | None) -> list[dict]:
    with ctx.store.read() as conn:
        rows = deployment_store.search(conn, ctx.region, ctx.account_id, function_name)
    return [row.doc for row in rows]
