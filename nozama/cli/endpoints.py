"""Where the `nozama` commands reach the API: one endpoint or several.

`--endpoint` is repeatable and takes comma lists, as do AWS_ENDPOINT_URL and
NOZAMA_ENDPOINT. Servers on one store serve the same API, so a command given several
uses the first that answers: a call that meets a connection error or a 503 (a server
gone, or one whose store is away) is made again on the next endpoint, at once, each
endpoint once. Other answers, refusals included, are the command's to report.
(`nozama lb` reads the store itself and takes no endpoint.)
"""

from __future__ import annotations

import argparse
import logging
import os
import urllib.error
import urllib.request
from typing import Callable

from nozama.kernel.endpoints import Endpoints, parse

log = logging.getLogger("nozama.cli")

DEFAULT = "http://127.0.0.1:4566"
API_ENVIRONMENT = ("AWS_ENDPOINT_URL", "NOZAMA_ENDPOINT")


def add_argument(parser: argparse.ArgumentParser, environment=API_ENVIRONMENT,
                 what: str = "Nozama's API") -> None:
    """--endpoint, repeatable; main() resolves it with `resolve`."""
    names = " or ".join(environment)
    parser.add_argument("--endpoint", action="append", metavar="URL",
                        help=f"URL of {what}; several (repeat it, or a comma list) for "
                        f"servers on one store: a call that finds one gone or answering 503 "
                        f"is made on the next (env {names}, a comma list; default {DEFAULT})")
    parser.set_defaults(endpoint_environment=environment)


def resolve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """args.endpoints: the URLs given, else the environment's, else DEFAULT;
    args.endpoint: the first (where one URL is wanted); args.rotation: their Endpoints,
    which the command's calls share. A bad URL is a usage error."""
    environment = getattr(args, "endpoint_environment", None)
    if environment is None:
        return
    given = args.endpoint or next(
        ([os.environ[name]] for name in environment if os.environ.get(name)), [DEFAULT])
    try:
        args.endpoints = parse(given)
    except ValueError as error:
        parser.error(f"--endpoint: {error}")
    args.endpoint = args.endpoints[0]
    args.rotation = Endpoints(args.endpoints)


def moves_on(error: BaseException) -> bool:
    """Whether a call that failed so is made again on the next endpoint."""
    from botocore.exceptions import ClientError, ConnectionClosedError, \
        EndpointConnectionError, ReadTimeoutError
    if isinstance(error, urllib.error.HTTPError):
        return error.code == 503
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 503
    return isinstance(error, (urllib.error.URLError, OSError, EndpointConnectionError,
                              ConnectionClosedError, ReadTimeoutError))


def each(endpoints: Endpoints, call: Callable[[str], object]):
    """`call(url)` on the current endpoint, then on each other one while it fails in a
    way that moves on; the last failure is raised when none answers."""
    for url in endpoints.round():
        try:
            return call(url)
        except Exception as error:  # noqa: BLE001 - moves_on decides; others re-raised
            if not moves_on(error) or len(endpoints) == 1:
                raise
            following = endpoints.failed(url)
            log.warning("%s failed (%s); trying %s", url, error, following)
            last = error
    raise last


def urlopen(endpoints: Endpoints, request: Callable[[str], urllib.request.Request | str],
            timeout: float = 30):
    """urllib's urlopen of `request(url)` built for each endpoint in turn."""
    return each(endpoints, lambda url: urllib.request.urlopen(request(url), timeout=timeout))


class Client:
    """A boto3 client over several endpoints: each API call is made on the current one
    and, when it fails there by a connection error or a 503, on the next. Everything
    else (exceptions, meta) is the current client's."""

    def __init__(self, session, service: str, endpoints: Endpoints):
        import botocore.config
        self._endpoints = endpoints
        # With several endpoints, the next one is a better retry than the same one: one
        # attempt each, and a dead host is given up on quickly.
        config = botocore.config.Config(retries={"total_max_attempts": 1},
                                        connect_timeout=3) if len(endpoints) > 1 else None
        self._clients = {url: session.client(service, endpoint_url=url, config=config)
                         for url in endpoints.urls}

    def __getattr__(self, name: str):
        current = self._clients[self._endpoints.current]
        found = getattr(current, name)
        if name not in current.meta.method_to_api_mapping:
            return found
        return lambda *args, **kwargs: each(
            self._endpoints, lambda url: getattr(self._clients[url], name)(*args, **kwargs))
