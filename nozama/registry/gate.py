"""The gate: the part of `nozama registry` that decides, between the front and
Distribution.

- `GET /_nozama/ecr/token` is Distribution's token realm. Docker sends it
  `Basic AWS:<password>` (the password of ECR's GetAuthorizationToken) and the scopes it
  needs. The gate opens the password (model/ecr_authorization.py), checks that its key is
  still Active, and that the key's IAM policies allow each scope's actions on the
  repository (pull: ecr:BatchGetImage; push: ecr:PutImage and ecr:InitiateLayerUpload;
  delete: ecr:BatchDeleteImage), then answers with a registry JWT (registry/tokens.py).
  The first scope is the repository the operation is about: it must be allowed in full,
  or the answer is ECR's refusal (403 DENIED with IAM's sentence, or 404 NAME_UNKNOWN for a
  repository that does not exist). Further scopes (the sources of cross-repository blob
  mounts) get what is allowed of them.
- `PUT /v2/<name>/manifests/<reference>` is the one registry request that changes what
  ECR shows. The gate refuses to move an immutable tag (model/ecr_mutability.py), then
  forwards the request with the client's own token (Distribution still checks it), and,
  when Distribution accepts it (201), records the image and its tag in the store. A lock
  per repository keeps two pushes of one tag in order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from nozama.kernel.clock import Clock
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.model import arns, ecr_authorization, ecr_mutability, ecr_names, iam_authorize
from nozama.model import iam as iam_model
from nozama.model.iam_policy import Decision, decide
from nozama.registry import client, tokens
from nozama.store import access_keys, ecr_images, ecr_repositories, server_keys

log = logging.getLogger(__name__)

TOKEN_PATH = "/_nozama/ecr/token"
HEALTH_PATH = "/_nozama/ecr/health"
MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
# The IAM actions a registry action needs (AWS's Service Authorization Reference).
ACTIONS = {"pull": ("ecr:BatchGetImage",),
           "push": ("ecr:PutImage", "ecr:InitiateLayerUpload"),
           "delete": ("ecr:BatchDeleteImage",)}
# The response headers of Distribution a client needs back from a manifest PUT.
_RELAYED = ("location", "docker-content-digest", "content-type", "www-authenticate",
            "docker-distribution-api-version")
_JSON = {"content-type": "application/json"}


def _json(status: int, body: dict, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(status, json.dumps(body).encode(), {**_JSON, **(headers or {})})


def _errors(status: int, code: str, message: str) -> HttpResponse:
    """A Distribution-style error, which Docker prints as `<code in words>: <message>`."""
    return _json(status, {"errors": [{"code": code, "message": message, "detail": None}]})


BAD_CREDENTIALS = _json(401, {"details": "bad credentials"})


@dataclass(frozen=True)
class Scope:
    name: str             # Distribution's repository name, "<region>/<ecr name>"
    actions: list[str]


def parse_scopes(values: list[str]) -> list[Scope]:
    """The repository scopes of a token request (`repository:<name>:<a>,<b>`), in order;
    a parameter may hold several, separated by spaces. Other kinds (registry:catalog:*)
    are for Nozama's own tokens and are dropped."""
    scopes = []
    for value in values:
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name:
                scopes.append(Scope(name, [a for a in actions.split(",") if a]))
    return scopes


