"""The request pipeline: route, parse, validate, handle, serialize.

Whatever goes wrong, the client gets its service's own error format: a
ServiceError as raised, anything unexpected as the service's internal error
(logged here with its traceback, which never goes on the wire).

A request without a SigV4 signature is refused before anything runs (AWS's
MissingAuthenticationToken), and a signed call to a service Nozama does not
serve is answered in that service's own protocol, so its SDK reads the reason.
With a `credentials_lookup`, the signature itself is verified first (api/sigv4.py)
and a request it refuses runs nothing either.
"""

from __future__ import annotations

import gzip
import inspect
import logging
import re
import random
import zlib

from nozama.kernel import errors
from nozama.api import sigv4
from nozama.api.auth import (credential_scope, presigned_may_run, signature_error,
                             wrong_service)
from nozama.api.catalog import Service
from nozama.kernel.context import RequestContext
from nozama.model.iam_authorize import authorize
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.api import catalog
from nozama.api.routing import fallback, resolve
from nozama.api.validate import summarize, validation_errors
from nozama.kernel.clock import Clock
from nozama.kernel.http_client import BackgroundCalls
from nozama.kernel.wakeups import Wakeups
from nozama.aws import ServiceHandlers, registry
from nozama.store import Store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
_REGION = re.compile(r"[a-z]{2,10}(-[a-z0-9]+){1,3}")


class Gateway:
    def __init__(self, store: Store, clock: Clock, account_id: str = "000000000000", *,
                 verify_signatures: bool = False,
                 credentials_lookup: sigv4.Lookup | None = None):
        if verify_signatures and credentials_lookup is None:
            # Verifying with no keys would refuse everything; not verifying would be a
            # silent downgrade. Neither is what was asked.
            raise ValueError("verify_signatures needs a credentials_lookup")
        self.store = store
        self.clock = clock
        self.account_id = account_id
        # The key store's lookup (access key id, session token) -> sigv4.Credentials, or
        # None while signatures are not verified (their scopes are still read).
        self.credentials_lookup = credentials_lookup if verify_signatures else None
        self.handlers = registry()
        self.functions = None  # the FunctionRuntime, once the server starts one
        self.wakeups = Wakeups()  # the server's one set of wake-ups (kernel/wakeups.py)
        self.calls = BackgroundCalls()  # its HTTP calls out (kernel/http_client.py)
        self._random = random.Random()  # request ids

    @property
    def verifies_signatures(self) -> bool:
        return self.credentials_lookup is not None

    def handle(self, request: HttpRequest) -> HttpResponse:
        verified = None
        if self.verifies_signatures:
            try:
                verified = sigv4.verify(request, self.credentials_lookup, self.clock.now())
            except sigv4.SignatureError as failure:
                return self.refuse_signature(request, failure)
            except Exception as error:  # the key store failed: its internal error, logged
                return self._failed(error, *fallback(request), None, self.new_request_id())
            scope = verified   # it has a CredentialScope's fields: no need to copy them
        else:
            scope = credential_scope(request)
        if scope is None:
            # A web page can send a "simple" cross-site request with no signature; an SDK
            # never does. Nothing of an unsigned request runs.
            return self.refuse(request, errors.MissingAuthenticationToken(
                "Missing Authentication Token"))
        request_id = self.new_request_id()
        try:
            _decompress(request)
            service, protocol = resolve(request, scope)
        except errors.ServiceError as error:
            service, protocol = fallback(request)
            return protocol.serialize_error(service, None, error, request_id)
        if verified is not None and service.name in catalog.SERVED \
                and verified.service != service.signing_name:
            # Signed for another service (the target or path names this one): AWS refuses.
            failure = wrong_service(service.signing_name, verified.access_key)
            return protocol.serialize_error(service, None,
                                            signature_error(failure, protocol.name), request_id)
        if service.name not in catalog.SERVED:
            return protocol.serialize_error(service, None, _unserved(service, scope),
                                            request_id)
        operation = None
        try:
            name = protocol.operation_name(service, request)
            operation = service.operation(name) if name else None
            if operation is None:
                raise _unknown_operation(protocol.name, name)
            if verified is None and not presigned_may_run(request, operation.name):
                raise errors.AccessDenied(
                    f"A presigned URL may only read (Describe, List and Get operations), not "
                    f"run {operation.name}: sign the request with an Authorization header.")
            handler = self._handler(service, operation.name)
            params = protocol.parse(service, operation, request)
            self._validate(service, operation, params)
            context = self.context(_region(scope), request_id)
            context.endpoint = f"http://{request.headers.get('host', '127.0.0.1')}"
            # Who signed: STS GetCallerIdentity answers for the key, and, once signatures
            # are verified, the principal its key store returned.
            context.access_key_id = scope.access_key
            if verified is not None:
                context.caller = verified.principal
                # The key's policies must allow the call (AccessDenied names why not).
                authorize(verified.principal, service.name, operation.name, params,
                          context.region, self.account_id)
            result = handler(context, params) or {}
            if inspect.isawaitable(result):
                return self._finish(result, service, protocol, operation, request_id)
            return protocol.serialize(service, operation, result, request_id)
        except Exception as error:
            return self._failed(error, service, protocol, operation, request_id)

    def refuse(self, request: HttpRequest, error: errors.ServiceError) -> HttpResponse:
        """Answer `error` in the protocol of the service the request was meant for, as
        far as the request says which, and run nothing of it."""
        try:
            service, protocol = resolve(request, credential_scope(request))
        except errors.ServiceError:
            service, protocol = fallback(request)
        return protocol.serialize_error(service, None, error, self.new_request_id())

    def refuse_signature(self, request: HttpRequest, failure: sigv4.SignatureError) \
            -> HttpResponse:
        """Answer a refused signature with the error of the service's protocol family."""
        try:
            service, protocol = resolve(request, credential_scope(request))
        except errors.ServiceError:
            service, protocol = fallback(request)
        return protocol.serialize_error(service, None, signature_error(failure, protocol.name),
                                        self.new_request_id())

    async def _finish(self, pending, service, protocol, operation, request_id) -> HttpResponse:
        """Answer a handler that waits (Invoke waits for its function)."""
        try:
            return protocol.serialize(service, operation, await pending or {}, request_id)
        except Exception as error:
            return self._failed(error, service, protocol, operation, request_id)

    @staticmethod
    def _failed(error: Exception, service, protocol, operation, request_id) -> HttpResponse:
        if isinstance(error, errors.ServiceError):
            return protocol.serialize_error(service, operation, error, request_id)
        if isinstance(error, StoreUnavailable):
            # The store logged the outage once; a 503 is what SDKs retry.
            return protocol.serialize_error(service, operation,
                                            unavailable(service, protocol.name), request_id)
        log.error("internal error in %s %s (request %s)", service.name,
                  operation.name if operation else "?", request_id, exc_info=error)
        failure = _internal_error(service)(
            f"We encountered an internal error. Please try again. ({request_id})")
        return protocol.serialize_error(service, operation, failure, request_id)

    def context(self, region: str, request_id: str | None = None, store=None
                ) -> RequestContext:
        """A request's context; `store` is the leader's FencedStore for controllers."""
        return RequestContext(region, self.account_id, request_id or self.new_request_id(),
                              store or self.store, self.clock, self.functions, self.wakeups,
                              self.calls)

    def _handler(self, service: Service, operation: str):
        handlers: ServiceHandlers | None = self.handlers.get(service.name)
        handler = handlers.operations.get(operation) if handlers else None
        if handler is None:
            raise errors.NotImplementedOperation(
                f"Nozama does not implement {service.name}:{operation} yet. "
                "See docs/compatibility.md.")
        return handler

    def _validate(self, service: Service, operation, params: dict) -> None:
        shape = operation.input_shape
        found = validation_errors(shape, params) if shape is not None else []
        if found:
            handlers = self.handlers[service.name]
            raise handlers.validation_error(handlers.validation_message(summarize(found)))

    def new_request_id(self) -> str:
        """A random version-4 UUID, as AWS request ids are, without uuid4's syscall per call
        (ids need to be unique, not unpredictable)."""
        digits = "%032x" % self._random.getrandbits(128)
        return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-" \
               f"{'89ab'[int(digits[16], 16) & 3]}{digits[17:20]}-{digits[20:]}"


