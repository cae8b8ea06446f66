"""Clients given several endpoints (kernel/endpoints.py, agent/channel.py,
cli/endpoints.py): they stay on one and move to the next on a connection error, a
timeout or a 503, one round at once; other answers are not retried elsewhere."""

import argparse
import asyncio
import urllib.error
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from nozama.agent.channel import Channel, ChannelError
from nozama.agent.registry_pull import EcrAuthorizations
from nozama.agent.runtimes.docker_logs import LogsClients
from nozama.cli import endpoints as cli_endpoints
from nozama.kernel.endpoints import Endpoints, parse

A, B, C = "http://10.0.0.1:4566", "http://10.0.0.2:4566", "https://api.example:443"


def test_parse_takes_comma_lists_and_repeats_in_order():
    assert parse(f"{A}, {B}/,{A}") == [A, B]
    assert parse([f"{A},{B}", C]) == [A, B, C]
    with pytest.raises(ValueError, match="'10.0.0.1:4566' is not an http"):
        parse("10.0.0.1:4566")
    with pytest.raises(ValueError, match="no endpoint"):
        parse(" , ")


def test_a_failure_seen_late_does_not_skip_the_live_endpoint():
    endpoints = Endpoints([A, B, C])
    assert endpoints.failed(A) == B
    # A second call that was in flight on A fails after the move: B stays current.
    assert endpoints.failed(A) == B
    assert endpoints.round() == [B, C, A]


class FakeTransport:
    """Channel._post replaced: each endpoint answers from its script."""

    def __init__(self, **behaviour):
        self.behaviour, self.calls = behaviour, []

    async def __call__(self, target, operation, body):
        self.calls.append(target.endpoint)
        outcome = self.behaviour[target.endpoint]
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "hang":
            await asyncio.sleep(10)
        return {"answeredBy": target.endpoint}


def channel_with(monkeypatch, behaviour: dict) -> tuple[Channel, FakeTransport]:
    channel = Channel([A, B])
    transport = FakeTransport()
    transport.behaviour = behaviour
    monkeypatch.setattr(channel, "_post", transport)
    return channel, transport


@pytest.mark.parametrize("failure", [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionError("the control plane closed the connection"),
    ChannelError(503, "ServiceUnavailableException", "the store is unavailable"),
    "hang"])
def test_the_channel_moves_on_at_once_and_stays_on_the_survivor(monkeypatch, failure):
    channel, transport = channel_with(monkeypatch, {A: failure, B: "ok"})

    async def calls():
        first = await channel.call("poll", {}, timeout=0.2)
        second = await channel.call("state", {}, timeout=0.2)
        return first, second

    first, second = asyncio.run(calls())
    assert first == second == {"answeredBy": B}
    assert channel.endpoints.current == B
    assert transport.calls == [A, B, B]      # the dead one is not asked again


def test_a_refusal_is_not_tried_elsewhere(monkeypatch):
    refusal = ChannelError(400, "ContainerInstanceUnknown", "no such instance")
    channel, transport = channel_with(monkeypatch, {A: refusal, B: "ok"})
    with pytest.raises(ChannelError, match="ContainerInstanceUnknown"):
        asyncio.run(channel.call("register", {}))
    assert transport.calls == [A] and channel.endpoints.current == A


def test_when_every_endpoint_fails_the_last_error_goes_to_the_agents_backoff(monkeypatch):
    channel, transport = channel_with(monkeypatch, {
        A: ConnectionRefusedError(111, "refused"),
        B: ChannelError(503, "ServiceUnavailableException", "stopping")})
    with pytest.raises(ChannelError) as raised:
        asyncio.run(channel.call("poll", {}))
    assert raised.value.status == 503
    assert transport.calls == [A, B]         # one round, each once, no waiting
    # The next round starts where the first left off, and finds A back.
    transport.behaviour = {A: "ok", B: ConnectionRefusedError(111, "refused")}
    assert asyncio.run(channel.call("poll", {})) == {"answeredBy": A}


