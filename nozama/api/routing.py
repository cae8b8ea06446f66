"""Which service and protocol a request is for.

One endpoint serves every service, so the request itself must say: the RPC v2
path or X-Amz-Target name the service directly; query and REST requests are
told apart by the SigV4 credential scope, or failing that by their shape.

A credential scope naming a service Nozama does not serve resolves to that
service's botocore model (catalog.unserved), so the gateway refuses the call in
the protocol the client reads: query XML for SNS, EC2's own XML,
REST-XML for S3, JSON for ECR.
"""

from __future__ import annotations

from nozama.api import catalog
from nozama.api.auth import CredentialScope
from nozama.api.catalog import Service
from nozama.kernel.errors import UnknownServiceException as UnknownService
from nozama.kernel.http import HttpRequest
from nozama.api.protocols import PROTOCOLS, Protocol
from nozama.api.protocols.cbor import operation_path
from nozama.api.protocols.rest_json import find_route


def resolve(request: HttpRequest, scope: CredentialScope | None) -> tuple[Service, Protocol]:
    if scope is not None and scope.service not in catalog.by_signing_name():
        elsewhere = catalog.unserved(scope.service)
        if elsewhere is not None and elsewhere.protocol in PROTOCOLS:
            return elsewhere, PROTOCOLS[elsewhere.protocol]
    rpc = operation_path(request.path)
    if rpc is not None and request.headers.get("smithy-protocol") == "rpc-v2-cbor":
        return _named(catalog.by_target_prefix().get(rpc[0]), rpc[0]), \
            PROTOCOLS["smithy-rpc-v2-cbor"]
    target = request.headers.get("x-amz-target")
    if target:
        prefix = target.rpartition(".")[0]
        return _named(catalog.by_target_prefix().get(prefix), prefix), PROTOCOLS["json"]
    service = catalog.by_signing_name().get(scope.service) if scope else None
    if scope is not None and service is None:
        raise UnknownService(f"Nozama does not serve the service '{scope.service}'.")
    if "Action" in request.form:
        # Query-style services: ELBv2 speaks query, EC2 its own flavour of it.
        service = service or _by_api_version(request)
        return service, PROTOCOLS["ec2" if service.protocol == "ec2" else "query"]
    if service is None:
        service = _by_rest_route(request)
    return service, PROTOCOLS[service.protocol]


def fallback(request: HttpRequest) -> tuple[Service, Protocol]:
    """Whom to answer when the request names no service Nozama knows: a query client
    (it sent an Action) gets query XML, anyone else JSON."""
    if "Action" in request.form:
        return catalog.service("elbv2"), PROTOCOLS["query"]
    return catalog.service("ecs"), PROTOCOLS["json"]


def _named(service: Service | None, name: str) -> Service:
    if service is None:
        raise UnknownService(f"Nozama does not serve the service '{name}'.")
    return service


def _by_api_version(request: HttpRequest) -> Service:
    version = request.form.get("Version")
    for service in catalog.served():
        protocols = service.model.metadata.get("protocols", [service.protocol])
        if ("query" in protocols or "ec2" in protocols) \
                and service.model.api_version == version:
            return service
    raise UnknownService("The request names no service: sign it with SigV4 or send a known "
                         "Version.")


def _by_rest_route(request: HttpRequest) -> Service:
    for service in catalog.served():
        if service.protocol == "rest-json" and find_route(service, request):
            return service
    raise UnknownService(f"No service serves {request.method} {request.path}.")
