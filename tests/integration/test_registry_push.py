"""Docker against `nozama registry`: login with GetAuthorizationToken, push, pull, the
refusals ECR gives (no login, forged or expired password, immutable tag, missing
repository, a key without push rights), a docker-registry killed mid-push, and a delete
applied through its tombstone.

Real Docker Engine, real Distribution (Debian's docker-registry) and HAProxy; each test
has its own DOCKER_CONFIG, region and repositories, and removes its tags by name."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import sqlalchemy

from nozama.kernel.host_address import route_address
from nozama.model import ecr_authorization, ecr_names
from nozama.store import ecr_images, ecr_repositories, schema, server_keys
from support import ecr
from support.registry import (BUSYBOX, RegistryProcess, build_image, docker, docker_login,
                              ecr_password, forget_images, login_with, repository_ref,
                              trust_registry)
from support.waiting import wait_for

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def registry(server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    process = RegistryProcess(server, tmp / "registry.log", storage=tmp / "storage").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def store(server):
    opened = ecr.open_store(server)
    yield opened
    opened.close()


@pytest.fixture
def config_dir(tmp_path) -> Path:
    return tmp_path / "docker-config"


@pytest.fixture
def refs():
    """Image references the test tags; removed by name afterwards."""
    made: list[str] = []
    yield made
    forget_images(*made)


def tag(refs: list, reference: str, source: str = BUSYBOX) -> str:
    docker(Path("/tmp"), "tag", source, reference)
    refs.append(reference)
    return reference


def stored(store, region: str, name: str, tag_: str):
    with store.read() as conn:
        repository = ecr_repositories.get(conn, region, ACCOUNT, name)
        return ecr_images.by_tag(conn, repository.id, tag_)


def build(refs: list, reference: str, tmp_path: Path, megabytes: int = 0,
          label: str = "") -> str:
    """An image on busybox with a random layer of `megabytes` and/or a label of its own."""
    files = {"blob": os.urandom(megabytes * 1_000_000)} if megabytes else {}
    build_image(reference, tmp_path / f"ctx-{uuid.uuid4().hex[:6]}",
                [f"LABEL nozama.test={label or uuid.uuid4().hex}"] +
                (["COPY blob /blob"] if megabytes else []), files)
    refs.append(reference)
    return reference


def test_login_push_pull_and_the_store_records_the_image(server, registry, store, region,
                                                         config_dir, refs):
    ecr_client = server.client("ecr", region)
    ecr_client.create_repository(repositoryName="team/web")
    data = ecr_client.get_authorization_token()["authorizationData"][0]
    assert data["proxyEndpoint"] == registry.url
    # Logged in exactly as users do: the AWS CLI's password piped into `docker login`.
    config_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=server.credentials[0],
               AWS_SECRET_ACCESS_KEY=server.credentials[1], AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", HOME=str(config_dir.parent),
               DOCKER_CONFIG=str(config_dir))
    aws = shlex.quote(str(Path(sys.executable).with_name("aws")))
    login = subprocess.run(
        f"set -o pipefail; {aws} ecr get-login-password --region {region} --endpoint-url "
        f"{server.endpoint} | docker login --username AWS --password-stdin "
        f"{registry.address}", shell=True, executable="/bin/bash", env=env,
        capture_output=True, text=True, timeout=120)
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Login Succeeded" in login.stdout
    reference = tag(refs, repository_ref(registry, "team/web", "v1", region))
    pushed = docker(config_dir, "push", reference)
    digest = next(word for word in pushed.stdout.split() if word.startswith("sha256:"))
    image = stored(store, region, "team/web", "v1")
    assert image.digest == digest
    assert image.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    manifest = json.loads(image.manifest)
    assert image.size_bytes == manifest["config"]["size"] + sum(
        layer["size"] for layer in manifest["layers"])
    [described] = ecr_client.describe_images(repositoryName="team/web")["imageDetails"]
    assert described["imageDigest"] == digest and described["imageTags"] == ["v1"]
    assert described["imageSizeInBytes"] == image.size_bytes
    assert described["imageManifestMediaType"] == image.manifest_media_type
    docker(config_dir, "rmi", reference)
    docker(config_dir, "pull", reference)
    run = docker(config_dir, "run", "--rm", reference, "echo", "pulled")
    assert run.stdout.strip() == "pulled"


def test_a_push_without_login_or_with_a_bad_password_is_refused(server, registry, store,
                                                                region, config_dir, refs):
    server.client("ecr", region).create_repository(repositoryName="guarded")
    reference = tag(refs, repository_ref(registry, "guarded", "v1", region))
    anonymous = docker(config_dir, "push", reference, check=False)
    assert anonymous.returncode != 0 and "unauthorized" in anonymous.stderr
    good = ecr_password(server.client("ecr", region))
    body, _, mac = good.partition(".")
    forged = login_with(registry, config_dir, f"{body}.{mac[::-1]}", check=False)
    assert forged.returncode != 0 and "bad credentials" in forged.stderr
    with store.read() as conn:
        key = server_keys.get(conn, ecr_authorization.KEY_NAME)
    opened = ecr_authorization.open_password(key, good, datetime.now(timezone.utc))
    expired = ecr_authorization.mint_password(key, ecr_authorization.Authorization(
        opened.access_key_id, opened.principal_arn, region,
        datetime.now(timezone.utc) - timedelta(seconds=1)))
    late = login_with(registry, config_dir, expired, check=False)
    assert late.returncode != 0 and "bad credentials" in late.stderr
    with store.read() as conn:
        repository = ecr_repositories.get(conn, region, ACCOUNT, "guarded")
        assert ecr_images.by_tag(conn, repository.id, "v1") is None


def test_an_immutable_tag_is_not_overwritten(server, registry, store, region, config_dir,
                                             refs, tmp_path):
    server.client("ecr", region).create_repository(repositoryName="locked",
                                                   imageTagMutability="IMMUTABLE")
    docker_login(server, registry, config_dir, region)
    reference = tag(refs, repository_ref(registry, "locked", "v1", region))
    docker(config_dir, "push", reference)
    first = stored(store, region, "locked", "v1").digest
    docker(config_dir, "push", reference)      # the same image again is fine
    build(refs, reference, tmp_path)
    refused = docker(config_dir, "push", reference, check=False)
    assert refused.returncode != 0
    assert ("tag invalid: The image tag 'v1' already exists in the 'locked' repository and "
            "cannot be overwritten because the repository is immutable.") in refused.stderr
    assert stored(store, region, "locked", "v1").digest == first


def test_a_push_to_a_missing_repository_is_name_unknown(server, registry, region,
                                                        config_dir, refs):
    docker_login(server, registry, config_dir, region)
    reference = tag(refs, repository_ref(registry, "nowhere", "v1", region))
    refused = docker(config_dir, "push", reference, check=False)
    assert refused.returncode != 0
    assert (f"name unknown: The repository with name 'nowhere' does not exist in the "
            f"registry with id '{ACCOUNT}'") in refused.stderr


def test_a_key_that_may_only_pull_can_pull_and_not_push(server, registry, region, config_dir,
                                                        refs, tmp_path):
    ecr_client = server.client("ecr", region)
    arn = ecr_client.create_repository(repositoryName="shared")["repository"]["repositoryArn"]
    docker_login(server, registry, config_dir, region)
    reference = tag(refs, repository_ref(registry, "shared", "v1", region))
    docker(config_dir, "push", reference)
    iam = server.client("iam")
    user = f"puller-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="pull", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Resource": arn, "Action": [
                "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability"]}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    import boto3
    puller = boto3.client("ecr", endpoint_url=server.endpoint, region_name=region,
                          aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
    own = tmp_path / "puller-config"
    docker_login(server, registry, own, region, ecr=puller)
    docker(own, "rmi", reference)
    docker(own, "pull", reference)
    pushed = docker(own, "push", tag(refs, repository_ref(registry, "shared", "v2", region)),
                    check=False)
    assert pushed.returncode != 0
    assert (f"denied: User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: "
            f"ecr:PutImage on resource: {arn}") in pushed.stderr


def test_a_registry_killed_mid_push_is_restarted_and_the_push_completes(
        server, registry, store, region, config_dir, refs, tmp_path):
    server.client("ecr", region).create_repository(repositoryName="big")
    docker_login(server, registry, config_dir, region)
    reference = build(refs, repository_ref(registry, "big", "v1", region), tmp_path,
                      megabytes=40)
    before = registry.distribution_pid()
    uploads = registry.storage / "docker/registry/v2/repositories" / region / "big" / "_uploads"
    push = subprocess.Popen(["docker", "push", reference], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "DOCKER_CONFIG": str(config_dir)})
    wait_for(lambda: uploads.is_dir() and any(uploads.iterdir()), timeout=60, interval=0.01)
    subprocess.run(["kill", "-9", str(before)], check=True)
    output, _ = push.communicate(timeout=300)
    after = wait_for(lambda: registry.distribution_pid() not in (None, before), timeout=30)
    assert after != before
    wait_for(registry.answers, timeout=30)
    if push.returncode != 0:       # Docker's own retries may have carried it through
        docker(config_dir, "push", reference)
    image = stored(store, region, "big", "v1")
    assert image is not None and image.size_bytes > 40_000_000
    docker(config_dir, "rmi", reference)
    docker(config_dir, "pull", reference)


def test_batch_delete_image_reaches_the_registry_through_its_tombstone(
        server, registry, store, region, config_dir, refs):
    ecr_client = server.client("ecr", region)
    ecr_client.create_repository(repositoryName="gone")
    docker_login(server, registry, config_dir, region)
    first = tag(refs, repository_ref(registry, "gone", "v1", region))
    second = tag(refs, repository_ref(registry, "gone", "v2", region))
    docker(config_dir, "push", first)
    docker(config_dir, "push", second)
    # An untag: the image keeps its other tag, in the registry too.
    deleted = ecr_client.batch_delete_image(repositoryName="gone", imageIds=[{"imageTag": "v1"}])
    assert deleted["failures"] == []
    wait_for(lambda: not ecr.tombstones(store, region, "gone"), timeout=15)
    docker(config_dir, "rmi", first, second)
    pulled = docker(config_dir, "pull", first, check=False)
    assert pulled.returncode != 0 and "manifest unknown" in pulled.stderr
    docker(config_dir, "pull", second)
    # The last tag: the image goes.
    ecr_client.batch_delete_image(repositoryName="gone", imageIds=[{"imageTag": "v2"}])
    assert ecr_client.describe_images(repositoryName="gone")["imageDetails"] == []
    wait_for(lambda: not ecr.tombstones(store, region, "gone"), timeout=15)
    docker(config_dir, "rmi", second)
    pulled = docker(config_dir, "pull", second, check=False)
    assert pulled.returncode != 0 and "manifest unknown" in pulled.stderr


def test_a_restart_adopts_unrecorded_pushes_and_frees_deleted_blobs(
        server, registry, store, region, config_dir, refs, tmp_path):
    ecr_client = server.client("ecr", region)
    ecr_client.create_repository(repositoryName="kept")
    ecr_client.create_repository(repositoryName="dropped")
    docker_login(server, registry, config_dir, region)
    kept = tag(refs, repository_ref(registry, "kept", "v1", region))
    docker(config_dir, "push", kept)
    dropped = build(refs, repository_ref(registry, "dropped", "v1", region), tmp_path)
    docker(config_dir, "push", dropped)
    recorded = stored(store, region, "kept", "v1")
    gone = stored(store, region, "dropped", "v1")
    config_digest = json.loads(gone.manifest)["config"]["digest"]
    blob = (registry.storage / "docker/registry/v2/blobs/sha256" / config_digest[7:9] /
            config_digest[7:])
    assert blob.is_dir()
    with store.write() as conn:
        # As if the gate had died between Distribution's 201 and its commit.
        ecr_images.delete_image(conn, recorded.id)
        # And BatchDeleteImage of the other image.
        ecr_images.delete_image(conn, gone.id)
        ecr_images.add_tombstone(conn, ecr_names.registry_name(region, "dropped"), gone.digest,
                                 datetime.now(timezone.utc))
    wait_for(lambda: not ecr.tombstones(store, region, "dropped"), timeout=15)
    registry.stop()
    registry.start()
    adopted = stored(store, region, "kept", "v1")
    assert adopted is not None and adopted.digest == recorded.digest
    assert adopted.size_bytes == recorded.size_bytes
    assert not blob.exists()     # garbage-collected while Distribution was stopped


def test_a_registry_on_a_routable_address_serves_tls_from_nozamas_ca(
        server, store, region, tmp_path, refs):
    host = route_address("http://192.0.2.1:80")
    assert not host.startswith("127."), "this host has no routable address"
    tls = RegistryProcess(server, tmp_path / "tls-registry.log", storage=tmp_path / "storage",
                          host=host)
    trusted = None
    try:
        tls.start()
        ca = tmp_path / "ca.pem"
        ca.write_text(requests.get(f"{server.endpoint}/_nozama/ca.pem", timeout=10).text)
        assert requests.get(f"{tls.url}/v2/", timeout=5, verify=str(ca)).headers[
            "www-authenticate"].startswith(f'Bearer realm="https://{tls.address}/_nozama/')
        config_dir = tmp_path / "docker-config"
        untrusted = login_with(tls, config_dir, ecr_password(server.client("ecr", region)),
                               check=False)
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
        trusted = trust_registry(server, tls)
        server.client("ecr", region).create_repository(repositoryName="secure")
        docker_login(server, tls, config_dir, region)
        reference = tag(refs, f"{tls.address}/{region}/secure:v1")
        docker(config_dir, "push", reference)
        assert stored(store, region, "secure", "v1") is not None
        tls.stop()
        with store.read() as conn:     # a clean stop withdraws it from `registries`
            assert tls.address not in [row.address for row in conn.execute(
                sqlalchemy.select(schema.registries))]
    finally:
        tls.stop()
        if trusted is not None:
            shutil.rmtree(trusted, ignore_errors=True)


def test_a_manifest_naming_an_unknown_blob_is_refused_and_not_recorded(server, registry,
                                                                       store, region):
    server.client("ecr", region).create_repository(repositoryName="partial")
    password = ecr_password(server.client("ecr", region))
    name = f"{region}/partial"
    token = requests.get(f"{registry.url}/_nozama/ecr/token", auth=("AWS", password),
                         params={"service": f"ecr.{registry.address}",
                                 "scope": f"repository:{name}:push,pull"}, timeout=10)
    assert token.status_code == 200
    manifest = ecr.manifest(uuid.uuid4().hex)
    put = requests.put(f"{registry.url}/v2/{name}/manifests/v1", data=manifest, timeout=10,
                       headers={"Authorization": f"Bearer {token.json()['token']}",
                                "Content-Type": ecr.MANIFEST_V2})
    assert put.status_code == 400
    assert put.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert stored(store, region, "partial", "v1") is None
