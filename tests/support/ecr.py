"""ECR images in a running server's store, as the registry's gate records a push.

The ECR API never writes images (pushes do, through `nozama registry`), so the API tests
put them straight into the server's store with store/ecr_images.record_push, and read
the tombstones the API leaves for the registry."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from nozama.model import ecr_names
from nozama.store import Store
from nozama.store import ecr_images, ecr_repositories
from nozama.store.db import sqlite_url

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
ACCOUNT = "000000000000"


def open_store(server) -> Store:
    """The store a NozamaServer runs on, opened in the test's process."""
    args = server.store_args
    url = args[args.index("--database-url") + 1] if "--database-url" in args \
        else sqlite_url(server.data_dir)
    return Store.open(url, migrate=False)


def manifest(seed: str, size: int = 1000) -> str:
    """A schema-2 manifest whose one layer is `size` bytes (its content is `seed`'s)."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 10,
                   "digest": "sha256:" + hashlib.sha256(f"config {seed}".encode()).hexdigest()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": size,
                    "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest()}]})


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def push(store: Store, region: str, repository: str, seed: str, tag: str | None = None,
         pushed_at: datetime | None = None, size: int = 1000) -> str:
    """Record a push of the image `seed` names (tagged `tag`) as the gate would; its
    digest."""
    text = manifest(seed, size)
    digest = digest_of(text)
    with store.write() as conn:
        row = ecr_repositories.get(conn, region, ACCOUNT, repository)
        ecr_images.record_push(conn, row.id, digest, text, MANIFEST_V2, size,
                               pushed_at or datetime.now(timezone.utc), tag)
    return digest


def tombstones(store: Store, region: str, repository: str) -> list[str]:
    """The digests tombstoned for the repository, in the order written."""
    name = ecr_names.registry_name(region, repository)
    with store.read() as conn:
        return [row.digest for row in ecr_images.tombstones(conn, limit=100_000)
                if row.registry_name == name]
