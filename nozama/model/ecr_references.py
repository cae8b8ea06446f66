"""Image references that name a Nozama ECR repository, and their rewrite onto the registry.

A task definition names an ECR image the way ECR's repositoryUri does,
`ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME[:TAG|@sha256:HEX]`, or by the registry's own
address, `<host:port>/<region>/<name>[:tag|@digest]` (what a user pushes to). Nothing
answers at the amazonaws.com host: the agent pulls `<registry>/<region>/<name>` instead
(model/ecr_names.registry_name), then gives the image back the name the task uses.

Lambda reads a function's ImageUri with the same parser, more strictly (`exact=True`): a
tag or a digest must be written, not both, and Docker's implied `:latest` does not apply.

Pure: no Docker, no network. A reference that is neither form parses to None and is an
ordinary Docker reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nozama.model import ecr_names

DEFAULT_TAG = "latest"
_ECR_HOST = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com")
# What Docker takes for a registry host rather than a Docker Hub user: a dot, a port, or
# localhost (distribution/reference's rule).
_REGISTRY_HOST = re.compile(r"(localhost|[^/]*[.:][^/]*)")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


class InvalidReference(ValueError):
    """An ECR-shaped reference whose name, tag or digest ECR would never give."""


@dataclass(frozen=True)
class EcrReference:
    region: str
    name: str                      # the repository name, as ECR knows it
    tag: str | None                # exactly one of tag and digest is set
    digest: str | None
    account: str | None = None     # the ECR form's account; None for the address form
    address: str | None = None     # the address form's host[:port]; None for the ECR form

    @property
    def registry_name(self) -> str:
        return ecr_names.registry_name(self.region, self.name)

    def repository_at(self, registry: str) -> str:
        """The repository to pull from `registry` (its host[:port])."""
        return f"{registry}/{self.registry_name}"

    def pull_reference(self, registry: str) -> str:
        """The whole reference to pull from `registry`: repository plus tag or digest."""
        return self.repository_at(registry) + self.suffix

    @property
    def suffix(self) -> str:
        return f"@{self.digest}" if self.digest else f":{self.tag}"

    def local_repository(self) -> str:
        """The repository part of the reference as the task definition wrote it, which a
        pulled tag is tagged back to."""
        if self.account is not None:
            return ecr_names.repository_uri(self.account, self.region, self.name)
        return self.repository_at(self.address or "")


def parse(reference: str, exact: bool = False) -> EcrReference | None:
    """The ECR repository `reference` names, or None for any other image. Raises
    InvalidReference for an ECR host with a name, tag or digest ECR refuses, and, when
    `exact`, with neither or both of a tag and a digest."""
    host, slash, rest = reference.partition("/")
    if not slash:
        return None
    ecr = _ECR_HOST.fullmatch(host)
    if ecr:
        name, tag, digest = _split(rest, reference, exact)
        return EcrReference(ecr.group(2), name, tag, digest, account=ecr.group(1))
    region, slash, rest = rest.partition("/")
    if not slash or not _REGISTRY_HOST.fullmatch(host) or not _REGION.fullmatch(region):
        return None
    try:
        name, tag, digest = _split(rest, reference, exact)
    except InvalidReference:
        return None       # some other registry's image, which merely looks alike
    return EcrReference(region, name, tag, digest, address=host)


def _split(rest: str, reference: str,
           exact: bool) -> tuple[str, str | None, str | None]:
    if "@" in rest:
        name, _, digest = rest.partition("@")
        if exact and ":" in name:
            raise InvalidReference(f"invalid reference format: {reference}: a tag and a "
                                   "digest")
        # name:tag@digest: Docker pulls by the digest alone, and so does ECS.
        name = name.partition(":")[0]
        if not ecr_names.valid_digest(digest):
            raise InvalidReference(f"invalid reference format: {reference}: the digest "
                                   "must be sha256: and 64 lowercase hex digits")
        tag = None
    else:
        name, colon, tag = rest.partition(":")
        if exact and not colon:
            raise InvalidReference(f"invalid reference format: {reference}: no tag or digest")
        if colon and not ecr_names.valid_tag(tag):
            raise InvalidReference(f"invalid reference format: {reference}: bad tag {tag!r}")
        tag, digest = tag or DEFAULT_TAG, None
    if not ecr_names.valid_repository_name(name):
        raise InvalidReference(f"invalid reference format: {reference}: {name!r} is not "
                               "an ECR repository name")
    return name, tag, digest


def is_ecr_host(address: str) -> bool:
    """Whether `address` is ECR's own host, which no Nozama registry answers at."""
    return _ECR_HOST.fullmatch(address) is not None


def registry_address(proxy_endpoint: str) -> tuple[str, str]:
    """(scheme, host[:port]) of GetAuthorizationToken's proxyEndpoint."""
    scheme, sep, rest = proxy_endpoint.partition("://")
    if not sep:
        scheme, rest = "https", proxy_endpoint
    return scheme, rest.rstrip("/")
