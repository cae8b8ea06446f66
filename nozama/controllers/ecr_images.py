"""Deleting ECR images and tags: the one routine BatchDeleteImage, DeleteRepository (with
force) and lifecycle expiry share.

Each change is made to the store and, in the same transaction, a tombstone is written for
every digest it touches: the `nozama registry` process then brings the registry in line
(it deletes the manifest by digest, and puts it back under the tags the store still gives
it, if the store still has the image). The API never calls the registry itself, so a
registry that is down delays the cleanup but never fails the call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row

from nozama.model import ecr_names
from nozama.store import ecr_images as image_store


def _tombstone(conn: Connection, repository: Row, digest: str, now: datetime) -> None:
    image_store.add_tombstone(conn, ecr_names.registry_name(repository.region, repository.name),
                              digest, now)


def delete_image(conn: Connection, repository: Row, image: Row, now: datetime) -> None:
    """Delete the image and every tag that names it."""
    image_store.delete_image(conn, image.id)
    _tombstone(conn, repository, image.digest, now)


def untag(conn: Connection, repository: Row, tag: str, now: datetime) -> Row | None:
    """Remove one tag; the image it named goes too when that was its last tag, as ECR's
    BatchDeleteImage does. The image the tag named, or None when no image had it."""
    image = image_store.by_tag(conn, repository.id, tag)
    if image is None:
        return None
    image_store.remove_tag(conn, repository.id, tag)
    if not image_store.tags_of(conn, image.id):
        image_store.delete_image(conn, image.id)
    _tombstone(conn, repository, image.digest, now)
    return image


def delete_all(conn: Connection, repository: Row, now: datetime) -> int:
    """Delete every image of the repository (DeleteRepository with force); how many."""
    images = image_store.images_of(conn, repository.id)
    for image in images:
        delete_image(conn, repository, image, now)
    return len(images)
