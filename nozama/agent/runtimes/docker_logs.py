"""The awslogs log driver, done by the runtime: container output → Nozama's Logs API.

A container with `logDriver: awslogs` runs with Docker's json-file driver; a
shipper follows its output (stdout and stderr, with Docker's timestamps) and
sends it line by line with PutLogEvents, in batches flushed at least every
second. The Logs API may be down or slow: the shipper retries with backoff and
drops the oldest lines past a bound, but never fails the container — logging
must not be the reason a task stops.

Each shipper uses two threads (the Docker SDK and botocore block): one reads
the log stream, one batches and sends.
"""

from __future__ import annotations

import collections
import logging
import threading
from datetime import datetime, timezone

import botocore.config
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from nozama.agent.runtimes.docker_config import AwsLogs
from nozama.kernel.clock import Clock
from nozama.kernel.endpoints import Endpoints

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0            # seconds between sends at most
MAX_BATCH_EVENTS = 1000         # under PutLogEvents' 10,000-event limit
MAX_BATCH_BYTES = 512 * 1024    # under its 1 MiB limit (each event counts 26 extra bytes)
MAX_QUEUED_EVENTS = 100_000     # past this the oldest lines are dropped
MAX_BACKOFF = 10.0
FINAL_FLUSH_SECONDS = 30.0      # how long an exited container's last lines are retried
STOP_FLUSH_SECONDS = 1.0        # and the queued lines when the agent stops
PLACEHOLDER_CREDENTIALS = {"aws_access_key_id": "AKIDNOZAMAAGENT", "aws_secret_access_key": "nozama"}


class LogsClients:
    """botocore `logs` clients for Nozama's current endpoint, one per region (clients are
    thread-safe; creating them is not, hence the lock)."""

    def __init__(self, endpoint, credentials=None):
        # One URL or the agent's Endpoints: shipping follows the channel's current one.
        self.endpoints = Endpoints.of(endpoint)
        # The agent's own key signs the shipping (logs:CreateLogStream, PutLogEvents);
        # without one, a placeholder that only a control plane with auth off accepts.
        self.credentials = credentials
        self._session = botocore.session.get_session()
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def get(self, region: str):
        with self._lock:
            endpoint = self.endpoints.current
            if (region, endpoint) not in self._clients:
                self._clients[region, endpoint] = self._session.create_client(
                    "logs", region_name=region, endpoint_url=endpoint,
                    config=botocore.config.Config(retries={"max_attempts": 1},
                                                  connect_timeout=2, read_timeout=10),
                    **self._keys())
            return self._clients[region, endpoint]

    def _keys(self) -> dict:
        if self.credentials is None:
            return PLACEHOLDER_CREDENTIALS
        return {"aws_access_key_id": self.credentials.access_key,
                "aws_secret_access_key": self.credentials.secret_key,
                "aws_session_token": self.credentials.token}


def parse_line(line: str, clock: Clock) -> tuple[int, str]:
    """A `docker logs --timestamps` line → (milliseconds since the epoch, message); a line
    without a readable stamp is stamped now."""
    stamp, _, message = line.partition(" ")
    try:
        return _epoch_millis(stamp), message
    except ValueError:
        return int(clock.time() * 1000), line


def _epoch_millis(stamp: str) -> int:
    # RFC 3339 with nanoseconds ("2024-05-01T12:00:00.123456789Z"); keep microseconds.
    if not stamp.endswith("Z"):
        raise ValueError(stamp)
    main, _, fraction = stamp[:-1].partition(".")
    moment = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return int(moment.timestamp()) * 1000 + micros // 1000


