"""The agent's end of its channel to the control plane: register, long-poll, report.

Plain HTTP/1.1 with JSON bodies under /_nozama/agent/v1/ on the API endpoint,
spoken directly over asyncio streams: a long poll is then just an awaiting
coroutine (no thread held), and stopping the agent cancels it at once. Each call
is signed with the agent's own key (SigV4 for "ecs" in the agent's region, as the ECS
agent signs its calls), which a control plane with auth on verifies and authorizes
(api/own_routes.py). Each also carries `X-Nozama-Client: agent`, which a control
plane with auth off wants on its state-changing endpoints instead (api/guard.py).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from urllib.parse import urlsplit

from nozama.kernel.sigv4_signing import signed_headers

# What a control plane answers a key it does not take (api/auth.py, JSON family).
KEY_REFUSALS = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
    "IncompleteSignatureException", "MissingAuthenticationTokenException",
    "MissingAuthenticationToken", "AccessDeniedException"})


class ChannelError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code

    @property
    def refuses_key(self) -> bool:
        """The control plane does not take the agent's key (unknown, inactive, expired,
        or not allowed to act as an agent)."""
        return self.code in KEY_REFUSALS


class Channel:
    def __init__(self, endpoint: str, ca_bundle: str | None = None,
                 credentials=None, region: str = "us-east-1"):
        url = urlsplit(endpoint)
        self.host = url.hostname or "127.0.0.1"
        # HTTPS verifies the control plane's certificate against `ca_bundle` (the root
        # `nozama ca` prints), else the system's roots.
        self.tls = ssl.create_default_context(cafile=ca_bundle or None) \
            if url.scheme == "https" else None
        self.port = url.port or (443 if self.tls else 80)
        self.scheme = url.scheme or "http"
        self.prefix = url.path.rstrip("/") + "/_nozama/agent/v1/"
        # The agent's key (agent/credentials.py), or None for a control plane with auth
        # off.
        self.credentials = credentials
        self.region = region

    @property
    def key_id(self) -> str | None:
        return self.credentials.access_key if self.credentials is not None else None

    async def call(self, operation: str, body: dict, timeout: float = 10.0) -> dict:
        """POST `body` to the operation; OSError when the control plane can't be reached."""
        try:
            return await asyncio.wait_for(self._post(operation, body), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no answer to {operation} within {timeout}s") from None

    def _headers(self, path: str, payload: bytes) -> dict[str, str]:
        headers = {"Host": f"{self.host}:{self.port}", "X-Nozama-Client": "agent",
                   "Content-Type": "application/json"}
        if self.credentials is None:
            return headers
        return signed_headers("POST", path, headers, payload, self.credentials,
                              self.region, "ecs")

    async def _post(self, operation: str, body: dict) -> dict:
        payload = json.dumps(body).encode()
        path = f"{self.prefix}{operation}"
        headers = self._headers(path, payload)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(payload)}\r\n"
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


def key_refused(channel: Channel, error: ChannelError) -> str:
    """What an agent says when the control plane does not take its key."""
    key = channel.key_id or "(none: the agent signs nothing without credentials)"
    return (f"the control plane refused this agent's key {key} ({error}). Give the agent "
            "an active access key whose policy allows the ECS agent's actions, such as the "
            "managed policy AmazonEC2ContainerServiceforEC2Role (environment "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or --credentials-file)")
