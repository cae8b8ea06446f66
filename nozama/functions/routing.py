"""From a FunctionName and Qualifier to the version that runs.

A route is what a name resolves to: $LATEST, a version, or an alias's version
and (optionally) one more with a weight. Routes are cached, since an invoke
must not pay for reading the configuration each time; every write to a
function (aws/lambda_/, the deployment workflow) calls
functions.notify.function_changed, which drops that function's routes, on this
server and (through the wake-up bridge, kernel/wake_bridge.py) on the others of the
store. A route also lives at most ROUTE_SECONDS, in case a wake-up from another server
was lost; one re-read that finds the same route keeps the cached one (and its place in
the sequence below).

Alias weights use a low-discrepancy sequence (golden-ratio steps from a random
start) rather than independent coin flips: the split over any run of n
invocations is within a few invocations of the weight, so a 5% canary gets 5%
of the traffic, not 5% plus noise, and still no fixed pattern clients could
line up with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection

from nozama.functions import code, images, runtimes
from nozama.functions.workers import VersionSpec
from nozama.kernel import errors
from nozama.kernel.clock import Clock
from nozama.functions.lookup import LATEST, find_version, function_arn
from nozama.kernel.context import RequestContext
from nozama.store import functions as function_store

_GOLDEN = (5 ** 0.5 - 1) / 2
ROUTE_SECONDS = 1.0


@dataclass
class Route:
    function_name: str
    reserved: int | None
    resource: str | None          # "name:qualifier" when a qualifier was named
    alias: str | None
    invoked_arn: str
    primary: VersionSpec
    extra: VersionSpec | None = None
    weight: float = 0.0
    _position: float = field(default_factory=random.random, compare=False)
    read_at: float = field(default=0.0, compare=False)  # monotonic: when it was resolved

    def pick(self) -> VersionSpec:
        if self.extra is None:
            return self.primary
        self._position = (self._position + _GOLDEN) % 1.0
        return self.extra if self._position < self.weight else self.primary


class Routes:
    def __init__(self, work_dir: Path, clock: Clock):
        self.work_dir = work_dir
        self.clock = clock
        self.cache: dict[tuple, Route] = {}

    def forget(self, region: str, account: str, name: str) -> None:
        for key in [k for k in self.cache if k[:3] == (region, account, name)]:
            del self.cache[key]

    def forget_all(self) -> None:
        self.cache.clear()

    def route(self, ctx: RequestContext, name: str, qualifier: str | None) -> Route:
        key = (ctx.region, ctx.account_id, name, qualifier)
        cached = self.cache.get(key)
        now = self.clock.monotonic()
        if cached is not None and now - cached.read_at < ROUTE_SECONDS:
            return cached
        try:
            with ctx.store.read() as conn:
                found = self._resolve(ctx, conn, name, qualifier)
        except Exception:
            self.cache.pop(key, None)
            raise
        if found == cached:
            found = cached   # unchanged: it keeps its place in the weights' sequence
        found.read_at = now
        self.cache[key] = found
        return found

    def _resolve(self, ctx: RequestContext, conn: Connection, name: str,
                 qualifier: str | None) -> Route:
        # Invoke names what it did not find by the ARN it was asked for, as Lambda does.
        missing = errors.lambda_.ResourceNotFoundException(
            f"Function not found: {function_arn(ctx, name, qualifier)}")
        function = function_store.get(conn, ctx.region, ctx.account_id, name)
        if function is None:
            raise missing
        reserved = function.reserved_concurrency
        if qualifier in (None, LATEST):
            return Route(name, reserved, f"{name}:{LATEST}" if qualifier else None, None,
                         function_arn(ctx, name, qualifier),
                         self._spec(ctx, conn, function, LATEST))
        if qualifier.isdigit():
            if function_store.get_version(conn, function.id, int(qualifier)) is None:
                raise missing
            return Route(name, reserved, f"{name}:{qualifier}", None,
                         function_arn(ctx, name, qualifier),
                         self._spec(ctx, conn, function, qualifier))
        found = function_store.get_alias(conn, function.id, qualifier)
        if found is None:
            raise missing
        alias = found.doc
        route = Route(name, reserved, f"{name}:{qualifier}", qualifier,
                      function_arn(ctx, name, qualifier),
                      self._spec(ctx, conn, function, alias["FunctionVersion"]))
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        for version, weight in weights.items():
            route.extra, route.weight = self._spec(ctx, conn, function, version), weight
        return route

    def _spec(self, ctx: RequestContext, conn: Connection, function, version: str) -> VersionSpec:
        if version == LATEST:
            doc, digest = function.doc, function.code_sha256
        else:
            row = find_version(ctx, conn, function, version)
            doc, digest = row.doc, row.code_sha256
        directory = self.work_dir / ctx.region / ctx.account_id / function.name / \
            f"{version.strip('$')}-{digest[:16]}"
        image = doc.get("PackageType") == "Image"
        package = None
        if image or not directory.is_dir():
            package = function_store.get_code(conn, digest)
            if package is None:
                raise errors.lambda_.ResourceNotFoundException(
                    f"The code of {function.name}:{version} is missing.")
        overrides = {}
        if image:
            config = (doc.get("ImageConfigResponse") or {}).get("ImageConfig") or {}
            overrides = dict(image=images.loaded(package).resolved_image_uri,
                             entry_point=tuple(config.get("EntryPoint") or ()),
                             command=tuple(config.get("Command") or ()),
                             working_directory=config.get("WorkingDirectory") or "")
            directory = Path("/var/task")  # where the image keeps its code, as Lambda's do
        elif package is not None:
            code.unpack(package, directory)
        runtime = doc.get("Runtime") or ""
        return VersionSpec(
            region=ctx.region, account=ctx.account_id, function_name=function.name,
            function_arn=function.arn, version=version, revision=doc["RevisionId"],
            runtime=runtime, interpreter=runtimes.interpreter(runtime) or "",
            handler=doc.get("Handler") or "", timeout=doc["Timeout"],
            memory_mb=doc["MemorySize"],
            environment=tuple(sorted(((doc.get("Environment") or {}).get("Variables")
                                      or {}).items())),
            code_dir=directory, role=doc.get("Role") or "",
            log_group=(doc.get("LoggingConfig") or {}).get("LogGroup",
                                                            f"/aws/lambda/{function.name}"),
            **overrides)

