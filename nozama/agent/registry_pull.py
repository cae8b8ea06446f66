"""Pulling a task's image from a Nozama ECR repository, as the ECS agent pulls from ECR.

The agent asks the control plane for ECR's GetAuthorizationToken itself, signed with its own
key (SigV4, service "ecr", the repository's region), and keeps each region's answer until
30 minutes before its expiresAt, as the ECS agent does. The answer's proxyEndpoint is the
registry (`nozama registry`); the image is pulled from `<registry>/<region>/<name>`
through the Docker SDK with the token as `auth_config`: no `docker login`, nothing in
~/.docker. A tag is then tagged back to the name the task definition uses, so the
container runs "the" ECR image; a digest cannot be a tag, so a digest reference runs from
the registry's reference. ECR images are always pulled: a mutable tag may have moved.

For an https registry, Docker must trust Nozama's CA for that address: the agent fetches it
from the control plane and writes it to /etc/docker/certs.d/<host:port>/ca.crt (read on
each pull; no daemon restart).

Blocking (urllib, the Docker SDK): the runtime calls it from its worker threads.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from docker.errors import APIError

from nozama.kernel.clock import Clock
from nozama.kernel.endpoints import Endpoints
from nozama.kernel.sigv4_signing import signed_headers
from nozama.model import ecr_references
from nozama.model.ecr_references import EcrReference

log = logging.getLogger(__name__)

TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
# The ECS agent renews a cached ECR token this long before it expires
# (dockerauth/ecr.go, MinimumJitterDuration).
RENEW_BEFORE = 30 * 60
CERTS_DIR = Path("/etc/docker/certs.d")
CALL_TIMEOUT = 10.0


class PullError(Exception):
    """The image cannot be pulled; the message is the container's reason."""


def cannot_pull(message: str) -> PullError:
    return PullError(f"CannotPullContainerError: {message}")


@dataclass(frozen=True)
class Authorization:
    """One region's GetAuthorizationToken answer."""
    username: str
    password: str
    proxy_endpoint: str
    expires_at: float              # epoch seconds

    @property
    def scheme(self) -> str:
        return ecr_references.registry_address(self.proxy_endpoint)[0]

    @property
    def registry(self) -> str:
        """host[:port], as Docker names the registry."""
        return ecr_references.registry_address(self.proxy_endpoint)[1]

    def auth_config(self) -> dict:
        return {"username": self.username, "password": self.password}


def authorization_from(document: dict) -> Authorization:
    """The first authorizationData of a GetAuthorizationToken answer."""
    data = (document.get("authorizationData") or [{}])[0]
    token = base64.b64decode(data.get("authorizationToken") or "").decode()
    # user:password, split at the first ':' as the ECS agent does.
    username, colon, password = token.partition(":")
    if not colon or not data.get("proxyEndpoint"):
        raise ValueError("the answer has no authorizationToken or proxyEndpoint")
    return Authorization(username, password, data["proxyEndpoint"],
                         _epoch(data.get("expiresAt")))


