"""The container image of a function with PackageType Image: its ImageUri, checked and
resolved to a digest in the account's ECR repositories, as Lambda resolves it.

Lambda takes an ImageUri of an ECR repository of the function's region,
`ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG` or `…/NAME@sha256:HEX`, and turns a tag
into the digest it names when the code is set (CreateFunction, UpdateFunctionCode): a
tag moved later does not change the function, and a published version keeps the digest.

The function row keeps the image in its `code_sha256` slot: the function_code row under
that key holds the reference (ImageUri and ResolvedImageUri) as JSON, so versions share
and release it exactly as they share zip packages.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.model import ecr_names, ecr_references
from nozama.model.ecr_references import EcrReference
from nozama.store import ecr_images, ecr_repositories


@dataclass(frozen=True)
class FunctionImage:
    """What a function's code is when it is an image: as given, and pinned."""
    image_uri: str
    resolved_image_uri: str     # "<repository uri>@sha256:…"

    @property
    def digest(self) -> str:
        return self.resolved_image_uri.rpartition("@")[2]

    @property
    def code_sha256(self) -> str:
        """CodeSha256 as Lambda reports it for an image: the digest's hex."""
        return self.digest.partition(":")[2]

    def stored(self) -> bytes:
        return json.dumps({"ImageUri": self.image_uri,
                           "ResolvedImageUri": self.resolved_image_uri},
                          sort_keys=True).encode()

    @property
    def key(self) -> str:
        """Its key among the functions' code (function_code.sha256)."""
        return hashlib.sha256(self.stored()).hexdigest()


def loaded(stored: bytes) -> FunctionImage:
    doc = json.loads(stored)
    return FunctionImage(doc["ImageUri"], doc["ResolvedImageUri"])


def parse(uri: str) -> EcrReference | None:
    """The ECR image an ImageUri names, or None for anything else: only ECR's own form
    (not a registry's address), with exactly one of a tag and a digest."""
    try:
        reference = ecr_references.parse(uri or "", exact=True)
    except ecr_references.InvalidReference:
        return None
    return reference if reference is not None and reference.account is not None else None


def _not_valid(uri: str) -> errors.ServiceError:
    return errors.lambda_.InvalidParameterValueException(
        f"Source image {uri} is not valid. Provide a valid source image.")


def check(uri: str, region: str, account: str) -> EcrReference:
    """The reference an ImageUri makes, or Lambda's refusal: only an image of an ECR
    repository of this account, in the function's region, can run here."""
    reference = parse(uri)
    if reference is None or reference.region != region or reference.account != account:
        raise _not_valid(uri)
    return reference


def resolve(conn: Connection, uri: str, region: str, account: str) -> FunctionImage:
    """The image an ImageUri names now, pinned by digest; Lambda's refusal when the
    repository, the tag or the digest is not in the store."""
    reference = check(uri, region, account)
    repository = ecr_repositories.get(conn, region, account, reference.name)
    image = None
    if repository is not None:
        image = ecr_images.by_tag(conn, repository.id, reference.tag) if reference.tag \
            else ecr_images.by_digest(conn, repository.id, reference.digest)
    if image is None:
        raise errors.lambda_.InvalidParameterValueException(
            f"Source image {uri} does not exist. Provide a valid source image.")
    repository_uri = ecr_names.repository_uri(account, region, reference.name)
    return FunctionImage(uri, f"{repository_uri}@{image.digest}")
