"""The agent's end of its channel to the control plane: register, long-poll, report.

Plain HTTP/1.1 with JSON bodies under /_nozama/agent/v1/ on the API endpoint,
spoken directly over asyncio streams: a long poll is then just an awaiting
coroutine (no thread held), and stopping the agent cancels it at once. Each call
carries `X-Nozama-Client: agent`, which the control plane wants on its own
state-changing endpoints (a web page cannot send it cross-site: api/guard.py).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from urllib.parse import urlsplit


class ChannelError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code


class Channel:
    def __init__(self, endpoint: str, ca_bundle: str | None = None):
        url = urlsplit(endpoint)
        self.host = url.hostname or "127.0.0.1"
        # HTTPS verifies the control plane's certificate against `ca_bundle` (the root
        # `nozama ca` prints), else the system's roots.
        self.tls = ssl.create_default_context(cafile=ca_bundle or None) \
            if url.scheme == "https" else None
        self.port = url.port or (443 if self.tls else 80)
        self.prefix = url.path.rstrip("/") + "/_nozama/agent/v1/"

    async def call(self, operation: str, body: dict, timeout: float = 10.0) -> dict:
        """POST `body` to the operation; OSError when the control plane can't be reached."""
        try:
            return await asyncio.wait_for(self._post(operation, body), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no answer to {operation} within {timeout}s") from None

    async def _post(self, operation: str, body: dict) -> dict:
        payload = json.dumps(body).encode()
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
        try:
            writer.write(
                f"POST {self.prefix}{operation} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "X-Nozama-Client: agent\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode() + payload)
            await writer.drain()
            status, headers = await _read_head(reader)
            length = int(headers.get("content-length", "0"))
            data = await reader.readexactly(length) if length else await reader.read()
        except (asyncio.IncompleteReadError, ValueError) as error:
            raise ConnectionError(f"bad answer from the control plane: {error}") from None
        finally:
            writer.close()
        document = json.loads(data or b"{}")
        if status >= 400:
            raise ChannelError(status, document.get("__type", "HTTPError"),
                               document.get("message", ""))
        return document


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status_line = await reader.readline()
    parts = status_line.split()
    if len(parts) < 2:
        raise ConnectionError("the control plane closed the connection")
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers
