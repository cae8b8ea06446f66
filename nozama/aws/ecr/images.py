"""ListImages, DescribeImages, BatchGetImage, BatchDeleteImage: the images pushes left in
the store, by digest and tag."""

from __future__ import annotations

import json
import re
from typing import Iterator

from sqlalchemy import Connection, Row

from nozama.aws.ecr import handlers
from nozama.aws.ecr.common import find_repository, utc
from nozama.controllers import ecr_images
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.store import ecr_images as image_store
from nozama.store.pagination import decode_token, page

DEFAULT_MAX_RESULTS = 100
# ECR's own check of an imageDigest ("algorithm:hex").
_DIGEST = re.compile(r"[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")


class Failure(Exception):
    """An image id that names no image, as ECR's ImageFailure says it."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def resolve(conn: Connection, repository: Row, image_id: dict) -> Row:
    """The image an ImageIdentifier names (a tag, a digest, or both, which must agree)."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if not digest and not tag:
        raise Failure("MissingDigestAndTag",
                      "Invalid request parameters: both tag and digest cannot be null")
    if digest and not _DIGEST.fullmatch(digest):
        raise Failure("InvalidImageDigest", "Invalid request parameters: image digest should "
                                            "satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
    image = image_store.by_tag(conn, repository.id, tag) if tag else \
        image_store.by_digest(conn, repository.id, digest)
    if image is None:
        raise Failure("ImageNotFound", "Requested image not found")
    if tag and digest and image.digest != digest:
        raise Failure("ImageTagDoesNotMatchDigest",
                      "Invalid request parameters: given tag does not map to the given digest")
    return image


def _failure(image_id: dict, failure: Failure) -> dict:
    return {"imageId": image_id, "failureCode": failure.code, "failureReason": failure.reason}


def _resolved(conn: Connection, repository: Row, image_ids: list[dict],
              failures: list[dict]) -> Iterator[tuple[dict, Row]]:
    """(image id, image) of each id that names an image, in order; the failures of the
    others go to `failures`. Lazily: an id is resolved after what the caller did with the
    one before (BatchDeleteImage deletes as it goes)."""
    for image_id in image_ids:
        try:
            image = resolve(conn, repository, image_id)
        except Failure as failure:
            failures.append(_failure(image_id, failure))
            continue
        yield image_id, image


# A status no image has: every image here is ACTIVE (none is ever archived).
_NO_IMAGE = "NONE"


def _tag_status(params: dict) -> str:
    found = params.get("filter") or {}
    if found.get("imageStatus") not in (None, "ACTIVE", "ANY"):
        return _NO_IMAGE
    return found.get("tagStatus") or "ANY"


def _keeps(status: str, tags: list[str]) -> bool:
    if status == _NO_IMAGE:
        return False
    return status == "ANY" or (status == "TAGGED") == bool(tags)


def _no_paging_with_ids(params: dict) -> None:
    if params.get("maxResults") or params.get("nextToken"):
        raise errors.ecr.InvalidParameterException(
            "maxResults and nextToken cannot be used when imageIds is specified.")


@handlers.operation("ListImages")
def list_images(ctx: RequestContext, params: dict) -> dict:
    status = _tag_status(params)
    limit = params.get("maxResults") or DEFAULT_MAX_RESULTS
    after = decode_token(params.get("nextToken"), "ListImages", int, str,
                         error=errors.ecr.InvalidParameterException)
    with ctx.store.read() as conn:
        repository = find_repository(ctx, conn, params)
        images = image_store.images_of(conn, repository.id)
        tags = image_store.tags_by_image(conn, repository.id)
    # One id per tag of a tagged image, one (its digest) per untagged image, as ECR lists.
    ids = [(image.id, tag, image.digest)
           for image in sorted(images, key=lambda image: image.id)
           if _keeps(status, tags.get(image.id, []))
           for tag in (tags.get(image.id) or [""])]
    if after is not None:
        ids = [item for item in ids if (item[0], item[1]) > tuple(after)]
    chosen, token = page(ids, limit, "ListImages", key=lambda item: [item[0], item[1]])
    return {"imageIds": [{"imageDigest": digest, **({"imageTag": tag} if tag else {})}
                         for _, tag, digest in chosen],
            **({"nextToken": token} if token else {})}


def _artifact_media_type(manifest: str) -> str | None:
    try:
        config = json.loads(manifest).get("config")
    except (ValueError, AttributeError):
        return None
    return config.get("mediaType") if isinstance(config, dict) else None


def describe_image(repository: Row, image: Row, tags: list[str]) -> dict:
    detail = {"registryId": repository.account, "repositoryName": repository.name,
              "imageDigest": image.digest, "imageSizeInBytes": image.size_bytes,
              "imagePushedAt": utc(image.pushed_at),
              "imageManifestMediaType": image.manifest_media_type, "imageStatus": "ACTIVE"}
    if tags:
        detail["imageTags"] = tags
    artifact = _artifact_media_type(image.manifest)
    if artifact:
        detail["artifactMediaType"] = artifact
    if image.last_pulled_at is not None:
        detail["lastRecordedPullTime"] = utc(image.last_pulled_at)
    return detail


def _not_found(repository: Row, image_id: dict) -> errors.ServiceError:
    def shown(value):
        return f"'{value}'" if value else "'null'"
    return errors.ecr.ImageNotFoundException(
        f"The image with imageId {{imageDigest:{shown(image_id.get('imageDigest'))}, "
        f"imageTag:{shown(image_id.get('imageTag'))}}} does not exist within the repository "
        f"with name '{repository.name}' in the registry with id '{repository.account}'")


@handlers.operation("DescribeImages")
def describe_images(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        repository = find_repository(ctx, conn, params)
        tags = image_store.tags_by_image(conn, repository.id)
        if params.get("imageIds") is not None:
            _no_paging_with_ids(params)
            found: dict[int, Row] = {}
            for image_id in params["imageIds"]:
                try:
                    image = resolve(conn, repository, image_id)
                except Failure as failure:
                    if failure.code == "ImageNotFound":
                        raise _not_found(repository, image_id) from None
                    raise errors.ecr.InvalidParameterException(failure.reason) from None
                found.setdefault(image.id, image)
            return {"imageDetails": [describe_image(repository, image, tags.get(image.id, []))
                                     for image in found.values()]}
        images = image_store.images_of(conn, repository.id)
    status = _tag_status(params)
    limit = params.get("maxResults") or DEFAULT_MAX_RESULTS
    after = decode_token(params.get("nextToken"), "DescribeImages", int,
                         error=errors.ecr.InvalidParameterException)
    kept = [image for image in sorted(images, key=lambda image: image.id)
            if _keeps(status, tags.get(image.id, [])) and (after is None or image.id > after)]
    chosen, token = page(kept, limit, "DescribeImages", key=lambda image: image.id)
    return {"imageDetails": [describe_image(repository, image, tags.get(image.id, []))
                             for image in chosen],
            **({"nextToken": token} if token else {})}


@handlers.operation("BatchGetImage")
def batch_get_image(ctx: RequestContext, params: dict) -> dict:
    accepted = params.get("acceptedMediaTypes")
    images, failures = [], []
    with ctx.store.read() as conn:
        repository = find_repository(ctx, conn, params)
        for image_id, image in _resolved(conn, repository, params["imageIds"], failures):
            if accepted and image.manifest_media_type not in accepted:
                # The registry keeps the manifest as pushed; it converts to no other type.
                failures.append(_failure(image_id, Failure(
                    "ImageNotFound", f"Requested image not found in an accepted media type "
                                     f"(it is {image.manifest_media_type})")))
                continue
            images.append({"registryId": repository.account,
                           "repositoryName": repository.name,
                           "imageId": {"imageDigest": image.digest,
                                       **({"imageTag": image_id["imageTag"]}
                                          if image_id.get("imageTag") else {})},
                           "imageManifest": image.manifest,
                           "imageManifestMediaType": image.manifest_media_type})
    return {"images": images, "failures": failures}


@handlers.operation("BatchDeleteImage")
def batch_delete_image(ctx: RequestContext, params: dict) -> dict:
    deleted, failures = [], []
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        repository = find_repository(ctx, conn, params)
        for image_id, image in _resolved(conn, repository, params["imageIds"], failures):
            if image_id.get("imageTag"):
                # By tag: that tag goes, and the image with it if it was its last tag.
                ecr_images.untag(conn, repository, image_id["imageTag"], now)
                deleted.append({"imageDigest": image.digest, "imageTag": image_id["imageTag"]})
                continue
            # By digest: the image and every tag that names it.
            tags = image_store.tags_of(conn, image.id)
            ecr_images.delete_image(conn, repository, image, now)
            deleted += [{"imageDigest": image.digest, **({"imageTag": tag} if tag else {})}
                        for tag in (tags or [""])]
    return {"imageIds": deleted, "failures": failures}
