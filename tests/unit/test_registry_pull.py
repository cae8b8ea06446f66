"""The agent's ECR pulls without Docker or a control plane: the token cache under a fake
clock, the rewrite and tag-back, certs.d for an https registry, and the reasons a failed
pull gives."""

from __future__ import annotations

import base64
import json

import pytest
from docker.errors import APIError

from nozama.agent.registry_pull import (
    RENEW_BEFORE,
    EcrAuthorizations,
    PullError,
    RegistryPuller,
    refusal,
)
from nozama.agent.runtimes.docker_host import TaskStartError, ensure_image
from nozama.kernel.clock import FakeClock

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "cd" * 32
TWELVE_HOURS = 12 * 3600


class FakeControlPlane:
    def __init__(self, clock, endpoint="http://127.0.0.1:5999"):
        self.clock, self.endpoint, self.calls = clock, endpoint, []

    def __call__(self, region):
        self.calls.append(region)
        token = base64.b64encode(f"AWS:pw{len(self.calls)}".encode()).decode()
        return {"authorizationData": [{
            "authorizationToken": token, "proxyEndpoint": self.endpoint,
            "expiresAt": self.clock.time() + TWELVE_HOURS}]}


class FakeImage:
    def __init__(self, log):
        self.log = log

    def tag(self, repository, tag):
        self.log.append(("tag", repository, tag))


class FakeImages:
    def __init__(self, error=None):
        self.log, self.error = [], error

    def pull(self, repository, tag=None, auth_config=None):
        self.log.append(("pull", repository, tag, auth_config))
        if self.error:
            raise self.error
        return FakeImage(self.log)

    def get(self, image):
        self.log.append(("get", image))


class FakeDocker:
    def __init__(self, error=None):
        self.images = FakeImages(error)


@pytest.fixture
def clock():
    return FakeClock()


def test_a_token_is_kept_until_30_minutes_before_it_expires(clock):
    plane = FakeControlPlane(clock)
    tokens = EcrAuthorizations("http://cp:8080", clock=clock, call=plane)
    first = tokens.get("us-east-1")
    assert (first.username, first.password, first.registry) == ("AWS", "pw1", "127.0.0.1:5999")
    clock.advance(TWELVE_HOURS - RENEW_BEFORE - 1)
    assert tokens.get("us-east-1") is first and plane.calls == ["us-east-1"]
    clock.advance(1)
    assert tokens.get("us-east-1").password == "pw2"
    # Each region has its own token.
    tokens.get("eu-west-1")
    assert plane.calls == ["us-east-1", "us-east-1", "eu-west-1"]


def test_a_tag_is_pulled_from_the_registry_every_time_and_tagged_back(clock):
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock,
                                              call=FakeControlPlane(clock)))
    docker = FakeDocker()
    for _ in range(2):
        assert ensure_image(docker, f"{HOST}/team/web:v1", puller, "123456789012") == \
            f"{HOST}/team/web:v1"
    auth = {"username": "AWS", "password": "pw1"}
    step = [("pull", "127.0.0.1:5999/us-east-1/team/web", "v1", auth),
            ("tag", f"{HOST}/team/web", "v1")]
    assert docker.images.log == step + step       # one token, two pulls, no images.get


def test_a_digest_runs_from_the_registry_reference(clock):
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock,
                                              call=FakeControlPlane(clock)))
    docker = FakeDocker()
    assert ensure_image(docker, f"{HOST}/web@{DIGEST}", puller) == \
        f"127.0.0.1:5999/us-east-1/web@{DIGEST}"
    assert [entry[:3] for entry in docker.images.log] == [
        ("pull", "127.0.0.1:5999/us-east-1/web", DIGEST)]


def test_the_registry_address_form_is_pulled_with_the_token_only_at_that_registry(clock):
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock,
                                              call=FakeControlPlane(clock)))
    ours, theirs = FakeDocker(), FakeDocker()
    assert ensure_image(ours, "127.0.0.1:5999/us-east-1/web:v3", puller) == \
        "127.0.0.1:5999/us-east-1/web:v3"
    assert ours.images.log == [("pull", "127.0.0.1:5999/us-east-1/web", "v3",
                                {"username": "AWS", "password": "pw1"})]
    # Another registry's image of the same shape: an ordinary lookup, no token sent.
    ensure_image(theirs, "10.9.9.9:5000/us-east-1/web:v3", puller)
    assert theirs.images.log == [("get", "10.9.9.9:5000/us-east-1/web:v3")]


