"""HAProxy's runtime API (its stats socket): what changes without a reload.

Each call opens a connection, sends one line of commands separated by `;` and
reads the answer to the end, as the non-interactive CLI works. Lines stay well
under HAProxy's buffer (16 KB), so long work (a map's entries) is split over
several connections; a map is replaced atomically with a prepared version.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging

log = logging.getLogger(__name__)

MAX_LINE = 8000
TIMEOUT = 5.0


class Refused(Exception):
    """HAProxy refused a runtime command."""


class Runtime:
    def __init__(self, socket_path: str):
        self.socket_path = socket_path

    async def run(self, *commands: str) -> str:
        """The answer to commands sent on one line."""
        line = "; ".join(commands)
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(self.socket_path), TIMEOUT)
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            writer.write_eof()
            return (await asyncio.wait_for(reader.read(), TIMEOUT)).decode(errors="replace")
        finally:
            writer.close()

    async def run_all(self, commands: list[str]) -> str:
        """Many commands, in as few connections as the line length allows."""
        answers, batch, size = [], [], 0
        for command in commands:
            if batch and size + len(command) > MAX_LINE:
                answers.append(await self.run(*batch))
                batch, size = [], 0
            batch.append(command)
            size += len(command) + 2
        if batch:
            answers.append(await self.run(*batch))
        return "".join(answers)

    async def alive(self) -> bool:
        try:
            return "Name:" in await self.run("show info")
        except (OSError, asyncio.TimeoutError):
            return False

    async def servers(self) -> dict[str, dict[str, int]]:
        """By backend, its servers' administrative state bits (1: maintenance set by the
        configuration, 32: set at runtime)."""
        found: dict[str, dict[str, int]] = {}
        for line in (await self.run("show servers state")).splitlines():
            parts = line.split()
            if len(parts) < 7 or not parts[0].isdigit():
                continue
            found.setdefault(parts[1], {})[parts[3]] = int(parts[6])
        return found

    async def stats(self) -> list[dict[str, str]]:
        """`show stat` as rows: pxname, svname (FRONTEND, BACKEND or a server), scur..."""
        text = await self.run("show stat")
        text = text.lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    async def replace_map(self, path: str, entries: list[tuple[str, str]]) -> None:
        answer = await self.run(f"prepare map {path}")
        if "New version created:" not in answer:
            raise Refused(f"prepare map {path}: {answer.strip()}")
        version = answer.rsplit(":", 1)[1].strip()
        await self.run_all([f"add map @{version} {path} {key} {value}"
                            for key, value in entries])
        answer = await self.run(f"commit map @{version} {path}")
        if answer.strip():
            raise Refused(f"commit map {path}: {answer.strip()}")

    async def events(self, ring: str, worker: int, batch_seconds: float = 0.0):
        """New lines of a ring of worker `worker`, as they come, until it goes away. (Right
        after a reload, a connection may still reach the old worker: it is not used.)
        Between two reads the socket is left alone for `batch_seconds`: lines gather in
        it, and one read of a thousand costs both sides what a read of a few does."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(self.socket_path, limit=1 << 20), TIMEOUT)
        try:
            writer.write(f"show info; show events {ring} -w -n\n".encode())
            await writer.drain()
            info = await asyncio.wait_for(reader.readuntil(b"\n\n"), TIMEOUT)
            if f"\nPid: {worker}\n".encode() not in info:
                raise WrongWorker(worker)
            while True:
                chunk = await reader.read(1 << 20)
                if not chunk:
                    return
                while not chunk.endswith(b"\n"):
                    more = await reader.read(1 << 20)
                    if not more:
                        break
                    chunk += more
                yield chunk
                if batch_seconds:
                    writer.transport.pause_reading()
                    await asyncio.sleep(batch_seconds)
                    writer.transport.resume_reading()
        finally:
            writer.close()


class WrongWorker(Exception):
    """The runtime socket answered from another worker than the one asked for."""
