"""The ECS credentials endpoint: GET http://169.254.170.2/v2/credentials/<id>.

What the SDKs' container credentials provider asks when a container's environment has
AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. It answers as the ECS agent does: 200 with
{"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"} for the credentials
of that id only; 400 with {"code": "NoIdInRequest"} when the path names no id and with
{"code": "InvalidIdInRequest"} when no task's credentials have that id; 404 for any
other path. The id is 128 random bits, and the task it belongs to is the only one told it.

Every agent of the host listens on 169.254.170.2:80 (SO_REUSEPORT; the agents run as
root, and the kernel spreads connections over their sockets) and answers from the host's
credentials directory (agent/credentials_directory.py), so any of them answers for any task.
The address is put on `lo` if the host lacks it. Docker's bridge routes a container's
packets for it to the host, where it is local; a container in host mode reaches it on
`lo` itself. Where the agent cannot take it (not root, another program holds the port),
it says so and runs on: tasks then run without their role's credentials.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import subprocess

from nozama.agent.credentials_directory import CredentialsDirectory
from nozama.kernel.clock import Clock
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.kernel.http_server import HttpServer
from nozama.model import role_sessions as rules

log = logging.getLogger(__name__)

SWEEP_SECONDS = 300.0
_V1_PATH = "/v1/credentials"


def answer(directory: CredentialsDirectory, request: HttpRequest, now: float) -> HttpResponse:
    """The endpoint's answer to one request."""
    if request.path.startswith(rules.CREDENTIALS_PATH):
        version, credentials_id = 2, request.path[len(rules.CREDENTIALS_PATH):]
    elif request.path == _V1_PATH:       # the first API: the id as a query parameter
        version, credentials_id = 1, request.query.get("id", "")
    else:
        return HttpResponse(404, b"404 page not found\n",
                            {"content-type": "text/plain; charset=utf-8"})
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(405, b"", {"allow": "GET"})
    prefix = f"CredentialsV{version}Request: "
    if not credentials_id:
        return _json(400, {"code": "NoIdInRequest",
                           "message": prefix + "No Credential ID in the request"})
    credentials = directory.read(credentials_id, now)
    if credentials is None:
        return _json(400, {"code": "InvalidIdInRequest",
                           "message": prefix + "Credentials not found"})
    return _json(200, credentials)


def _json(status: int, document: dict) -> HttpResponse:
    return HttpResponse(status, json.dumps(document).encode(),
                        {"content-type": "application/json"})


class CredentialsEndpoint:
    def __init__(self, directory: CredentialsDirectory, clock: Clock,
                 address: str = rules.ENDPOINT_ADDRESS, port: int = rules.ENDPOINT_PORT):
        self.directory = directory
        self.clock = clock
        self.address, self.port = address, port
        self.server: HttpServer | None = None
        self.sweeper: asyncio.Task | None = None

    async def start(self) -> bool:
        """Listen, and sweep expired credentials; whether the endpoint serves."""
        self.sweeper = asyncio.ensure_future(self._sweep_forever())
        server = HttpServer(lambda request: answer(self.directory, request, self.clock.time()),
                            max_body=4096, clock=self.clock)
        try:
            try:
                await server.start(self.address, self.port, reuse_port=True)
            except OSError as error:
                # Only ECS's own address is ever added to the host.
                if error.errno != errno.EADDRNOTAVAIL or self.address != rules.ENDPOINT_ADDRESS \
                        or not await _add_address(self.address):
                    raise
                await server.start(self.address, self.port, reuse_port=True)
        except OSError as error:
            log.error("cannot serve task credentials on %s:%d (%s): tasks with a task role "
                      "get no credentials on this host", self.address, self.port, error)
            return False
        self.server = server
        log.info("serving task credentials on %s:%d", self.address, server.port)
        return True

    async def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
        if self.server is not None:
            await self.server.stop()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                removed = self.directory.sweep(self.clock.time())
                if removed:
                    log.info("removed %d expired task credentials", removed)
            except OSError as error:
                log.warning("sweeping expired task credentials failed: %s", error)
            await asyncio.sleep(SWEEP_SECONDS)


async def _add_address(address: str) -> bool:
    """Put `address`/32 on `lo` (root only); whether the host has it now. Another agent
    adding it at the same moment is as good."""
    def add() -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"],
                              capture_output=True, text=True, timeout=10)
    try:
        done = await asyncio.get_running_loop().run_in_executor(None, add)
    except (OSError, subprocess.SubprocessError) as error:
        log.error("cannot add %s to lo (%s)", address, error)
        return False
    if done.returncode != 0 and "File exists" not in done.stderr:
        log.error("cannot add %s to lo: %s", address, done.stderr.strip())
        return False
    log.info("added %s/32 to lo for the task credentials endpoint", address)
    return True
