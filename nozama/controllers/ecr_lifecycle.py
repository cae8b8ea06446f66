"""Applying ECR lifecycle policies: every INTERVAL, and at once after a
PutLifecyclePolicy (wake_lifecycle), each repository's policy expires the images it
selects, deleted exactly as BatchDeleteImage deletes them (controllers/ecr_images.py),
and its lastEvaluatedAt is set.

ECR applies policies within 24 hours; Nozama does it within INTERVAL, which tests and
users can rely on. Every server of a store runs the loop: each pass is one transaction
per repository, and a pass that finds the images already gone does nothing."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import Row

from nozama.controllers import ecr_images
from nozama.kernel.clock import Clock
from nozama.kernel.intervals import scaled
from nozama.kernel.wakeups import Wakeups
from nozama.model import ecr_lifecycle
from nozama.store import Store
from nozama.store import ecr_images as image_store
from nozama.store import ecr_repositories as repository_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

INTERVAL = scaled(10.0)
TOPIC = "ecr-lifecycle"


def wake_lifecycle(wakeups: Wakeups) -> None:
    """A policy changed: evaluate now, not at the next interval."""
    wakeups.wake(TOPIC)


def images_of(conn, repository: Row) -> list[ecr_lifecycle.Image]:
    tags = image_store.tags_by_image(conn, repository.id)
    return [ecr_lifecycle.Image(image.digest, tuple(tags.get(image.id, [])),
                                _aware(image.pushed_at))
            for image in image_store.images_of(conn, repository.id)]


def _aware(value: datetime) -> datetime:
    # SQLite gives stored times back naive; they are UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def apply(store: Store, clock: Clock, repository_id: int) -> list[str]:
    """Apply one repository's policy now; the digests it expired."""
    now = clock.now()
    with store.write() as conn:
        repository = repository_store.get_by_id(conn, repository_id)
        if repository is None or repository.lifecycle_policy is None:
            return []
        try:
            rules = ecr_lifecycle.parse(repository.lifecycle_policy)
        except ecr_lifecycle.PolicyError:
            # PutLifecyclePolicy writes only valid policies; never act on another.
            log.warning("repository %s has an invalid lifecycle policy", repository.arn)
            return []
        expired = ecr_lifecycle.expired(rules, images_of(conn, repository), now)
        for image, _ in expired:
            row = image_store.by_digest(conn, repository.id, image.digest)
            if row is not None:
                ecr_images.delete_image(conn, repository, row, now)
        repository_store.set_lifecycle_evaluated(conn, repository.id, now)
    if expired:
        log.info("lifecycle policy of %s expired %d image(s)", repository.arn, len(expired))
    return [image.digest for image, _ in expired]


def step(store: Store, clock: Clock) -> None:
    with store.read() as conn:
        ids = [row.id for row in repository_store.with_lifecycle_policy(conn)]
    for repository_id in ids:
        apply(store, clock, repository_id)


async def run(store: Store, clock: Clock, wakeups: Wakeups) -> None:
    while True:
        try:
            step(store, clock)
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:
            log.exception("applying ECR lifecycle policies failed")
        await wakeups.wait(TOPIC, timeout=INTERVAL)
