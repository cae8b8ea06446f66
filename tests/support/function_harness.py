"""An in-process control plane for unit tests of the function deployment workflow:
the Lambda and CloudWatch operation handlers called directly on a real SQLite store,
a FakeClock, the real workflow (controllers/function_deployments.py), and a stand-in
for the function runtime's boundary (routes, admission, invoke, wake-ups) whose hook
functions answer what the test says.

Traffic through the alias is counted by the real FunctionMeters and written to the
metrics store a second at a time, as the runtime does, so a step's health check reads
what it reads in production. Every tick runs one pass of the workflow on an event loop
(hooks are tasks on it), sends the second's traffic and moves the clock.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

from support.packages import zip_package
from support.roles import LAMBDA, LAMBDA_ROLE, LAMBDA_ROLE_NAME, trust_policy
from nozama.aws import registry
from nozama.controllers import function_deployments as deployments
from nozama.controllers.function_deployments import FunctionDeployments
from nozama.functions.invoker import Result
from nozama.functions.limits import Throttled
from nozama.functions.lookup import find_function
from nozama.functions.meters import FunctionMeters
from nozama.functions.workers import Outcome
from nozama.kernel.clock import FakeClock
from nozama.kernel.context import RequestContext
from nozama.kernel.wakeups import Wakeups
from nozama.metrics import per_second
from nozama.store import Store
from nozama.store.db import sqlite_url

REGION, ACCOUNT = "us-east-1", "000000000000"
ROLE = LAMBDA_ROLE
HOOK_TIMEOUT = 30  # the hook functions' Timeout, in seconds


def migrated(path: Path) -> Path:
    """A migrated, empty database in the directory `path`, to copy for each test:
    migrating takes longer than most of the tests."""
    Store.open(sqlite_url(path)).close()
    return path / "nozama.db"


def package(release: str) -> bytes:
    return zip_package(app=f"def handler(event, context):\n    return {release!r}\n")


@dataclass
class HookRoute:
    function_name: str
    timeout: float


class FakeRuntime:
    """What the workflow uses of the function runtime, for hook functions only.

    `answers[name]` is how the hook function `name` answers: "Succeeded" or "Failed"
    (its payload's status), "raise" (a function error), "throttled" (admission refuses
    it), or "hang" (it runs until `answer` is called, or until its Timeout passes on
    the clock, when it ends as the runtime ends a timed-out invocation)."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.wakeups = Wakeups()
        self.routes = self
        self.answers: dict[str, str] = {}
        self.invoked: list[tuple[str, dict]] = []   # (hook function, its event)
        self.pending: list[tuple[float, asyncio.Future]] = []
        self.in_flight = 0

    def route(self, ctx: RequestContext, name: str, qualifier: str | None) -> HookRoute:
        with ctx.store.read() as conn:
            function = find_function(ctx, conn, name)   # ResourceNotFound, as the runtime
        return HookRoute(name, function.doc["Timeout"])

    def admit(self, route: HookRoute) -> None:
        if self.answers.get(route.function_name) == "throttled":
            raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        self.in_flight += 1

    async def invoke(self, route: HookRoute, payload: bytes) -> Result:
        try:
            self.invoked.append((route.function_name, orjson.loads(payload)))
            answer = self.answers.get(route.function_name, "Succeeded")
            if answer == "hang":
                future = asyncio.get_running_loop().create_future()
                self.pending.append((self.clock.monotonic() + route.timeout, future))
                outcome = await future
            elif answer == "raise":
                outcome = Outcome(b'{"errorType": "RuntimeError", "errorMessage": "no"}', True,
                                  "Unhandled")
            else:
                outcome = Outcome(orjson.dumps({"status": answer}))
            return Result(outcome, "$LATEST")
        finally:
            self.in_flight -= 1

    def answer(self, status: str) -> None:
        """The hanging hooks answer `status` now."""
        for _, future in self.pending:
            future.set_result(Outcome(orjson.dumps({"status": status})))
        self.pending = []

    def expire(self) -> None:
        """Hanging hooks whose Timeout has passed end as timed out."""
        now = self.clock.monotonic()
        for deadline, future in [p for p in self.pending if p[0] <= now]:
            future.set_result(Outcome(orjson.dumps({
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: r Error: Task timed out after {HOOK_TIMEOUT:.2f} "
                                "seconds"}), True, "Sandbox.Timedout"))
        self.pending = [p for p in self.pending if p[0] > now]


