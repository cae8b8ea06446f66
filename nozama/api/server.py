"""The HTTP endpoint's application: AWS requests go to the gateway.

Nozama's own routes live under /_nozama/ where no AWS API puts anything: the
health check, the agents' channel, and the root certificate of Nozama's
certificate authority (ca.pem: public, as a CA's root is, and read-only). GET
/metrics is the Prometheus exposition. Every request first passes api/guard.py
(Host, cross-site), and a state-changing call of the /_nozama/ routes must carry
X-Nozama-Client: no web page can drive it.
AWS handlers are short, indexed database calls, so they run on the event loop
thread itself: a thread hop per request would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import uuid
import functools
import json
import logging
from typing import Awaitable

from nozama.kernel import errors
from nozama import __version__
from nozama.api import catalog
from nozama.api import function_code, function_deployments
from nozama.api import guard, own_routes
from nozama.kernel.errors import ServiceError
from nozama.api.gateway import Gateway
from nozama.api.leadership import Leadership
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.api.shapes import from_document
from nozama.api.validate import summarize, validation_errors
from nozama.controllers import agents
from nozama.controllers import alarms as alarm_evaluator
from nozama.controllers.data_plane_watch import DataPlaneWatch
from nozama.controllers import ecr_lifecycle
from nozama.controllers import service_metrics
from nozama.controllers.function_deployments import FunctionDeployments
from nozama.controllers import services as service_controller
from nozama.metrics import prometheus
from nozama.metrics import retention as metric_retention
from nozama.aws.ecs.container_instances import register_container_instance
from nozama.model.certificate_authority import Root
from nozama.store import access_keys as key_store
from nozama.store import certificates as cert_store
from nozama.store.db import StoreUnavailable
from nozama.store.notify import PostgresWakeups
from nozama.kernel.unix_wakeups import UnixWakeups
from nozama.kernel.wake_bridge import Bridge

log = logging.getLogger(__name__)

AGENT_PREFIX = "/_nozama/agent/v1/"
CA_PATH = "/_nozama/ca.pem"


class App:
    def __init__(self, gateway: Gateway, hosts: guard.AllowedHosts | None = None,
                 server_id: str | None = None):
        self.gateway = gateway
        self.server_id = server_id   # None: the leadership runner makes one
        self.hosts = hosts or guard.AllowedHosts("127.0.0.1")
        self.started = gateway.clock.monotonic()
        self.background: list[asyncio.Task] = []
        # The controllers run on the server holding the lease (api/leadership.py).
        self.controllers: list[asyncio.Task] = []
        self.leadership: Leadership | None = None
        self.wake_transport: PostgresWakeups | UnixWakeups | None = None
        # The run dir of `nozama server --workers N` on SQLite: the workers' wake-up
        # sockets (kernel/unix_wakeups.py). None: one process, wake-ups stay local.
        self.wake_dir = None
        self.address = ""   # this server's API URL, for its peers (set once it listens)
        # The function deployment workflow, where the process runs functions.
        self.deployments = FunctionDeployments(gateway.store, gateway.clock, gateway.functions) \
            if gateway.functions is not None else None

    def handle(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        """Answer a request: at once, or as a coroutine for the agents' long poll."""
        try:
            return self.route(request)
        except StoreUnavailable:
            # Own routes (the metrics, the CA's root, function code) while the database
            # is unreachable; AWS requests answer it in their service's family.
            return _error(_unavailable())

    def route(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        own = request.path.startswith("/_nozama/") or request.path == "/metrics"
        refused = guard.refusal(request, self.hosts)
        if refused is None and own:
            refused = guard.missing_client_header(request)
        if refused is not None:
            if own:
                return _json(refused.status, {"__type": refused.code,
                                              "message": refused.message})
            return self.gateway.refuse(request, refused)
        if request.path.startswith(AGENT_PREFIX):
            return self.agent_channel(request)
        if request.path.startswith(function_deployments.PREFIX) and self.deployments:
            refused = self.deployments_refusal(request)
            if refused is not None:
                return refused
            return function_deployments.handle(self.gateway, self.deployments, request)
        if request.path.startswith(function_code.PREFIX):
            return function_code.handle(self.gateway.store, self.gateway.clock, request)
        if request.path.startswith("/_nozama/"):
            return self.internal(request)
        if request.path == "/metrics" and request.method == "GET":
            if self.gateway.verifies_signatures:
                try:
                    own_routes.metrics_reader(self.gateway, request)
                except own_routes.Refused as refusal:
                    return _error(refusal.error)
            return HttpResponse(200, prometheus.exposition(self.gateway.store,
                                                         self.gateway.clock),
                                {"content-type": prometheus.CONTENT_TYPE})
        return self.gateway.handle(request)

    def stop_background(self) -> None:
        if self.leadership is not None:
            self.leadership.stop()
        for task in self.background:
            task.cancel()
        if self.wake_transport is not None:
            self.wake_transport.bridge.flush()   # the lease's release reaches the others
            self.wake_transport.stop()
        self.gateway.calls.shutdown()

    def start_background(self) -> None:
        """Per-server work on every server; the controllers on the leader only. A server
        leads at once when no other holds the lease, before it serves anything."""
        gateway = self.gateway
        if gateway.functions is not None:
            # Workers, log shipping and per-second meters are this server's own.
            self.background.append(asyncio.ensure_future(gateway.functions.run(events=False)))
        self.server_id = server_id = self.server_id or uuid.uuid4().hex[:16]
        if gateway.store.access_keys is not None:
            # A key changed on any server is forgotten here (store/access_keys.py).
            gateway.wakeups.listen(key_store.TOPIC, gateway.store.access_keys.on_wake)
        if gateway.store.kind == "postgresql":
            # Several servers may share the store: each hears the others' wake-ups.
            self.wake_transport = PostgresWakeups(
                gateway.store.engine.url.render_as_string(hide_password=False),
                Bridge(server_id)).start()
            self.wake_transport.bridge.attach(gateway.wakeups, asyncio.get_running_loop())
        elif self.wake_dir is not None:
            # The sibling workers of one SQLite store, on this host.
            self.wake_transport = UnixWakeups(self.wake_dir, Bridge(server_id)).start()
            self.wake_transport.bridge.attach(gateway.wakeups, asyncio.get_running_loop())
        self.leadership = Leadership(gateway.store, gateway.clock, self.address,
                                     self.start_controllers, self.stop_controllers,
                                     server_id=server_id, version=__version__,
                                     wakeups=gateway.wakeups)
        self.leadership.tick()
        self.background.append(asyncio.ensure_future(self.leadership.run()))

    def start_controllers(self, store) -> None:
        """The leader's work, each loop writing through `store`, the FencedStore of the
        lease just gained."""
        gateway = self.gateway
        started = self.controllers
        started.append(asyncio.ensure_future(agents.watch_heartbeats(store, gateway.clock)))
        started.append(asyncio.ensure_future(service_controller.run(
            functools.partial(gateway.context, store=store))))
        started.append(asyncio.ensure_future(metric_retention.run(store, gateway.clock)))
        started.append(asyncio.ensure_future(
            alarm_evaluator.run(store, gateway.clock, gateway.wakeups)))
        started.append(asyncio.ensure_future(
            ecr_lifecycle.run(store, gateway.clock, gateway.wakeups)))
        # Load balancers that no `nozama lb` serves never answer: say so in the log.
        started.append(asyncio.ensure_future(DataPlaneWatch(store, gateway.clock).run()))
        if gateway.functions is not None:
            # Moving aliases, and starting queued Event invocations (once, cluster-wide).
            started.append(asyncio.ensure_future(
                FunctionDeployments(store, gateway.clock, gateway.functions).run()))
            started.append(asyncio.ensure_future(gateway.functions.event_queue(store).run()))

    def stop_controllers(self) -> None:
        for task in self.controllers:
            task.cancel()
        self.controllers = []

    def internal(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/_nozama/health":
            # No query: the store's breaker knows whether the database answers, and a
            # health check must answer at once while it does not. Leadership (leader,
            # epoch, leaderId, serverId, live peers) is what api/leadership.py last saw.
            available = not self.gateway.store.breaker.is_open
            leadership = self.leadership.status() if self.leadership is not None else {}
            return _json(200 if available else 503, {
                "status": "ok" if available else "store unavailable",
                "version": __version__, "store": self.gateway.store.kind,
                "storeAvailable": available,
                "uptimeSeconds": round(self.gateway.clock.monotonic() - self.started, 3),
                **leadership})
        if request.path == CA_PATH and request.method in ("GET", "HEAD"):
            return self.root_certificate()
        return _json(404, {"message": "Not found"})

    def root_certificate(self) -> HttpResponse:
        """The root that signs RequestCertificate's certificates, for clients to trust."""
        with self.gateway.store.read() as conn:
            data = cert_store.authority_if_any(conn)
        if data is None:
            return _json(404, {"__type": "ResourceNotFoundException", "message": (
                "Nozama's certificate authority has no root yet: the first ACM "
                "RequestCertificate makes it.")})
        return HttpResponse(200, Root.from_bytes(data).certificate.encode(),
                            {"content-type": "application/x-pem-file"})

    def deployments_refusal(self, request: HttpRequest) -> HttpResponse | None:
        """Why a function deployment request must not run (auth on: its signature, or
        the key's policies), or None."""
        if not self.gateway.verifies_signatures:
            return None
        try:
            verified = own_routes.signed_caller(self.gateway, request, "lambda")
            if request.query.get("region", verified.region) != verified.region:
                raise own_routes.Refused(errors.lambda_.InvalidParameterValueException(
                    "The region in the query is not the one the request is signed for."))
            function = request.query.get("functionName") or ""
            if request.method == "POST" and request.path.rstrip("/") == \
                    function_deployments.PREFIX:
                body = json.loads(request.body or b"{}")
                function = str(body.get("functionName", "")) if isinstance(body, dict) else ""
            operation = "GetAlias" if request.method in ("GET", "HEAD") else "UpdateAlias"
            own_routes.authorized(self.gateway, verified, "lambda", operation,
                                  {"FunctionName": function} if function else {})
        except own_routes.Refused as refusal:
            return _error(refusal.error)
        except ValueError:
            return None   # a body that is not JSON: the route answers that itself
        return None

    async def agent_channel(self, request: HttpRequest) -> HttpResponse:
        """register / poll / state / usage: JSON in, JSON out, AWS-style errors. With
        auth on, each is signed by the agent's key and authorized as the ECS agent's
        own action (api/own_routes.py)."""
        operation = request.path[len(AGENT_PREFIX):]
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict) or request.method != "POST":
                raise errors.InvalidRequest("POST a JSON object.")
            signed_region = self.agent_caller(request, operation, body)
            if operation == "register":
                region = str(body.pop("region", signed_region or "us-east-1"))
                if signed_region is not None and region != signed_region:
                    raise errors.ecs.InvalidParameterException(
                        f"The agent registers in {region} but signed for {signed_region}.")
                ctx = self.gateway.context(region)
                agents.check_known(ctx, body.get("containerInstanceArn"))
                result = register_container_instance(ctx, _validated("RegisterContainerInstance",
                                                                     body))
                agents.assignments(ctx, result["containerInstance"]["containerInstanceArn"])
            elif operation == "poll":
                arn = body.get("containerInstanceArn", "")
                ctx = agents.instance_context(self.gateway.context, arn)
                result = await agents.poll(ctx, arn, body.get("digest"))
            elif operation == "state":
                arn = body.get("containerInstanceArn", "")
                ctx = agents.instance_context(self.gateway.context, arn)
                result = agents.report(ctx, arn, body.get("tasks") or [])
            elif operation == "usage":
                arn = body.get("containerInstanceArn", "")
                ctx = agents.instance_context(self.gateway.context, arn)
                result = service_metrics.record_usage(ctx, arn, body.get("tasks") or [])
            else:
                return _json(404, {"message": f"Unknown agent operation {operation}"})
        except own_routes.Refused as refusal:
            return _error(refusal.error)
        except ServiceError as error:
            return _error(error)
        except StoreUnavailable:
            return _error(_unavailable())   # agents retry 5xx (agent/agent.py)
        except ValueError:
            return _json(400, {"__type": "SerializationException",
                               "message": "The body is not valid JSON."})
        except Exception:
            log.exception("agent channel %s failed", operation)
            return _json(500, {"__type": "ServerException", "message": "Internal error"})
        return _json(200, result)

    def agent_caller(self, request: HttpRequest, operation: str, body: dict) -> str | None:
        """With auth on, the region the agent signed for, once its key may run the
        operation (Refused if not); None with auth off."""
        if not self.gateway.verifies_signatures:
            return None
        action = own_routes.AGENT_OPERATIONS.get(operation)
        if action is None:
            raise errors.InvalidRequest(f"Unknown agent operation {operation}")
        verified = own_routes.signed_caller(self.gateway, request, "ecs")
        params = {"cluster": str(body.get("cluster") or "default")} \
            if operation == "register" else {}
        own_routes.authorized(self.gateway, verified, "ecs", action, params)
        return verified.region


def _unavailable() -> ServiceError:
    return errors.ServiceUnavailableException("Service is temporarily unavailable; retry.")


def _error(error: ServiceError) -> HttpResponse:
    return _json(error.status, {"__type": error.code, "message": error.message})


def _validated(operation: str, body: dict) -> dict:
    """Check a channel request against the ECS operation's input shape, as the API does."""
    shape = catalog.service("ecs").operation(operation).input_shape
    params = from_document(shape, body)
    found = validation_errors(shape, params)
    if found:
        raise errors.ecs.InvalidParameterException(summarize(found))
    return params


def _json(status: int, document: dict) -> HttpResponse:
    return HttpResponse(status, json.dumps(document, default=_default).encode(),
                        {"content-type": "application/json"})


def _default(value):
    # Rows carry datetimes (registeredAt): the channel sends epoch seconds, like the API.
    return value.timestamp()

