"""The agent's end of its channel to the control plane: register, long-poll, report.

Plain HTTP/1.1 with JSON bodies under /_nozama/agent/v1/ on the API endpoint,
spoken directly over asyncio streams: a long poll is then just an awaiting
coroutine (no thread held), and stopping the agent cancels it at once. Each call
is signed with the agent's own key (SigV4 for "ecs" in the agent's region, as the ECS
agent signs its calls), which a control plane with auth on verifies and authorizes
(api/own_routes.py). Each also carries `X-Nozama-Client: agent`, which a control
plane with auth off wants on its state-changing endpoints instead (api/guard.py).

Given several endpoints (servers on one store), the channel stays on one and moves to
the next when a call fails there; the agent's tasks run on meanwhile (see Channel).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from urllib.parse import urlsplit

from nozama.kernel.endpoints import Endpoints
from nozama.kernel.sigv4_signing import signed_headers

log = logging.getLogger(__name__)

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


class _Target:
    """Where one endpoint is reached: host, port, TLS and the agent API's path."""

    def __init__(self, endpoint: str, ca_bundle: str | None):
        url = urlsplit(endpoint)
        self.endpoint = endpoint
        self.host = url.hostname or "127.0.0.1"
        # HTTPS verifies the control plane's certificate against `ca_bundle` (the root
        # `nozama ca` prints), else the system's roots.
        self.tls = ssl.create_default_context(cafile=ca_bundle or None) \
            if url.scheme == "https" else None
        self.port = url.port or (443 if self.tls else 80)
        self.prefix = url.path.rstrip("/") + "/_nozama/agent/v1/"


def moves_on(error: BaseException) -> bool:
    """Whether a call that failed so is tried on the next endpoint: this server is gone,
    hangs, or says it cannot serve now (503: its store is away, or it is stopping)."""
    if isinstance(error, ChannelError):
        return error.status == 503
    return isinstance(error, OSError)       # TimeoutError and ConnectionError are OSErrors


class Channel:
    """Calls to the control plane on its current endpoint (kernel/endpoints.py). A call
    that fails there (moves_on) is tried at once on each other endpoint, one round; if
    all fail the last error is raised and the agent's own backoff waits before the next
    round. Whatever else the agent calls on the control plane (log shipping, ECR tokens)
    follows `endpoints.current`."""

    def __init__(self, endpoints: "str | list[str] | Endpoints", ca_bundle: str | None = None,
                 credentials=None, region: str = "us-east-1"):
        self.endpoints = Endpoints.of(endpoints)
        self._targets = {url: _Target(url, ca_bundle) for url in self.endpoints.urls}
        # The agent's key (agent/credentials.py), or None for a control plane with auth
        # off.
        self.credentials = credentials
        self.region = region

    @property
    def key_id(self) -> str | None:
        return self.credentials.access_key if self.credentials is not None else None

    async def call(self, operation: str, body: dict, timeout: float = 10.0) -> dict:
        """POST `body` to the operation; OSError (or a 503's ChannelError) when no
        endpoint answers."""
        for url in self.endpoints.round():
            try:
                return await self._call_one(self._targets[url], operation, body, timeout)
            except (OSError, ChannelError) as error:
                if not moves_on(error):
                    raise
                following = self.endpoints.failed(url)
                if len(self.endpoints) > 1:
                    log.warning("%s failed on %s (%s); moving to %s", operation, url,
                                error, following)
                last = error
        raise last

    async def _call_one(self, target: _Target, operation: str, body: dict,
                        timeout: float) -> dict:
        try:
            return await asyncio.wait_for(self._post(target, operation, body), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no answer to {operation} from {target.endpoint} "
                               f"within {timeout}s") from None

    def _headers(self, target: _Target, path: str, payload: bytes) -> dict[str, str]:
        headers = {"Host": f"{target.host}:{target.port}", "X-Nozama-Client": "agent",
                   "Content-Type": "application/json"}
        if self.credentials is None:
            return headers
        return signed_headers("POST", path, headers, payload, self.credentials,
                              self.region, "ecs")

    async def _post(self, target: _Target, operation: str, body: dict) -> dict:
        payload = json.dumps(body).encode()
        path = f"{target.prefix}{operation}"
        headers = self._headers(target, path, payload)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        reader, writer = await asyncio.open_connection(target.host, target.port,
                                                       ssl=target.tls)
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
        try:
            document = json.loads(data or b"{}")
        except ValueError:
            document = {}       # a proxy's HTML error page, say
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