def basic_password(header: str | None) -> str | None:
    """The password of `Basic base64(AWS:<password>)`, None for anything else."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True) \
            .decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if user == ecr_authorization.USER and password else None


def account_of(arn: str) -> str:
    parsed = arns.parse(arn)
    return parsed.account if parsed is not None else ""


def repository(conn, account: str | None, registry_name: str):
    """The repository of `account` a Distribution name stands for, or None (account None:
    see store/ecr_repositories.by_registry_name)."""
    split = ecr_names.split_registry_name(registry_name)
    if split is None:
        return None
    return ecr_repositories.by_registry_name(conn, account, *split)


class Refusal(Exception):
    def __init__(self, response: HttpResponse):
        self.response = response


def image_size(manifest: bytes) -> int:
    """imageSizeInBytes: what the manifest says its config and layers weigh (an index:
    its manifests)."""
    try:
        doc = json.loads(manifest)
    except ValueError:
        return len(manifest)
    if not isinstance(doc, dict):
        return len(manifest)
    parts = list(doc.get("layers") or []) + list(doc.get("manifests") or [])
    if isinstance(doc.get("config"), dict):
        parts.append(doc["config"])
    return sum(int(p.get("size") or 0) for p in parts if isinstance(p, dict))


class Gate:
    def __init__(self, store, clock: Clock, backend_url: str, signer: tokens.Signer,
                 service: str):
        self.store = store
        self.clock = clock
        self.backend_url = backend_url
        self.signer = signer
        self.service = service
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def handle(self, request: HttpRequest):
        if request.path == TOKEN_PATH and request.method == "GET":
            return self.token(request)
        if request.path == HEALTH_PATH:
            return _json(200, {"status": "ok"})
        found = MANIFEST_PATH.match(request.path)
        if found and request.method == "PUT":
            return self.put_manifest(request, found.group(1), found.group(2))
        return _errors(404, "UNSUPPORTED", "The gate serves the token realm and manifest "
                                           "PUTs only")

    # ------------------------------------------------------------ the token realm

    def token(self, request: HttpRequest) -> HttpResponse:
        password = basic_password(request.headers.get("authorization"))
        if password is None:
            return BAD_CREDENTIALS
        now = self.clock.now()
        try:
            with self.store.read() as conn:
                principal, region = self._caller(conn, password, now)
                access = self._grant(conn, principal, region,
                                     parse_scopes(request.query_lists.get("scope", [])))
        except Refusal as refusal:
            return refusal.response
        jwt = tokens.mint(self.signer, self.service, principal.arn, access, now)
        return _json(200, {"token": jwt, "access_token": jwt,
                           "expires_in": int(tokens.LIFETIME.total_seconds()),
                           "issued_at": now.isoformat().replace("+00:00", "Z")})

    def _caller(self, conn, password: str, now: datetime) -> tuple[iam_model.Principal, str]:
        """The principal and region of a valid password, else Refusal(401)."""
        key = server_keys.get(conn, ecr_authorization.KEY_NAME)
        opened = ecr_authorization.open_password(key, password, now) if key else None
        if opened is None:
            raise Refusal(BAD_CREDENTIALS)
        account = account_of(opened.principal_arn)
        if opened.access_key_id == ecr_authorization.SERVICE_KEY_ID:
            return iam_model.root(account), opened.region
        principal = access_keys.active_principal(conn, opened.access_key_id, now)
        if principal is None or principal.arn != opened.principal_arn:
            raise Refusal(BAD_CREDENTIALS)   # the key was deactivated, deleted or reused
        return principal, opened.region

    def _grant(self, conn, principal: iam_model.Principal, region: str,
               scopes: list[Scope]) -> list[dict]:
        access = []
        for index, scope in enumerate(scopes):
            allowed, refusal = self._allowed(conn, principal, region, scope)
            if refusal is not None and index == 0:
                raise Refusal(refusal)
            if allowed:
                access.append(tokens.repository_access(scope.name, allowed))
        return access

    def _allowed(self, conn, principal: iam_model.Principal, region: str,
                 scope: Scope) -> tuple[list[str], HttpResponse | None]:
        """The scope's actions the principal may take, and the refusal of the rest."""
        split = ecr_names.split_registry_name(scope.name)
        found = repository(conn, principal.account, scope.name) \
            if split and split[0] == region else None
        if found is None:
            name = split[1] if split else scope.name
            return [], _errors(404, "NAME_UNKNOWN", (
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{principal.account}'"))
        allowed, refusal = [], None
        for action in scope.actions:
            for iam_action in ACTIONS.get(action, ()):
                decision = Decision.ALLOW if principal.is_root else \
                    decide(principal.policies, iam_action, found.arn)
                if decision is not Decision.ALLOW:
                    message = iam_authorize.denied(principal, "ecr", iam_action, found.arn,
                                                   decision).message
                    refusal = refusal or _errors(403, "DENIED", message)
                    break
            else:
                if action in ACTIONS:
                    allowed.append(action)
        return allowed, refusal

    # ------------------------------------------------------------ manifest PUTs

    async def put_manifest(self, request: HttpRequest, name: str,
                           reference: str) -> HttpResponse:
        async with self.locks[name]:
            account = self._pusher_account(request)
            if "authorization" in request.headers:   # else Distribution's 401 challenge
                refusal = self._immutable_refusal(account, name, reference, request.body)
                if refusal is not None:
                    return refusal
            headers = {k: v for k, v in request.headers.items()
                       if k in ("authorization", "content-type")}
            try:
                reply = await asyncio.to_thread(client.call, self.backend_url, "PUT",
                                                request.raw_path, request.body, headers)
            except OSError as error:
                log.warning("docker-registry did not take a manifest PUT: %s", error)
                return _errors(503, "UNAVAILABLE", "The registry is restarting; try again")
            if reply.status == 201:
                self._record(account, name, reference, request, reply)
            return HttpResponse(reply.status, reply.body,
                                {k: v for k, v in reply.headers.items() if k in _RELAYED})

    def _pusher_account(self, request: HttpRequest) -> str:
        """The account of the principal whose token (minted by this gate's token realm)
        the push carries; "" when it carries none of ours."""
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return ""
        return account_of(tokens.subject(self.signer, token.strip()) or "")

    def _immutable_refusal(self, account: str, name: str, reference: str,
                           body: bytes) -> HttpResponse | None:
        if ecr_names.valid_digest(reference):
            return None
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        with self.store.read() as conn:
            found = repository(conn, account, name)
            if found is None:
                return None
            current = ecr_images.by_tag(conn, found.id, reference)
        filters = (found.doc or {}).get("imageTagMutabilityExclusionFilters")
        if ecr_mutability.may_tag(found.image_tag_mutability, filters, reference,
                                  current.digest if current else None, digest):
            return None
        return _errors(400, "TAG_INVALID", ecr_mutability.refusal(reference, found.name))

    def _record(self, account: str, name: str, reference: str, request: HttpRequest,
                reply: client.Reply) -> None:
        digest = reply.headers.get("docker-content-digest") or \
            "sha256:" + hashlib.sha256(request.body).hexdigest()
        media_type = request.headers.get("content-type") or \
            (json.loads(request.body or b"{}") or {}).get("mediaType", "")
        tag = None if ecr_names.valid_digest(reference) else reference
        with self.store.write() as conn:
            found = repository(conn, account, name)
            if found is None:
                log.warning("a push to %s, which no ECR repository of account %r names, "
                            "was not recorded", name, account)
                return
            ecr_images.record_push(conn, found.id, digest, request.body.decode(),
                                   media_type, image_size(request.body), self.clock.now(), tag)
