"""ECR image references: which ones name a Nozama ECR repository, and their rewrite onto
the registry's address."""

from __future__ import annotations

import pytest

from nozama.model import ecr_references
from nozama.model.ecr_references import InvalidReference, parse

DIGEST = "sha256:" + "ab" * 32
HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_an_ecr_uri_without_a_tag_means_latest():
    ref = parse(f"{HOST}/team/web")
    assert (ref.account, ref.region, ref.name, ref.tag, ref.digest) == (
        "123456789012", "eu-west-1", "team/web", "latest", None)
    assert ref.registry_name == "eu-west-1/team/web"
    assert ref.pull_reference("10.0.0.5:5000") == "10.0.0.5:5000/eu-west-1/team/web:latest"
    assert ref.local_repository() == f"{HOST}/team/web"


def test_an_ecr_uri_with_a_tag_and_one_with_a_digest():
    assert parse(f"{HOST}/web:v1.2-rc_3").tag == "v1.2-rc_3"
    ref = parse(f"{HOST}/web@{DIGEST}")
    assert (ref.tag, ref.digest) == (None, DIGEST)
    assert ref.pull_reference("r:5000") == f"r:5000/eu-west-1/web@{DIGEST}"
    # name:tag@digest is pulled by the digest alone, as Docker does.
    assert parse(f"{HOST}/web:v1@{DIGEST}") == ref


def test_the_registry_address_form():
    ref = parse("127.0.0.1:5999/us-east-1/app/api:v2")
    assert (ref.address, ref.region, ref.name, ref.tag, ref.account) == (
        "127.0.0.1:5999", "us-east-1", "app/api", "v2", None)
    assert ref.local_repository() == "127.0.0.1:5999/us-east-1/app/api"
    assert parse(f"registry.example:443/us-west-2/web@{DIGEST}").digest == DIGEST
    assert parse("localhost/eu-central-1/web").tag == "latest"


@pytest.mark.parametrize("image", [
    "busybox", "nozama-test/busybox:latest", "library/busybox@" + DIGEST,
    "ghcr.io/owner/image:1",                  # not a region after the host
    "quay.io/us-east-1/Image",                # looks alike, but not an ECR name: not ours
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",      # no repository at all
    "12345.dkr.ecr.us-east-1.amazonaws.com/web",         # not a 12-digit account
])
def test_other_images_are_not_ecr_references(image):
    assert parse(image) is None


@pytest.mark.parametrize("rest", ["Web", "web:", "web:-x", "web@sha256:abc", "w",
                                  "web@md5:" + "a" * 32])
def test_a_bad_name_tag_or_digest_at_an_ecr_host_is_refused(rest):
    with pytest.raises(InvalidReference, match="invalid reference format"):
        parse(f"{HOST}/{rest}")


def test_proxy_endpoint_addresses():
    assert ecr_references.registry_address("https://10.0.0.5:5000") == ("https", "10.0.0.5:5000")
    assert ecr_references.registry_address("http://127.0.0.1:5999/") == (
        "http", "127.0.0.1:5999")
