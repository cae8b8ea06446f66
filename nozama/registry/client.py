"""Calls to Distribution's HTTP API on its loopback port: the gate's forwarded manifest
PUTs, and Nozama's own admin calls (deletes, re-tags, the catalog and tag lists) made with
a token whose subject is `nozama`.

Blocking http.client calls, run on a thread by the async callers: they are few and small
(manifests are at most 4 MiB), and Distribution is on this host.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlsplit

from nozama.registry import tokens

# What a GET of a manifest accepts: every manifest kind ECR stores.
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws"])
TIMEOUT = 60.0


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]    # lower-case names
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def call(base_url: str, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    """One request to Distribution (blocking)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


class RegistryError(Exception):
    """Distribution answered an admin call with an unexpected status."""


def _path(name: str, *rest: str) -> str:
    return "/v2/" + quote(name) + "/" + "/".join(quote(part, safe=":") for part in rest)


class Admin:
    """Nozama's own calls to Distribution, each with a token for exactly what it does."""

    def __init__(self, base_url: str, token: Callable[[list[dict]], str]):
        self.base_url = base_url
        self._token = token     # access claims -> a JWT (tokens.mint, subject `nozama`)

    async def _call(self, access: list[dict], method: str, path: str, body: bytes | None = None,
                    headers: dict[str, str] | None = None) -> Reply:
        headers = {**(headers or {}), "Authorization": f"Bearer {self._token(access)}"}
        return await asyncio.to_thread(call, self.base_url, method, path, body, headers)

    async def catalog(self) -> list[str]:
        names, last = [], ""
        while True:
            query = "?n=1000" + (f"&last={quote(last)}" if last else "")
            reply = await self._call([tokens.CATALOG_ACCESS], "GET", "/v2/_catalog" + query)
            if reply.status != 200:
                raise RegistryError(f"GET /v2/_catalog: {reply.status} {reply.body[:300]!r}")
            page = (reply.json() or {}).get("repositories") or []
            names += page
            if len(page) < 1000:
                return names
            last = page[-1]

    async def tags(self, name: str) -> list[str]:
        """The tags of a repository; none for one Distribution does not know."""
        reply = await self._call([tokens.repository_access(name, ["pull"])], "GET",
                                 _path(name, "tags", "list"))
        if reply.status == 404:
            return []
        if reply.status != 200:
            raise RegistryError(f"tags of {name}: {reply.status} {reply.body[:300]!r}")
        return (reply.json() or {}).get("tags") or []

    async def get_manifest(self, name: str, reference: str) -> Reply | None:
        """The manifest (body, Content-Type, Docker-Content-Digest), None if unknown."""
        reply = await self._call([tokens.repository_access(name, ["pull"])], "GET",
                                 _path(name, "manifests", reference),
                                 headers={"Accept": MANIFEST_TYPES})
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise RegistryError(f"manifest {name}:{reference}: {reply.status} "
                                f"{reply.body[:300]!r}")
        return reply

    async def delete_manifest(self, name: str, digest: str) -> bool:
        """Delete a manifest (and so every tag naming it): False if it was not there."""
        reply = await self._call([tokens.repository_access(name, ["delete"])], "DELETE",
                                 _path(name, "manifests", digest))
        if reply.status in (404,):
            return False
        if reply.status != 202:
            raise RegistryError(f"delete {name}@{digest}: {reply.status} {reply.body[:300]!r}")
        return True

    async def put_manifest(self, name: str, reference: str, manifest: bytes,
                           media_type: str) -> None:
        reply = await self._call([tokens.repository_access(name, ["pull", "push"])], "PUT",
                                 _path(name, "manifests", reference), manifest,
                                 {"Content-Type": media_type})
        if reply.status != 201:
            raise RegistryError(f"put {name}:{reference}: {reply.status} {reply.body[:300]!r}")
