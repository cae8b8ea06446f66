"""Requests, and continuous load, through the load balancer's data plane (`nozama lb`)
on a load balancer's own loopback address."""

from __future__ import annotations

import collections
import http.client
import socket
import threading
import time

from .networks import subnets_of
from .waiting import wait_for

PORT = 8080  # on the load balancer's own loopback address


def load_balancer(elb, name: str) -> tuple[str, str]:
    """A new load balancer's ARN, and its address as its DNS name resolves here."""
    lb = elb.create_load_balancer(Name=name, Subnets=subnets_of(elb))["LoadBalancers"][0]
    address = wait_for(lambda: resolve(lb["DNSName"]))
    assert address.startswith("127.77.")
    return lb["LoadBalancerArn"], address


def resolve(name: str) -> str | None:
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None


def get(address: str, path: str = "/", method: str = "GET", body: bytes | None = None,
        headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(address, PORT, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        # Header names by their lower case, as HTTP compares them (HAProxy writes them so).
        return response.status, {k.lower(): v for k, v in response.getheaders()}, \
            response.read()
    finally:
        connection.close()


def wait_serving(address: str, status: int = 200, path: str = "/") -> None:
    """Wait until the listener on PORT answers `path` with `status` (a listener takes a
    moment to be bound after it is created)."""
    def answers() -> bool:
        try:
            return get(address, path)[0] == status
        except OSError:
            return False
    wait_for(answers)


class Load:
    """Clients that keep sending requests and record every response."""

    def __init__(self, address: str, clients: int = 6, path: str = "/", port: int = PORT):
        self.address, self.path, self.port = address, path, port
        self.stop = threading.Event()
        self.results: collections.Counter = collections.Counter()
        self.failures: list = []
        self.failed_at: list[float] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, daemon=True)
                        for _ in range(clients)]

    def __enter__(self) -> "Load":
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.seconds = time.monotonic() - self.started

    def _client(self) -> None:
        connection = http.client.HTTPConnection(self.address, self.port, timeout=10)
        while not self.stop.is_set():
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                body = response.read()
                outcome = (response.status, body.split()[0]) if response.status == 200 \
                    else (response.status, body[:60])
            except (OSError, http.client.HTTPException) as error:
                outcome = ("error", repr(error))
                connection.close()
                connection = http.client.HTTPConnection(self.address, self.port, timeout=10)
            with self.lock:
                self.results[outcome] += 1
                if outcome[0] != 200:
                    self.failures.append(outcome)
                    self.failed_at.append(time.monotonic())
        connection.close()

    @property
    def total(self) -> int:
        return sum(self.results.values())