def _epoch(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise ValueError(f"expiresAt {value!r} is not a time")


class EcrAuthorizations:
    """The agent's ECR tokens, one per region, fetched from the control plane and kept
    until RENEW_BEFORE their expiry. `call(region)` may replace the HTTP call (tests)."""

    def __init__(self, endpoint, credentials=None, ca_bundle: str | None = None,
                 clock: Clock | None = None, call=None):
        # One URL or the agent's Endpoints: the token is asked of the channel's current one.
        self.endpoints = Endpoints.of(endpoint)
        self.credentials = credentials
        self.ca_bundle = ca_bundle
        self.clock = clock or Clock()
        self._call = call or self._get_authorization_token
        self._cache: dict[str, Authorization] = {}
        self._lock = threading.Lock()
        https = any(urlsplit(url).scheme == "https" for url in self.endpoints.urls)
        self._tls = ssl.create_default_context(cafile=ca_bundle or None) if https else None

    @property
    def endpoint(self) -> str:
        return self.endpoints.current

    def get(self, region: str) -> Authorization:
        with self._lock:     # one call per region, however many tasks start at once
            cached = self._cache.get(region)
            if cached and self.clock.time() < cached.expires_at - RENEW_BEFORE:
                return cached
            fresh = authorization_from(self._call(region))
            if ecr_references.is_ecr_host(fresh.registry):
                # The control plane names ECR's own host when no `nozama registry` runs;
                # not kept, so that a registry started later is found at the next pull.
                raise cannot_pull(f"no Nozama registry is running for {self.endpoint} "
                                  f"(GetAuthorizationToken's proxyEndpoint is "
                                  f"{fresh.proxy_endpoint}): start `nozama registry`")
            self._cache[region] = fresh
            return fresh

    def forget(self, region: str) -> None:
        """Drop a region's token (the registry refused it: the key may have changed)."""
        with self._lock:
            self._cache.pop(region, None)

    def _get_authorization_token(self, region: str) -> dict:
        url = urlsplit(self.endpoint)
        path = (url.path or "") + "/"
        tls = self._tls if url.scheme == "https" else None
        body = b"{}"
        headers = {"Host": url.netloc, "Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Target": TARGET, "X-Nozama-Client": "agent"}
        if self.credentials is not None:
            headers = signed_headers("POST", path, headers, body, self.credentials, region,
                                     "ecr")
        request = urllib.request.Request(f"{url.scheme}://{url.netloc}{path}", data=body,
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=CALL_TIMEOUT,
                                        context=tls) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise refusal(error.read()) from None

    def ca_pem(self) -> bytes:
        """Nozama's CA, which issues the registry's certificate: the control plane's
        /_nozama/ca.pem. The agent's --ca-bundle only if that cannot be read: it may be
        a system bundle (AWS_CA_BUNDLE) that trusts the control plane, not the registry."""
        endpoint = self.endpoint
        tls = self._tls if endpoint.startswith("https:") else None
        try:
            with urllib.request.urlopen(endpoint + "/_nozama/ca.pem",
                                        timeout=CALL_TIMEOUT, context=tls) as answer:
                return answer.read()
        except OSError:
            if not self.ca_bundle:
                raise
            return Path(self.ca_bundle).read_bytes()


def refusal(body: bytes) -> PullError:
    """The control plane's JSON error as the container's reason."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {}
    code = str(document.get("__type") or "HTTPError").rpartition("#")[2]
    message = document.get("message") or document.get("Message") or ""
    return cannot_pull(f"{code}: {message}" if message else code)


class RegistryPuller:
    """Pulls ECR references through the registry the control plane names."""

    def __init__(self, authorizations: EcrAuthorizations, certs_dir: Path = CERTS_DIR):
        self.authorizations = authorizations
        self.certs_dir = Path(certs_dir)
        self._trusted: set[str] = set()

    def pull(self, client, reference: EcrReference, account: str | None = None) -> str | None:
        """Pull `reference` and give the image its container is created from; None when
        it is the address of some other registry (an ordinary pull then)."""
        if reference.account is not None and account and reference.account != account:
            raise cannot_pull(
                f"{reference.local_repository()}: account {reference.account}'s registry is "
                f"not this control plane's (account {account})")
        try:
            authorization = self.authorizations.get(reference.region)
        except PullError:
            if reference.address is not None:
                return None                 # maybe not ours: let Docker say
            raise
        except (OSError, ValueError) as error:
            if reference.address is not None:
                return None
            raise cannot_pull(f"no ECR authorization token from {self.authorizations.endpoint}"
                              f": {error}") from None
        registry = authorization.registry
        if reference.address is not None and reference.address != registry:
            return None
        if authorization.scheme == "https":
            self._trust(registry)
        try:
            image = client.images.pull(reference.repository_at(registry),
                                       tag=reference.digest or reference.tag,
                                       auth_config=authorization.auth_config())
        except APIError as error:
            # The token may be stale (a revoked key) or the registry may have moved: the
            # next pull asks the control plane again.
            self.authorizations.forget(reference.region)
            raise cannot_pull(str(error.explanation or error)) from error
        # Which host pulled what, from where: what an operator asks when a deployment lags.
        log.info("pulled %s", reference.pull_reference(registry))
        if reference.digest:
            return reference.pull_reference(registry)
        local = reference.local_repository()
        if local != reference.repository_at(registry):
            image.tag(local, reference.tag)
        return f"{local}:{reference.tag}"

    def _trust(self, registry: str) -> None:
        """Docker trusts an https registry whose CA is in certs.d/<host:port>/ca.crt."""
        if registry in self._trusted:
            return
        try:
            pem = self.authorizations.ca_pem()
            target = self.certs_dir / registry / "ca.crt"
            if not target.exists() or target.read_bytes() != pem:
                target.parent.mkdir(parents=True, exist_ok=True)
                scratch = target.with_name(f".ca.crt.{os.getpid()}")
                scratch.write_bytes(pem)
                scratch.replace(target)        # Docker never reads half a file
        except OSError as error:
            raise cannot_pull(f"cannot trust the registry {registry}: {error}") from None
        self._trusted.add(registry)
