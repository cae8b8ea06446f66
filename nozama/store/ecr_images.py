"""The ecr_images and ecr_image_tags tables: the images pushed to each ECR repository (their
manifests, as the registry holds them) and the tags that name them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, and_, delete, insert, select, update

from nozama.store.schema import ecr_image_tags as et
from nozama.store.schema import ecr_image_tombstones
from nozama.store.schema import ecr_images as ei


def by_digest(conn: Connection, repository_id: int, digest: str) -> Row | None:
    return conn.execute(select(ei).where(ei.c.repository_id == repository_id,
                                         ei.c.digest == digest)).first()


def by_tag(conn: Connection, repository_id: int, tag: str) -> Row | None:
    return conn.execute(
        select(ei).join(et, and_(et.c.image_id == ei.c.id))
        .where(et.c.repository_id == repository_id, et.c.tag == tag)).first()


def tags_of(conn: Connection, image_id: int) -> list[str]:
    return list(conn.execute(select(et.c.tag).where(et.c.image_id == image_id)
                             .order_by(et.c.tag)).scalars())


def record_push(conn: Connection, repository_id: int, digest: str, manifest: str,
                media_type: str, size_bytes: int, pushed_at: datetime,
                tag: str | None) -> int:
    """Record an image the registry accepted (a push of an image already there keeps its
    first push time) and point `tag` at it; the image the tag named before, if any, stays
    untagged. The image's id."""
    found = by_digest(conn, repository_id, digest)
    if found is None:
        image_id = conn.execute(insert(ei).values(
            repository_id=repository_id, digest=digest, manifest=manifest,
            manifest_media_type=media_type, size_bytes=size_bytes,
            pushed_at=pushed_at)).inserted_primary_key[0]
    else:
        image_id = found.id
    if tag is not None:
        moved = conn.execute(update(et).where(et.c.repository_id == repository_id,
                                              et.c.tag == tag).values(image_id=image_id))
        if moved.rowcount == 0:
            conn.execute(insert(et).values(repository_id=repository_id, tag=tag,
                                           image_id=image_id))
    return image_id


def remove_tag(conn: Connection, repository_id: int, tag: str) -> None:
    conn.execute(delete(et).where(et.c.repository_id == repository_id, et.c.tag == tag))


def delete_image(conn: Connection, image_id: int) -> None:
    conn.execute(delete(et).where(et.c.image_id == image_id))
    conn.execute(delete(ei).where(ei.c.id == image_id))


# Tombstones: digests whose manifest the registry must bring in line with the store. The
# `nozama registry` process applies them (registry/sweeper.py): it deletes the manifest
# from the registry, then puts it back under the tags the store still gives it, if the
# store still has the image. Writing one in the transaction that changes the store keeps
# the two from drifting apart for longer than the registry is away.

def add_tombstone(conn: Connection, registry_name: str, digest: str, now: datetime) -> None:
    conn.execute(insert(ecr_image_tombstones).values(
        registry_name=registry_name, digest=digest, deleted_at=now))


def tombstones(conn: Connection, limit: int = 100) -> list[Row]:
    return list(conn.execute(select(ecr_image_tombstones)
                             .order_by(ecr_image_tombstones.c.id).limit(limit)))


def clear_tombstone(conn: Connection, tombstone_id: int) -> None:
    conn.execute(delete(ecr_image_tombstones).where(ecr_image_tombstones.c.id == tombstone_id))


# Listings: a repository holds tens to thousands of images, read whole for a page (ECR's
# listings filter on tags, which a keyset over one table cannot express).

def images_of(conn: Connection, repository_id: int) -> list[Row]:
    """The repository's images, oldest first (by push, then id)."""
    return list(conn.execute(select(ei).where(ei.c.repository_id == repository_id)
                             .order_by(ei.c.pushed_at, ei.c.id)))


def tags_by_image(conn: Connection, repository_id: int) -> dict[int, list[str]]:
    """{image id: its tags, sorted} of the repository's tagged images."""
    found: dict[int, list[str]] = {}
    for image_id, tag in conn.execute(select(et.c.image_id, et.c.tag)
                                      .where(et.c.repository_id == repository_id)
                                      .order_by(et.c.tag)):
        found.setdefault(image_id, []).append(tag)
    return found


def has_images(conn: Connection, repository_id: int) -> bool:
    return conn.execute(select(ei.c.id).where(ei.c.repository_id == repository_id)
                        .limit(1)).first() is not None
