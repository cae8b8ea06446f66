"""ECR images through boto3: ListImages, DescribeImages, BatchGetImage, BatchDeleteImage
(and the tombstones they leave for the registry), lifecycle policies (their errors, and
images expiring through the server's lifecycle controller).

Images are recorded in the server's store as the registry's gate records a push
(support/ecr.py): the ECR API itself never writes them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from support import ecr
from support.errors import refused
from support.waiting import wait_for

pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
MISSING = "sha256:" + "0" * 64


@pytest.fixture
def client(server, region):
    return server.client("ecr", region)


@pytest.fixture(scope="module")
def store(server):
    opened = ecr.open_store(server)
    yield opened
    opened.close()


def ago(days: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days)


@pytest.fixture
def images(client, store, region):
    """A repository "app" with: old (v1, stable), middle (v2), new (latest), and an
    untagged one, pushed in that order (untagged last)."""
    client.create_repository(repositoryName="app")
    found = {"old": ecr.push(store, region, "app", "old", "v1", ago(4), size=100),
             "middle": ecr.push(store, region, "app", "middle", "v2", ago(3), size=200),
             "new": ecr.push(store, region, "app", "new", "latest", ago(2), size=300),
             "untagged": ecr.push(store, region, "app", "untagged", None, ago(1), size=400)}
    ecr.push(store, region, "app", "old", "stable", ago(4), size=100)
    return found


def ids(listed: list[dict]) -> set[tuple]:
    return {(item["imageDigest"], item.get("imageTag")) for item in listed}


def test_list_images_lists_one_id_per_tag(client, images):
    listed = client.list_images(repositoryName="app")["imageIds"]
    assert ids(listed) == {(images["old"], "v1"), (images["old"], "stable"),
                           (images["middle"], "v2"), (images["new"], "latest"),
                           (images["untagged"], None)}
    assert ids(client.list_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})[
        "imageIds"]) == {(images["untagged"], None)}
    tagged = client.list_images(repositoryName="app", filter={"tagStatus": "TAGGED"})
    # Nothing is ever archived here.
    assert client.list_images(repositoryName="app", filter={"imageStatus": "ARCHIVED"})[
        "imageIds"] == []
    assert len(tagged["imageIds"]) == 4
    paged = [item for page in client.get_paginator("list_images").paginate(
        repositoryName="app", PaginationConfig={"PageSize": 2}) for item in page["imageIds"]]
    assert len(paged) == 5 and ids(paged) == ids(listed)
    assert refused(client.list_images, repositoryName="ghost")[0] == \
        "RepositoryNotFoundException"
    assert refused(client.list_images, repositoryName="app", nextToken="x")[0] == \
        "InvalidParameterException"


def test_describe_images(client, images, region):
    details = {d["imageDigest"]: d for d in
               client.describe_images(repositoryName="app")["imageDetails"]}
    assert set(details) == set(images.values())
    old = details[images["old"]]
    assert sorted(old["imageTags"]) == ["stable", "v1"]
    assert old["imageSizeInBytes"] == 100
    assert old["imageManifestMediaType"] == ecr.MANIFEST_V2
    assert old["registryId"] == ACCOUNT and old["repositoryName"] == "app"
    assert abs(old["imagePushedAt"] - ago(4)) < timedelta(minutes=1)
    assert "imageTags" not in details[images["untagged"]]
    [one] = client.describe_images(repositoryName="app",
                                   imageIds=[{"imageTag": "latest"}])["imageDetails"]
    assert one["imageDigest"] == images["new"]
    # Two ids of one image describe it once.
    both = client.describe_images(repositoryName="app", imageIds=[
        {"imageTag": "v1"}, {"imageDigest": images["old"]}])["imageDetails"]
    assert [d["imageDigest"] for d in both] == [images["old"]]
    code, message = refused(client.describe_images, repositoryName="app",
                            imageIds=[{"imageTag": "v9"}])
    assert code == "ImageNotFoundException"
    assert message == ("The image with imageId {imageDigest:'null', imageTag:'v9'} does not "
                       "exist within the repository with name 'app' in the registry with id "
                       f"'{ACCOUNT}'")
    assert [d["imageDigest"] for d in client.describe_images(
        repositoryName="app", filter={"tagStatus": "UNTAGGED"})["imageDetails"]] == \
        [images["untagged"]]
    paged = [d for page in client.get_paginator("describe_images").paginate(
        repositoryName="app", PaginationConfig={"PageSize": 3}) for d in page["imageDetails"]]
    assert sorted(d["imageDigest"] for d in paged) == sorted(images.values())
    assert refused(client.describe_images, repositoryName="app",
                   imageIds=[{"imageDigest": "nonsense"}])[0] == "InvalidParameterException"


def test_batch_get_image(client, images):
    answer = client.batch_get_image(repositoryName="app", imageIds=[
        {"imageTag": "v2"}, {"imageDigest": images["new"]}, {"imageTag": "nope"},
        {"imageDigest": MISSING}, {"imageDigest": "bad"}, {},
        {"imageTag": "v1", "imageDigest": images["new"]}])
    got = {image["imageId"]["imageDigest"]: image for image in answer["images"]}
    assert set(got) == {images["middle"], images["new"]}
    middle = got[images["middle"]]
    assert middle["imageId"] == {"imageDigest": images["middle"], "imageTag": "v2"}
    assert json.loads(middle["imageManifest"]) == json.loads(ecr.manifest("middle", 200))
    assert middle["imageManifestMediaType"] == ecr.MANIFEST_V2
    assert [(f["imageId"], f["failureCode"]) for f in answer["failures"]] == [
        ({"imageTag": "nope"}, "ImageNotFound"), ({"imageDigest": MISSING}, "ImageNotFound"),
        ({"imageDigest": "bad"}, "InvalidImageDigest"), ({}, "MissingDigestAndTag"),
        ({"imageTag": "v1", "imageDigest": images["new"]}, "ImageTagDoesNotMatchDigest")]
    refused_type = client.batch_get_image(
        repositoryName="app", imageIds=[{"imageTag": "v2"}],
        acceptedMediaTypes=["application/vnd.oci.image.manifest.v1+json"])
    assert refused_type["images"] == [] and len(refused_type["failures"]) == 1
    accepted = client.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v2"}],
                                      acceptedMediaTypes=[ecr.MANIFEST_V2])
    assert len(accepted["images"]) == 1


def test_batch_delete_image_by_tag_and_by_digest(client, images, store, region):
    # By tag, when the image has another tag: only the tag goes.
    answer = client.batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert answer["imageIds"] == [{"imageDigest": images["old"], "imageTag": "v1"}]
    assert answer["failures"] == []
    [old] = client.describe_images(repositoryName="app",
                                   imageIds=[{"imageDigest": images["old"]}])["imageDetails"]
    assert old["imageTags"] == ["stable"]
    # By its last tag: the image goes too.
    client.batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "v2"}])
    assert refused(client.describe_images, repositoryName="app",
                   imageIds=[{"imageDigest": images["middle"]}])[0] == "ImageNotFoundException"
    # By digest: the image and every tag.
    answer = client.batch_delete_image(repositoryName="app", imageIds=[
        {"imageDigest": images["old"]}, {"imageDigest": images["untagged"]},
        {"imageTag": "gone"}, {}])
    assert ids(answer["imageIds"]) == {(images["old"], "stable"), (images["untagged"], None)}
    assert [f["failureCode"] for f in answer["failures"]] == ["ImageNotFound",
                                                              "MissingDigestAndTag"]
    assert ids(client.list_images(repositoryName="app")["imageIds"]) == {
        (images["new"], "latest")}
    # Each change left the registry a tombstone for the digest it touched.
    assert ecr.tombstones(store, region, "app") == [
        images["old"], images["middle"], images["old"], images["untagged"]]
    assert refused(client.batch_delete_image, repositoryName="ghost",
                   imageIds=[{"imageTag": "x"}])[0] == "RepositoryNotFoundException"


def policy(*rules: dict) -> str:
    return json.dumps({"rules": [
        {"rulePriority": i, "description": f"rule number {i} of this test's policy",
         "selection": selection, "action": {"type": "expire"}}
        for i, selection in enumerate(rules, 1)]})


KEEP_ONE = policy({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1})


@pytest.mark.parametrize("text", [
    "x" * 120,
    policy({"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}),
    policy({"tagStatus": "any", "countType": "sinceImagePushed", "countNumber": 1,
            "countUnit": "hours"}),
    policy({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
           {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}),
])
def test_an_invalid_lifecycle_policy_is_refused_and_nothing_written(client, text):
    client.create_repository(repositoryName="strict")
    code, message = refused(client.put_lifecycle_policy, repositoryName="strict",
                            lifecyclePolicyText=text)
    assert code == "InvalidParameterException"
    assert message.startswith("Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                              "constraint: 'Lifecycle policy validation failure: ")
    assert refused(client.get_lifecycle_policy, repositoryName="strict")[0] == \
        "LifecyclePolicyNotFoundException"


def test_lifecycle_policy_put_get_delete(client):
    client.create_repository(repositoryName="policed")
    code, message = refused(client.get_lifecycle_policy, repositoryName="policed")
    assert code == "LifecyclePolicyNotFoundException"
    assert message == ("Lifecycle policy does not exist for the repository with name "
                       f"'policed' in the registry with id '{ACCOUNT}'")
    text = policy({"tagStatus": "untagged", "countType": "sinceImagePushed",
                   "countUnit": "days", "countNumber": 14})
    put = client.put_lifecycle_policy(repositoryName="policed", lifecyclePolicyText=text)
    assert put == {**put, "repositoryName": "policed", "registryId": ACCOUNT,
                   "lifecyclePolicyText": text}
    got = wait_for(lambda: (lambda found: found if "lastEvaluatedAt" in found else None)(
        client.get_lifecycle_policy(repositoryName="policed")))
    assert got["lifecyclePolicyText"] == text
    deleted = client.delete_lifecycle_policy(repositoryName="policed")
    assert deleted["lifecyclePolicyText"] == text
    assert refused(client.delete_lifecycle_policy, repositoryName="policed")[0] == \
        "LifecyclePolicyNotFoundException"
    assert refused(client.put_lifecycle_policy, repositoryName="ghost",
                   lifecyclePolicyText=text)[0] == "RepositoryNotFoundException"


def test_the_controller_expires_images_by_count(client, images, store, region):
    client.put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=KEEP_ONE)
    # The newest push (the untagged image) is the one kept.
    wait_for(lambda: ids(client.list_images(repositoryName="app")["imageIds"]) == {
        (images["untagged"], None)})
    assert sorted(ecr.tombstones(store, region, "app")) == sorted(
        [images["old"], images["middle"], images["new"]])
    assert client.get_lifecycle_policy(repositoryName="app")["lastEvaluatedAt"]


def test_the_controller_expires_images_by_age_and_shields_higher_rules(client, store, region):
    client.create_repository(repositoryName="aged")
    release = ecr.push(store, region, "aged", "release", "release-1", ago(30))
    stale = ecr.push(store, region, "aged", "stale", "dev-1", ago(20))
    fresh = ecr.push(store, region, "aged", "fresh", "dev-2", ago(1))
    text = policy({"tagStatus": "tagged", "tagPrefixList": ["release"],
                   "countType": "imageCountMoreThan", "countNumber": 5},
                  {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days",
                   "countNumber": 7})
    preview = client.start_lifecycle_policy_preview(repositoryName="aged",
                                                    lifecyclePolicyText=text)
    assert preview["status"] == "COMPLETE"
    result = client.get_lifecycle_policy_preview(repositoryName="aged")
    assert [(r["imageDigest"], r["appliedRulePriority"]) for r in result["previewResults"]] \
        == [(stale, 2)]
    assert result["summary"] == {"expiringImageTotalCount": 1}
    # A preview deletes nothing.
    assert len(client.describe_images(repositoryName="aged")["imageDetails"]) == 3
    client.put_lifecycle_policy(repositoryName="aged", lifecyclePolicyText=text)
    wait_for(lambda: {d["imageDigest"] for d in client.describe_images(
        repositoryName="aged")["imageDetails"]} == {release, fresh})
    assert ecr.tombstones(store, region, "aged") == [stale]
