"""Keeping Distribution in line with the store: tombstones, and adoption at start.

The ECR API never calls the registry. A delete or an untag changes the store and writes a
tombstone (registry name, digest) in the same transaction; the sweeper, every second,
makes the registry's state of that digest match the store: it deletes the manifest by
digest (which removes every tag naming it), puts it back under each tag the store still
gives it (or by digest when the store keeps it untagged), and clears the tombstone. Until
then a deleted image may still be pulled; a registry that is down applies them when it is
back.

Adoption covers the opposite gap: a gate killed after Distribution accepted a manifest
and before the store recorded it. At start, every tag the registry has and the store
lacks is recorded from the registry's manifest.
"""

from __future__ import annotations

import asyncio
import logging

from nozama.kernel.clock import Clock
from nozama.model import ecr_names
from nozama.registry import gate
from nozama.registry.client import Admin, RegistryError
from nozama.store import ecr_images
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

INTERVAL = 1.0


class Sweeper:
    def __init__(self, store, admin: Admin, clock: Clock):
        self.store = store
        self.admin = admin
        self.clock = clock

    async def apply_tombstones(self) -> int:
        """Apply every pending tombstone it can; how many were applied."""
        with self.store.read() as conn:
            pending = ecr_images.tombstones(conn)
        applied = 0
        for tombstone in pending:
            try:
                await self._apply(tombstone.registry_name, tombstone.digest)
            except (RegistryError, OSError) as error:
                log.warning("tombstone %s@%s not applied yet: %s", tombstone.registry_name,
                            tombstone.digest, error)
                continue
            with self.store.write() as conn:
                ecr_images.clear_tombstone(conn, tombstone.id)
            applied += 1
        return applied

    async def _apply(self, name: str, digest: str) -> None:
        await self.admin.delete_manifest(name, digest)
        with self.store.read() as conn:
            repository = gate.repository(conn, None, name)
            image = ecr_images.by_digest(conn, repository.id, digest) \
                if repository is not None else None
            tags = ecr_images.tags_of(conn, image.id) if image is not None else []
        if image is None:
            return
        manifest = image.manifest.encode()
        for reference in tags or [digest]:
            await self.admin.put_manifest(name, reference, manifest,
                                          image.manifest_media_type)

    async def adopt(self) -> int:
        """Record the tags the registry has and the store lacks; how many."""
        adopted = 0
        for name in await self.admin.catalog():
            if ecr_names.split_registry_name(name) is None:
                continue
            with self.store.read() as conn:
                repository = gate.repository(conn, None, name)
            if repository is None:
                continue
            for tag in await self.admin.tags(name):
                with self.store.read() as conn:
                    known = ecr_images.by_tag(conn, repository.id, tag)
                if known is not None:
                    continue
                reply = await self.admin.get_manifest(name, tag)
                if reply is None:
                    continue
                digest = reply.headers.get("docker-content-digest", "")
                if not ecr_names.valid_digest(digest):
                    continue
                with self.store.write() as conn:
                    ecr_images.record_push(
                        conn, repository.id, digest, reply.body.decode(),
                        reply.headers.get("content-type", ""), gate.image_size(reply.body),
                        self.clock.now(), tag)
                log.info("adopted %s:%s (%s), which the store had not recorded", name, tag,
                         digest)
                adopted += 1
        return adopted

    async def run(self) -> None:
        """Apply tombstones every INTERVAL until cancelled."""
        while True:
            try:
                await self.apply_tombstones()
            except StoreUnavailable:
                pass   # the store logs an outage once, not every tick
            except Exception:   # the store away for a moment: the next round retries
                log.exception("applying tombstones failed")
            await asyncio.sleep(INTERVAL)
