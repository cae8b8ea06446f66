"""ECR repositories through boto3: CreateRepository (names, mutability, scanning,
encryption, tags), DescribeRepositories and its pages, DeleteRepository with and without
force, PutImageTagMutability, tags, GetAuthorizationToken, and IAM's say on all of them.

Expectations follow ECR's API reference and the texts ECR answers with."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config
import pytest

from nozama.model import ecr_authorization
from nozama.store import registries, server_keys
from support import ecr
from support.errors import refused
from support.servers import NozamaServer, store_args

pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"


@pytest.fixture
def client(server, region):
    return server.client("ecr", region)


@pytest.fixture(scope="module")
def store(server):
    opened = ecr.open_store(server)
    yield opened
    opened.close()


def test_create_repository_answers_ecr_shape_and_describe_agrees(client, region):
    created = client.create_repository(repositoryName="team/web-app")["repository"]
    assert created["repositoryName"] == "team/web-app"
    assert created["registryId"] == ACCOUNT
    assert created["repositoryArn"] == f"arn:aws:ecr:{region}:{ACCOUNT}:repository/team/web-app"
    assert created["repositoryUri"] == \
        f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/team/web-app"
    assert created["imageTagMutability"] == "MUTABLE"
    assert created["imageScanningConfiguration"] == {"scanOnPush": False}
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert abs(created["createdAt"] - datetime.now(timezone.utc)) < timedelta(minutes=1)
    [described] = client.describe_repositories(repositoryNames=["team/web-app"])["repositories"]
    assert described == created


def test_settings_are_recorded_and_returned(client):
    created = client.create_repository(
        repositoryName="settings", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"},
                                            {"filterType": "WILDCARD", "filter": "dev-*"}],
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/mine"})["repository"]
    assert created["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert created["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"},
        {"filterType": "WILDCARD", "filter": "dev-*"}]
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"] == {"encryptionType": "KMS",
                                                  "kmsKey": "alias/mine"}
    [described] = client.describe_repositories(repositoryNames=["settings"])["repositories"]
    assert described == created
    immutable = client.create_repository(repositoryName="frozen",
                                         imageTagMutability="IMMUTABLE")["repository"]
    assert immutable["imageTagMutability"] == "IMMUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in immutable


@pytest.mark.parametrize("params", [
    {"imageTagMutability": "MUTABLE_WITH_EXCLUSION"},
    {"imageTagMutability": "IMMUTABLE",
     "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "x*"}]},
    {"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
     "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "a b"}]},
    {"encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": "alias/x"}},
])
def test_inconsistent_settings_are_refused_and_nothing_is_made(client, params):
    code, _ = refused(client.create_repository, repositoryName="half-made", **params)
    assert code == "InvalidParameterException"
    assert refused(client.describe_repositories,
                   repositoryNames=["half-made"])[0] == "RepositoryNotFoundException"


@pytest.mark.parametrize("name", ["Upper", "-lead", "trail-", "a//b", "a/", "x" * 257,
                                  "dots..twice"])
def test_names_outside_ecr_pattern_are_refused(client, name):
    code, message = refused(client.create_repository, repositoryName=name)
    assert code == "InvalidParameterException"
    if len(name) <= 256:
        assert message.startswith("Invalid parameter at 'repositoryName' failed to satisfy "
                                  "constraint: 'must satisfy regular expression '")
    assert client.describe_repositories()["repositories"] == []


def test_a_duplicate_is_refused(client):
    client.create_repository(repositoryName="twice")
    code, message = refused(client.create_repository, repositoryName="twice")
    assert code == "RepositoryAlreadyExistsException"
    assert message == ("The repository with name 'twice' already exists in the registry "
                       f"with id '{ACCOUNT}'")


def test_regions_are_isolated(server, client, region):
    client.create_repository(repositoryName="only-here")
    other = server.client("ecr", "zz-elsewhere-" + uuid.uuid4().hex[:6] + "-1")
    assert other.describe_repositories()["repositories"] == []
    other.create_repository(repositoryName="only-here")   # the same name elsewhere


def test_describe_repositories_pages_by_name(client):
    names = [f"repo-{i:02d}" for i in range(7)]
    for name in reversed(names):
        client.create_repository(repositoryName=name)
    seen, token = [], None
    while True:
        page = client.describe_repositories(maxResults=3, **({"nextToken": token}
                                                             if token else {}))
        assert len(page["repositories"]) <= 3
        seen += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names
    paginated = client.get_paginator("describe_repositories").paginate(
        PaginationConfig={"PageSize": 2})
    assert [r["repositoryName"] for p in paginated for r in p["repositories"]] == names
    assert refused(client.describe_repositories, nextToken="garbage")[0] == \
        "InvalidParameterException"
    assert refused(client.describe_repositories, repositoryNames=["repo-00"],
                   maxResults=2)[0] == "InvalidParameterException"


def test_describing_an_unknown_repository_names_it(client):
    client.create_repository(repositoryName="known")
    code, message = refused(client.describe_repositories, repositoryNames=["known", "ghost"])
    assert code == "RepositoryNotFoundException"
    assert message == ("The repository with name 'ghost' does not exist in the registry "
                       f"with id '{ACCOUNT}'")


def test_delete_repository_without_images(client):
    client.create_repository(repositoryName="short-lived", tags=[{"Key": "k", "Value": "v"}])
    deleted = client.delete_repository(repositoryName="short-lived")["repository"]
    assert deleted["repositoryName"] == "short-lived"
    assert refused(client.describe_repositories,
                   repositoryNames=["short-lived"])[0] == "RepositoryNotFoundException"
    assert refused(client.delete_repository,
                   repositoryName="short-lived")[0] == "RepositoryNotFoundException"
    # Made again, it starts with no tags of its predecessor.
    arn = client.create_repository(repositoryName="short-lived")["repository"]["repositoryArn"]
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_delete_repository_with_images_needs_force(client, store, region):
    client.create_repository(repositoryName="full")
    first = ecr.push(store, region, "full", "one", tag="v1")
    second = ecr.push(store, region, "full", "two")
    code, message = refused(client.delete_repository, repositoryName="full")
    assert code == "RepositoryNotEmptyException"
    assert message == (f"The repository with name 'full' in registry with id '{ACCOUNT}' "
                       "cannot be deleted because it still contains images")
    assert client.describe_repositories(repositoryNames=["full"])["repositories"]
    assert ecr.tombstones(store, region, "full") == []
    client.delete_repository(repositoryName="full", force=True)
    assert refused(client.describe_repositories,
                   repositoryNames=["full"])[0] == "RepositoryNotFoundException"
    # The registry is told to drop both manifests.
    assert sorted(ecr.tombstones(store, region, "full")) == sorted([first, second])
    # A repository made again under the name has none of the old images.
    client.create_repository(repositoryName="full")
    assert client.delete_repository(repositoryName="full")["repository"]


def test_put_image_tag_mutability(client):
    client.create_repository(repositoryName="mutable")
    answer = client.put_image_tag_mutability(repositoryName="mutable",
                                             imageTagMutability="IMMUTABLE")
    assert answer["imageTagMutability"] == "IMMUTABLE"
    assert answer["repositoryName"] == "mutable" and answer["registryId"] == ACCOUNT
    [found] = client.describe_repositories(repositoryNames=["mutable"])["repositories"]
    assert found["imageTagMutability"] == "IMMUTABLE"
    answer = client.put_image_tag_mutability(
        repositoryName="mutable", imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}])
    assert answer["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "release-*"}]
    [found] = client.describe_repositories(repositoryNames=["mutable"])["repositories"]
    assert found["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert found["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "release-*"}]
    assert refused(client.put_image_tag_mutability, repositoryName="mutable",
                   imageTagMutability="IMMUTABLE_WITH_EXCLUSION")[0] == \
        "InvalidParameterException"
    assert refused(client.put_image_tag_mutability, repositoryName="ghost",
                   imageTagMutability="IMMUTABLE")[0] == "RepositoryNotFoundException"
    client.put_image_tag_mutability(repositoryName="mutable", imageTagMutability="MUTABLE")
    [found] = client.describe_repositories(repositoryNames=["mutable"])["repositories"]
    assert found["imageTagMutability"] == "MUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in found


def test_tags(client, region):
    arn = client.create_repository(repositoryName="tagged", tags=[
        {"Key": "team", "Value": "web"}])["repository"]["repositoryArn"]
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "team", "Value": "web"}]
    client.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"},
                                               {"Key": "team", "Value": "api"}])
    assert sorted(client.list_tags_for_resource(resourceArn=arn)["tags"],
                  key=lambda t: t["Key"]) == [{"Key": "env", "Value": "prod"},
                                              {"Key": "team", "Value": "api"}]
    client.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "env", "Value": "prod"}]
    assert refused(client.tag_resource, resourceArn=arn,
                   tags=[{"Key": "aws:owned", "Value": "x"}])[0] == "InvalidTagParameterException"
    assert refused(client.tag_resource, resourceArn=arn, tags=[
        {"Key": f"k{i}", "Value": "v"} for i in range(50)])[0] == "TooManyTagsException"
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "env", "Value": "prod"}]
    ghost = f"arn:aws:ecr:{region}:{ACCOUNT}:repository/ghost"
    assert refused(client.list_tags_for_resource,
                   resourceArn=ghost)[0] == "RepositoryNotFoundException"
    assert refused(client.list_tags_for_resource,
                   resourceArn="not-an-arn")[0] == "InvalidParameterException"
    assert refused(client.create_repository, repositoryName="reserved-tags",
                   tags=[{"Key": "aws:x", "Value": "y"}])[0] == "InvalidTagParameterException"


def _password(token: str) -> str:
    user, password = base64.b64decode(token).decode().split(":", 1)
    assert user == "AWS"
    assert ":" not in password     # `aws ecr get-login-password` splits at every ':'
    return password


def test_get_authorization_token(server, client, store, region):
    before = datetime.now(timezone.utc)
    [data] = client.get_authorization_token()["authorizationData"]
    password = _password(data["authorizationToken"])
    assert abs(data["expiresAt"] - (before + timedelta(hours=12))) < timedelta(minutes=1)
    assert data["proxyEndpoint"] == f"https://{ACCOUNT}.dkr.ecr.{region}.amazonaws.com"
    # The password names the caller's key, the caller and the region, signed with the
    # store's key: what the registry's gate checks.
    with store.read() as conn:
        key = server_keys.get(conn, ecr_authorization.KEY_NAME)
    opened = ecr_authorization.open_password(key, password, datetime.now(timezone.utc))
    assert opened.access_key_id == server.credentials[0]
    assert opened.principal_arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert opened.region == region
    assert ecr_authorization.open_password(key, password[:-2] + "xx", before) is None


def test_the_proxy_endpoint_is_the_running_registry(client, store):
    now = datetime.now(timezone.utc)
    with store.write() as conn:
        registries.announce(conn, "127.0.0.1:5999", "http", now, now)
    try:
        [data] = client.get_authorization_token()["authorizationData"]
        assert data["proxyEndpoint"] == "http://127.0.0.1:5999"
    finally:
        with store.write() as conn:
            registries.withdraw(conn, "127.0.0.1:5999")


def _client_with(server, service: str, region: str, credentials: dict):
    return boto3.client(service, endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials.get("SessionToken"),
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def test_a_session_token_caps_the_password_expiry(server, region, store):
    iam = server.client("iam")
    role = f"ecr-puller-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/"
                                                    "AmazonEC2ContainerRegistryReadOnly")
    session = server.client("sts", region).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="pull",
        DurationSeconds=900)["Credentials"]
    ecr_client = _client_with(server, "ecr", region, session)
    [data] = ecr_client.get_authorization_token()["authorizationData"]
    assert abs(data["expiresAt"] - session["Expiration"]) < timedelta(seconds=2)
    with store.read() as conn:
        key = server_keys.get(conn, ecr_authorization.KEY_NAME)
    opened = ecr_authorization.open_password(key, _password(data["authorizationToken"]),
                                             datetime.now(timezone.utc))
    assert opened.access_key_id == session["AccessKeyId"]
    assert opened.principal_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/pull"


def test_iam_decides_who_may_use_ecr(server, region):
    iam = server.client("iam")
    name = f"ecr-user-{uuid.uuid4().hex[:8]}"
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    ecr_client = _client_with(server, "ecr", region, key)
    code, message = refused_403(ecr_client.create_repository, repositoryName="denied")
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: {user['Arn']} is not authorized to perform: "
                              f"ecr:CreateRepository on resource: "
                              f"arn:aws:ecr:{region}:{ACCOUNT}:repository/denied")
    assert refused_403(ecr_client.get_authorization_token)[0] == "AccessDeniedException"
    # The read-only managed policy lets it read and log in, not create.
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/"
                                                    "AmazonEC2ContainerRegistryReadOnly")
    assert ecr_client.describe_repositories()["repositories"] == []
    assert ecr_client.get_authorization_token()["authorizationData"]
    assert refused_403(ecr_client.create_repository,
                       repositoryName="denied")[0] == "AccessDeniedException"
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/"
                                                    "AmazonEC2ContainerRegistryFullAccess")
    assert ecr_client.create_repository(repositoryName="allowed")["repository"]


def refused_403(call, **params) -> tuple[str, str]:
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def test_with_auth_off_the_password_is_the_account_roots(tmp_path):
    # Any credentials get in: the password stands for the account root, under the key id
    # the registry's gate knows only a server mints.
    instance = NozamaServer([*store_args("sqlite", tmp_path), "--auth", "off"],
                            tmp_path / "server.log").start()
    try:
        anyone = boto3.client("ecr", endpoint_url=instance.endpoint, region_name="us-east-1",
                              aws_access_key_id="AKIAANYONE", aws_secret_access_key="x" * 40)
        [data] = anyone.get_authorization_token()["authorizationData"]
        opened_store = ecr.open_store(instance)
        with opened_store.read() as conn:
            key = server_keys.get(conn, ecr_authorization.KEY_NAME)
        opened_store.close()
        opened = ecr_authorization.open_password(key, _password(data["authorizationToken"]),
                                                 datetime.now(timezone.utc))
        assert opened.access_key_id == ecr_authorization.SERVICE_KEY_ID
        assert opened.principal_arn == f"arn:aws:iam::{ACCOUNT}:root"
    finally:
        instance.stop()