def test_the_registry_message_is_the_reason(clock):
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock,
                                              call=FakeControlPlane(clock)))
    missing = APIError("500", explanation="manifest for 127.0.0.1:5999/us-east-1/web:nope "
                       "not found: manifest unknown: manifest unknown")
    with pytest.raises(TaskStartError) as raised:
        ensure_image(FakeDocker(missing), f"{HOST}/web:nope", puller)
    assert str(raised.value) == ("CannotPullContainerError: manifest for 127.0.0.1:5999/"
                                 "us-east-1/web:nope not found: manifest unknown: "
                                 "manifest unknown")


def test_a_refused_token_is_the_reason(clock):
    body = json.dumps({"__type": "AccessDeniedException", "message": "User: arn:aws:iam::"
                       "123456789012:user/agent is not authorized to perform: "
                       "ecr:GetAuthorizationToken on resource: *"}).encode()

    def refuse(region):
        raise refusal(body)
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock, call=refuse))
    with pytest.raises(TaskStartError) as raised:
        ensure_image(FakeDocker(), f"{HOST}/web", puller)
    assert str(raised.value).startswith(
        "CannotPullContainerError: AccessDeniedException: User: arn:aws:iam::123456789012:"
        "user/agent is not authorized to perform: ecr:GetAuthorizationToken")


def test_another_account_is_refused_and_a_bad_name_too(clock):
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock,
                                              call=FakeControlPlane(clock)))
    with pytest.raises(TaskStartError, match="CannotPullContainerError: .*account "
                       "123456789012's registry is not this control plane's"):
        ensure_image(FakeDocker(), f"{HOST}/web", puller, "000000000000")
    with pytest.raises(TaskStartError, match="CannotPullContainerError: invalid reference"):
        ensure_image(FakeDocker(), f"{HOST}/Web", puller)


def test_an_https_registry_gets_the_ca_in_certs_d_before_the_pull(clock, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    plane = FakeControlPlane(clock, endpoint="https://10.0.0.5:5443")
    # No control plane answers /_nozama/ca.pem here: the agent's --ca-bundle stands in.
    puller = RegistryPuller(EcrAuthorizations("http://127.0.0.1:1", ca_bundle=str(bundle),
                                              clock=clock, call=plane),
                            certs_dir=tmp_path / "certs.d")
    docker = FakeDocker()
    ensure_image(docker, f"{HOST}/web:v1", puller)
    assert (tmp_path / "certs.d" / "10.0.0.5:5443" / "ca.crt").read_bytes() == \
        bundle.read_bytes()
    assert docker.images.log[0][1] == "10.0.0.5:5443/us-east-1/web"
    # An http registry needs no entry.
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock,
                                              call=FakeControlPlane(clock)),
                            certs_dir=tmp_path / "other")
    ensure_image(FakeDocker(), f"{HOST}/web:v1", puller)
    assert not (tmp_path / "other").exists()


def test_without_a_registry_nothing_changes():
    docker = FakeDocker()
    assert ensure_image(docker, f"{HOST}/web:v1") == f"{HOST}/web:v1"
    assert docker.images.log == [("get", f"{HOST}/web:v1")]


def test_an_unreadable_answer_is_a_pull_error():
    assert isinstance(refusal(b"<html>"), PullError)
    assert str(refusal(b"<html>")) == "CannotPullContainerError: HTTPError"


def test_without_a_running_registry_the_pull_says_so_and_nothing_is_kept(clock):
    plane = FakeControlPlane(clock, endpoint=f"https://{HOST}")
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock, call=plane))
    for _ in range(2):
        with pytest.raises(TaskStartError, match="CannotPullContainerError: no Nozama "
                           "registry is running .*start `nozama registry`"):
            ensure_image(FakeDocker(), f"{HOST}/web", puller)
    assert len(plane.calls) == 2


def test_a_failed_pull_drops_the_token(clock):
    plane = FakeControlPlane(clock)
    puller = RegistryPuller(EcrAuthorizations("http://cp", clock=clock, call=plane))
    with pytest.raises(TaskStartError):
        ensure_image(FakeDocker(APIError("401", explanation="unauthorized: bad credentials")),
                     f"{HOST}/web", puller)
    ensure_image(FakeDocker(), f"{HOST}/web", puller)
    assert len(plane.calls) == 2