def _region(scope) -> str:
    if scope is None:
        return DEFAULT_REGION
    if len(scope.region) > 32 or not _REGION.fullmatch(scope.region):
        raise errors.InvalidRegion(f"'{scope.region}' is not a valid region name: use "
                                   "lowercase letters, digits and hyphens, at most 32.")
    return scope.region


def _decompress(request: HttpRequest) -> None:
    # botocore gzips large PutMetricData bodies (the requestcompression trait).
    if request.headers.get("content-encoding", "").lower() != "gzip" or not request.body:
        return
    try:
        request.body = gzip.decompress(request.body)
    except (OSError, EOFError, zlib.error):
        raise errors.SerializationException("The request body is not valid gzip.") from None
    del request.headers["content-encoding"]


def _unknown_operation(protocol: str, name: str | None) -> errors.ServiceError:
    if protocol in ("query", "ec2"):
        if not name:
            return errors.MissingAction("The request must contain the parameter Action.")
        return errors.InvalidAction(f"The action {name} is not valid for this web service.")
    return errors.UnknownOperationException(f"Unknown operation {name or ''}".strip())


def _internal_error(service: Service) -> type[errors.ServiceError]:
    # The internal error each service models, so SDKs map it to their own type.
    return {"ecs": errors.ecs.ServerException, "logs": errors.logs.ServiceUnavailableException,
            "lambda": errors.lambda_.ServiceException,
            "ec2": errors.ec2.InternalError,
            "ecr": errors.ecr.ServerException}.get(service.name, errors.InternalFailure)


def unavailable(service: Service, protocol: str) -> errors.ServiceError:
    """The 503 a service answers while its database is unreachable, in its error family:
    query services (and CloudWatch, query-compatible) ServiceUnavailable, EC2
    Unavailable, the JSON services ServiceUnavailableException (Logs models that one)."""
    if protocol == "ec2":
        error = errors.ec2.Unavailable
    elif protocol == "query" or service.query_compatible:
        error = errors.ServiceUnavailable
    else:
        error = errors.ServiceUnavailableException
    return error("Service is temporarily unavailable; retry.")


def _unserved(service: Service, scope) -> errors.ServiceError:
    title = service.model.metadata.get("serviceFullName", service.name)
    return errors.UnknownServiceException(
        f"Nozama does not serve {title} ('{scope.service}'): it serves ECS, ECR, ELBv2, "
        "Lambda, CloudWatch, CloudWatch Logs, ACM and EC2's networking. "
        "See docs/compatibility.md.")
