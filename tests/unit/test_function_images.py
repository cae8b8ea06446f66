"""The ImageUri of a function with PackageType Image: what Lambda accepts (an ECR image of
this account, in the function's region, by tag or digest), and how a tag resolves to the
digest that the function then runs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nozama.functions import images
from nozama.kernel.errors import ServiceError
from nozama.model import ecr_names
from nozama.model.ecr_references import EcrReference
from nozama.store import Store, ecr_images, ecr_repositories

pytestmark = pytest.mark.store_matrix

REGION, ACCOUNT = "us-east-1", "000000000000"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def test_ecr_uris_by_tag_and_by_digest_parse():
    assert images.parse(f"{HOST}/team/app:v1") == EcrReference(
        REGION, "team/app", "v1", None, account=ACCOUNT)
    assert images.parse(f"{HOST}/app@{DIGEST}") == EcrReference(
        REGION, "app", None, DIGEST, account=ACCOUNT)


@pytest.mark.parametrize("uri", [
    f"{HOST}/app",                      # Lambda wants a tag or a digest
    "app:v1",                           # not an ECR repository
    "docker.io/library/python:3.11",
    f"{HOST}/App:v1",                   # outside ECR's name pattern
    f"{HOST}/app:",                     # empty tag
    f"{HOST}/app@sha256:abc",           # short digest
    f"{HOST}/app:v1@{DIGEST}",
    f"127.0.0.1:5000/{REGION}/app:v1",  # the registry's address, not ECR's
    f"1234.dkr.ecr.{REGION}.amazonaws.com/app:v1",
    "",
])
def test_other_references_are_not_ecr_images(uri):
    assert images.parse(uri) is None


@pytest.mark.parametrize("uri", [
    f"{HOST}/app",
    f"111122223333.dkr.ecr.{REGION}.amazonaws.com/app:v1",   # another account
    f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app:v1",     # another region
])
def test_lambda_refuses_what_is_not_an_image_of_this_account_and_region(uri):
    with pytest.raises(ServiceError) as info:
        images.check(uri, REGION, ACCOUNT)
    assert info.value.code == "InvalidParameterValueException"
    assert str(info.value) == f"Source image {uri} is not valid. Provide a valid source image."


@pytest.fixture
def store(store_url):
    store = Store.open(store_url)
    with store.write() as conn:
        repository = ecr_repositories.create(
            conn, REGION, ACCOUNT, "team/app", ecr_names.repository_arn(REGION, ACCOUNT,
                                                                        "team/app"),
            datetime.now(timezone.utc), "MUTABLE", {})
        ecr_images.record_push(conn, repository, DIGEST, "{}", "m", 10,
                               datetime.now(timezone.utc), "v1")
        ecr_images.record_push(conn, repository, OTHER, "{}", "m", 10,
                               datetime.now(timezone.utc), None)
    yield store
    store.close()


def test_a_tag_resolves_to_the_digest_it_names_now(store):
    with store.read() as conn:
        image = images.resolve(conn, f"{HOST}/team/app:v1", REGION, ACCOUNT)
        untagged = images.resolve(conn, f"{HOST}/team/app@{OTHER}", REGION, ACCOUNT)
    assert image.image_uri == f"{HOST}/team/app:v1"
    assert image.resolved_image_uri == f"{HOST}/team/app@{DIGEST}"
    assert image.code_sha256 == "ab" * 32 and image.digest == DIGEST
    assert images.loaded(image.stored()) == image
    assert untagged.resolved_image_uri == f"{HOST}/team/app@{OTHER}"
    assert image.key != untagged.key and len(image.key) == 64


@pytest.mark.parametrize("uri", [f"{HOST}/team/app:v2", f"{HOST}/team/other:v1",
                                 f"{HOST}/team/app@sha256:{'ef' * 32}"])
def test_an_image_missing_from_the_store_is_refused(store, uri):
    with store.read() as conn, pytest.raises(ServiceError) as info:
        images.resolve(conn, uri, REGION, ACCOUNT)
    assert info.value.code == "InvalidParameterValueException"
    assert str(info.value) == f"Source image {uri} does not exist. Provide a valid source image."