class ContainerLogShipper:
    """Ships one container's output to one log stream."""

    def __init__(self, docker_client, container_id: str, target: AwsLogs, clients: LogsClients,
                 clock: Clock, resume: bool = False):
        self.docker = docker_client
        self.clock = clock
        self.container_id = container_id
        self.target = target
        self.clients = clients
        self.resume = resume          # adopted: continue after the last line shipped
        self._events: collections.deque[tuple[int, str]] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failed = False         # a send failed already (warned once)
        self._reader_done = threading.Event()
        self._stream = None
        self._threads = [threading.Thread(target=self._read, daemon=True,
                                          name=f"logs-read-{container_id[:12]}"),
                         threading.Thread(target=self._send, daemon=True,
                                          name=f"logs-send-{container_id[:12]}")]

    def start(self) -> "ContainerLogShipper":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = STOP_FLUSH_SECONDS + 0.5) -> None:
        """Stop following (the agent is closing); send what is queued if quick. The
        threads are daemons: one still in a call after `timeout` is left behind."""
        self._stop.set()
        self._wake.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - the socket may be gone already
                pass
        deadline = self.clock.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock.monotonic()))

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)

    # --- reading ------------------------------------------------------------

    def _read(self) -> None:
        try:
            since_millis = self._resume_point() if self.resume else None
            since = None if since_millis is None else since_millis / 1000
            self._stream = self.docker.api.logs(self.container_id, stream=True, follow=True,
                                                timestamps=True, since=since)
            for frame in self._stream:
                self._enqueue(frame, since_millis)
                if self._stop.is_set():
                    break
        except Exception as error:  # noqa: BLE001 - a vanished container, a closed socket
            if not self._stop.is_set():
                log.info("log stream of %s ended: %s", self.container_id[:12], error)
        finally:
            self._reader_done.set()
            self._wake.set()

    def _enqueue(self, frame: bytes, after_millis: int | None) -> None:
        for line in frame.decode("utf-8", "replace").splitlines():
            millis, message = parse_line(line, self.clock)
            if not message or (after_millis is not None and millis <= after_millis):
                continue   # PutLogEvents refuses empty messages; older lines were shipped
            with self._lock:
                if len(self._events) >= MAX_QUEUED_EVENTS:
                    self._events.popleft()
                self._events.append((millis, message))
        self._wake.set()

    def _resume_point(self) -> int:
        """The timestamp of the last event already in the stream, else now."""
        for attempt in range(3):
            try:
                page = self.clients.get(self.target.region).get_log_events(
                    logGroupName=self.target.group, logStreamName=self.target.stream,
                    startFromHead=False, limit=1)
                events = page.get("events") or []
                return events[-1]["timestamp"] if events else 0
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFoundException":
                    return 0          # nothing shipped yet
            except BotoCoreError:
                pass
            if self._stop.wait(0.5 * 2 ** attempt):
                break
        return int(self.clock.time() * 1000)

    # --- sending ------------------------------------------------------------

    def _send(self) -> None:
        ready = False
        backoff = 0.25
        final_deadline = None
        while True:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            finished = self._reader_done.is_set() or self._stop.is_set()
            if finished and final_deadline is None:
                final_deadline = self.clock.monotonic() + (
                    STOP_FLUSH_SECONDS if self._stop.is_set() else FINAL_FLUSH_SECONDS)
            try:
                if not ready:
                    self._ensure_stream()
                    ready = True
                while self._send_batch():
                    pass
                backoff = 0.25
            except (ClientError, BotoCoreError) as error:
                # The first failure is a warning (a key without logs:CreateLogGroup, say);
                # its retries are not.
                log.log(logging.WARNING if not self._failed else logging.INFO,
                        "shipping logs of %s to %s/%s failed: %s", self.container_id[:12],
                        self.target.group, self.target.stream, error)
                self._failed = True
                if final_deadline is None:
                    self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            if finished and (not self._events or self.clock.monotonic() > final_deadline):
                return

    def _ensure_stream(self) -> None:
        client = self.clients.get(self.target.region)
        if self.target.create_group:
            _ignore_exists(client.create_log_group, logGroupName=self.target.group)
        _ignore_exists(client.create_log_stream, logGroupName=self.target.group,
                       logStreamName=self.target.stream)

    def _send_batch(self) -> bool:
        """Send up to one batch; True if more are waiting."""
        with self._lock:
            batch, size = [], 0
            for millis, message in self._events:
                size += len(message.encode()) + 26
                if batch and (len(batch) >= MAX_BATCH_EVENTS or size > MAX_BATCH_BYTES):
                    break
                batch.append((millis, message))
        if not batch:
            return False
        batch.sort(key=lambda event: event[0])     # stdout and stderr may interleave
        self.clients.get(self.target.region).put_log_events(
            logGroupName=self.target.group, logStreamName=self.target.stream,
            logEvents=[{"timestamp": millis, "message": text} for millis, text in batch])
        with self._lock:
            for _ in batch:
                self._events.popleft()
            return bool(self._events)


def _ignore_exists(call, **kwargs) -> None:
    try:
        call(**kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