class Lambda:
    """A control plane in-process: the workflow, the store, traffic through the alias."""

    def __init__(self, path, template: Path | None = None):
        """A store in the directory `path`: a copy of the migrated database `template`
        (see `migrated`), or a new one."""
        self.clock = FakeClock()
        self.url = sqlite_url(path)
        if template is not None:
            shutil.copyfile(template, Path(path) / template.name)
        self.loop = asyncio.new_event_loop()
        self.meters = FunctionMeters()
        self.load = 0                  # invocations of the alias per second
        self.broken: set[str] = set()  # versions whose invocations fail
        self.served: Counter = Counter()   # (executed version, failed?)
        self.open(migrate=template is None)
        # The functions' role: CreateFunction refuses one Lambda may not assume.
        self.handlers["iam"]["CreateRole"](self.ctx, {
            "RoleName": LAMBDA_ROLE_NAME, "AssumeRolePolicyDocument": trust_policy(LAMBDA)})

    def open(self, migrate: bool = True) -> None:
        """(Re)open the store and start a new workflow and runtime: a restarted control
        plane knows only what is stored."""
        self.store = Store.open(self.url, migrate=migrate)
        self.runtime = FakeRuntime(self.clock)
        self.ctx = RequestContext(REGION, ACCOUNT, "test", self.store, self.clock,
                                  self.runtime, self.runtime.wakeups)
        self.handlers = {name: registry()[name].operations
                         for name in ("lambda", "cloudwatch", "iam")}
        self.workflow = FunctionDeployments(self.store, self.clock, self.runtime)
        self.changes = 0  # function-changed wake-ups: what makes invocations see the alias
        self.runtime.wakeups.listen("function", lambda *subject: self._changed())

    def _changed(self) -> None:
        self.changes += 1

    def restart(self) -> None:
        for _, future in self.runtime.pending:  # the old process's hooks die with it
            future.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.store.close()
        self.open(migrate=False)  # (the schema is the newest already)

    def close(self) -> None:
        self.store.close()
        self.loop.close()

    def call(self, operation: str, /, **params) -> dict:
        return self.handlers["lambda"][operation](self.ctx, params)

    def cloudwatch(self, operation: str, /, **params) -> dict:
        return self.handlers["cloudwatch"][operation](self.ctx, params)

    # ------------------------------------------------------------ the world

    def release(self, name: str = "orders") -> None:
        """Function `name` with alias `live` on version 1, and version 2 published."""
        self.call("CreateFunction", FunctionName=name, Runtime="python3.11", Role=ROLE,
                  Handler="app.handler", Code={"ZipFile": package("v1")}, Publish=True)
        self.call("CreateAlias", FunctionName=name, Name="live", FunctionVersion="1")
        self.call("UpdateFunctionCode", FunctionName=name, ZipFile=package("v2"), Publish=True)

    def hook(self, name: str, answer: str = "Succeeded") -> str:
        self.call("CreateFunction", FunctionName=name, Runtime="python3.11", Role=ROLE,
                  Handler="app.handler", Code={"ZipFile": package(name)},
                  Timeout=HOOK_TIMEOUT)
        self.runtime.answers[name] = answer
        return name

    def deploy(self, **params) -> str:
        """Start a deployment of version 2 to alias live (as POST .../function-deployments)."""
        body = {"functionName": "orders", "aliasName": "live", "newVersion": "2", **params}
        return deployments.create(self.ctx, body)["deploymentId"]

    def invoke_version(self, version: str, count: int, failed: int = 0,
                       name: str = "orders") -> None:
        """Invocations that name the version directly (orders:2), in this second."""
        for n in range(count):
            self.meters.invoked(REGION, ACCOUNT, name, f"{name}:{version}", None, 5.0,
                                n < failed)

    def _traffic(self) -> None:
        """This second's invocations of the alias, split as its weights say."""
        if not self.load:
            return
        alias = self.alias()
        extra = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        counts = {alias["FunctionVersion"]: self.load}
        for version, weight in extra.items():
            counts[version] = round(self.load * weight)
            counts[alias["FunctionVersion"]] -= counts[version]
        for version, count in counts.items():
            failed = version in self.broken
            self.served[(version, failed)] += count
            for _ in range(count):
                self.meters.invoked(REGION, ACCOUNT, "orders", "orders:live", version, 5.0,
                                    failed)

    # ------------------------------------------------------------ time

    async def _pass(self) -> None:
        self.workflow.tick()
        for _ in range(3):  # let hook tasks started or answered in this pass run
            await asyncio.sleep(0)

    def tick(self, seconds: float = 1.0) -> None:
        """One pass of the workflow; this second's traffic; the clock moves; the metrics
        of the second that ended are written, as functions/meters.py's publisher does."""
        self.runtime.expire()
        self.loop.run_until_complete(self._pass())
        self._traffic()
        second = int(self.clock.time())
        self.clock.advance(seconds)
        per_second.write(self.store, self.meters.take(second, {}))

    def settle(self) -> None:
        """Let hook tasks answered outside a tick run (a pass without moving time)."""
        self.loop.run_until_complete(self._pass())

    def until(self, condition, ticks: int = 400, seconds: float = 1.0):
        for _ in range(ticks):
            found = condition()
            if found:
                return found
            self.tick(seconds)
        raise AssertionError(f"not reached in {ticks} ticks")

    # ------------------------------------------------------------ what a user sees

    def alias(self, name: str = "orders") -> dict:
        return self.call("GetAlias", FunctionName=name, Name="live")

    def routing(self) -> tuple[str, dict]:
        """The alias's version and AdditionalVersionWeights, as GetAlias shows them."""
        alias = self.alias()
        return (alias["FunctionVersion"],
                (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}))

    def describe(self, ident: str) -> dict:
        return deployments.describe(self.ctx, ident)

    def status(self, ident: str) -> str:
        return self.describe(ident)["status"]

    def events(self, ident: str) -> list[str]:
        return [e["message"] for e in self.describe(ident)["events"]]

    def done(self, ident: str) -> bool:
        return self.status(ident) != "InProgress"