def test_log_shipping_and_ecr_tokens_follow_the_channels_current_endpoint():
    channel = Channel([A, B])
    logs = LogsClients(channel.endpoints)
    tokens = EcrAuthorizations(channel.endpoints, call=lambda region: {})
    assert logs.get("us-east-1").meta.endpoint_url == A and tokens.endpoint == A
    channel.endpoints.failed(A)
    assert logs.get("us-east-1").meta.endpoint_url == B and tokens.endpoint == B


def cli_args(argv: list[str], environ: dict, monkeypatch) -> argparse.Namespace:
    for name in cli_endpoints.API_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    cli_endpoints.add_argument(parser)
    args = parser.parse_args(argv)
    cli_endpoints.resolve(args, parser)
    return args


def test_the_cli_takes_repeated_and_comma_separated_endpoints(monkeypatch):
    args = cli_args(["--endpoint", A, "--endpoint", f"{B},{C}"], {}, monkeypatch)
    assert args.endpoints == [A, B, C] and args.endpoint == A
    assert cli_args([], {"NOZAMA_ENDPOINT": f"{B},{A}"}, monkeypatch).endpoints == [B, A]
    assert cli_args([], {"AWS_ENDPOINT_URL": C, "NOZAMA_ENDPOINT": A},
                    monkeypatch).endpoints == [C]
    assert cli_args([], {}, monkeypatch).endpoints == ["http://127.0.0.1:4566"]
    with pytest.raises(SystemExit):
        cli_args(["--endpoint", "api:4566"], {}, monkeypatch)


def test_a_cli_call_moves_on_after_a_connection_error_or_a_503_only():
    endpoints, asked = Endpoints([A, B]), []

    def call(url):
        asked.append(url)
        if url == A:
            raise urllib.error.URLError(ConnectionRefusedError(111, "refused"))
        return "answer"

    assert cli_endpoints.each(endpoints, call) == "answer" and asked == [A, B]
    unavailable = urllib.error.HTTPError(A, 503, "Service Unavailable", {}, None)
    assert cli_endpoints.moves_on(unavailable)
    assert not cli_endpoints.moves_on(urllib.error.HTTPError(A, 400, "Bad", {}, None))


class FakeBotoClient:
    meta = SimpleNamespace(method_to_api_mapping={"describe_services": "DescribeServices"})

    def __init__(self, url, failure):
        self.url, self.failure = url, failure
        self.exceptions = SimpleNamespace(ClientError=ClientError)

    def describe_services(self, **kwargs):
        if self.failure is not None:
            raise self.failure
        return {"from": self.url, **kwargs}


@pytest.mark.parametrize("failure", [
    EndpointConnectionError(endpoint_url=A),
    ClientError({"Error": {"Code": "ServiceUnavailableException"},
                 "ResponseMetadata": {"HTTPStatusCode": 503}}, "DescribeServices")])
def test_a_boto3_client_over_several_endpoints_retries_on_the_next(failure):
    session = SimpleNamespace(client=lambda service, endpoint_url, config: FakeBotoClient(
        endpoint_url, failure if endpoint_url == A else None))
    ecs = cli_endpoints.Client(session, "ecs", Endpoints([A, B]))
    assert ecs.describe_services(cluster="c") == {"from": B, "cluster": "c"}
    assert ecs.exceptions.ClientError is ClientError


def test_a_boto3_refusal_is_not_retried_elsewhere():
    refusal = ClientError({"Error": {"Code": "ClusterNotFoundException"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "DescribeServices")
    session = SimpleNamespace(client=lambda service, endpoint_url, config: FakeBotoClient(
        endpoint_url, refusal))
    endpoints = Endpoints([A, B])
    with pytest.raises(ClientError):
        cli_endpoints.Client(session, "ecs", endpoints).describe_services(cluster="c")
    assert endpoints.current == A
