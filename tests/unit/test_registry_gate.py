"""The gate's token realm: which ECR passwords get a registry token, for what."""

import asyncio
import base64
import json
import os
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from nozama.kernel.clock import FakeClock
from nozama.kernel.http import HttpRequest
from nozama.model import ecr_authorization as ea
from nozama.model import ecr_names
from nozama.registry import gate, tokens
from nozama.store import Store, access_keys, ecr_images, ecr_repositories, iam, server_keys
from nozama.store.db import sqlite_url

ACCOUNT = "000000000000"
REGION = "us-east-1"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/puller"
REPO_ARN = ecr_names.repository_arn(REGION, ACCOUNT, "web")


class World:
    def __init__(self, tmp_path):
        self.clock = FakeClock()
        self.store = Store.open(sqlite_url(tmp_path / "data"))
        now = self.clock.now()
        with self.store.write() as conn:
            self.key = server_keys.key(conn, ea.KEY_NAME, lambda: os.urandom(32))
            self.signer = tokens.signer(conn, now)
            for name, mutability in (("web", "MUTABLE"), ("locked", "IMMUTABLE")):
                ecr_repositories.create(conn, REGION, ACCOUNT, name, ecr_names.repository_arn(
                    REGION, ACCOUNT, name), now, mutability, {})
            iam.create_user(conn, ACCOUNT, "puller", "AIDAPULLER0000000000", USER_ARN, "/", now)
            iam.put_policy(conn, ACCOUNT, "user", "puller", "inline", "pull", json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": REPO_ARN}]}))
            access_keys.insert(conn, "AKIAPULLER0000000000", ACCOUNT, "user", "puller",
                               b"sealed", now)
        self.gate = gate.Gate(self.store, self.clock, "http://127.0.0.1:9", self.signer,
                              "ecr.test")

    def password(self, key_id="AKIAPULLER0000000000", arn=USER_ARN, hours=12, key=None):
        return ea.mint_password(key or self.key, ea.Authorization(
            key_id, arn, REGION, self.clock.now() + timedelta(hours=hours)))

    def token(self, password, *scopes, user="AWS"):
        query = urlencode([("service", "ecr.test")] + [("scope", s) for s in scopes])
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        request = HttpRequest("GET", gate.TOKEN_PATH, gate.TOKEN_PATH, query,
                              {"authorization": f"Basic {auth}"}, b"")
        response = self.gate.handle(request)
        return response.status, json.loads(response.body)


@pytest.fixture
def world(tmp_path):
    found = World(tmp_path)
    yield found
    found.store.close()


def access_of(body):
    claims = body["token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["access"]


def test_a_login_gets_a_token_with_no_access(world):
    status, body = world.token(world.password())
    assert status == 200 and body["expires_in"] == 300 and access_of(body) == []


def test_a_pull_is_granted_as_the_policy_allows(world):
    status, body = world.token(world.password(), "repository:us-east-1/web:pull")
    assert status == 200
    assert access_of(body) == [{"type": "repository", "name": "us-east-1/web",
                                "actions": ["pull"]}]


def test_a_push_the_policy_does_not_allow_is_denied_with_iams_sentence(world):
    status, body = world.token(world.password(), "repository:us-east-1/web:push,pull")
    assert status == 403
    error = body["errors"][0]
    assert error["code"] == "DENIED"
    assert error["message"].startswith(
        f"User: {USER_ARN} is not authorized to perform: ecr:PutImage on resource: {REPO_ARN}")


def test_a_mount_source_gets_only_what_is_allowed_of_it(world):
    status, body = world.token(world.password(), "repository:us-east-1/web:pull",
                               "repository:us-east-1/locked:pull")
    assert status == 200 and [a["name"] for a in access_of(body)] == ["us-east-1/web"]


def test_a_missing_repository_is_ecrs_name_unknown(world):
    status, body = world.token(world.password(), "repository:us-east-1/nope:push,pull")
    assert status == 404
    assert body["errors"][0] == {"code": "NAME_UNKNOWN", "detail": None, "message": (
        "The repository with name 'nope' does not exist in the registry with id "
        "'000000000000'")}
    # Another region's password does not see this region's repositories.
    status, _ = world.token(world.password(), "repository:eu-west-1/web:pull")
    assert status == 404


@pytest.mark.parametrize("case", ["forged", "expired", "inactive", "not AWS", "garbage"])
def test_bad_passwords_are_bad_credentials(world, case):
    password = world.password()
    user = "AWS"
    if case == "forged":
        password = world.password(key=os.urandom(32))
    elif case == "expired":
        world.clock.advance(12 * 3600 + 1)
    elif case == "inactive":
        with world.store.write() as conn:
            access_keys.set_status(conn, "AKIAPULLER0000000000", "Inactive")
    elif case == "not AWS":
        user = "admin"
    else:
        password = "not-a-password"
    assert world.token(password, "repository:us-east-1/web:pull", user=user) == (
        401, {"details": "bad credentials"})


def test_the_control_planes_own_password_is_the_account_root(world):
    password = world.password(key_id=ea.SERVICE_KEY_ID, arn=f"arn:aws:iam::{ACCOUNT}:root")
    status, body = world.token(password, "repository:us-east-1/web:push,pull")
    assert status == 200 and access_of(body)[0]["actions"] == ["push", "pull"]


def test_an_immutable_tag_cannot_be_moved_and_nothing_is_forwarded(world):
    now = world.clock.now()
    with world.store.write() as conn:
        repo = ecr_repositories.get(conn, REGION, ACCOUNT, "locked")
        ecr_images.record_push(conn, repo.id, "sha256:" + "a" * 64, "{}", "x", 1, now, "v1")
    body = b'{"schemaVersion": 2, "layers": []}'
    _, login = world.token(world.password(key_id=ea.SERVICE_KEY_ID,
                                          arn=f"arn:aws:iam::{ACCOUNT}:root"))
    request = HttpRequest("PUT", "/v2/us-east-1/locked/manifests/v1",
                          "/v2/us-east-1/locked/manifests/v1", "",
                          {"authorization": f"Bearer {login['token']}",
                           "content-type": "application/json"}, body)
    response = asyncio.run(world.gate.handle(request))   # the backend port is closed
    assert response.status == 400
    assert json.loads(response.body)["errors"][0]["code"] == "TAG_INVALID"
    assert "cannot be overwritten because the repository is immutable" in response.body.decode()


def test_a_name_another_account_also_uses_is_the_callers_repository(world):
    # Distribution's names carry no account; the caller's account decides which one.
    now = world.clock.now()
    with world.store.write() as conn:
        for account in ("111122223333", ACCOUNT):
            ecr_repositories.create(conn, REGION, account, "shared", ecr_names.repository_arn(
                REGION, account, "shared"), now, "MUTABLE", {})
    root = world.password(key_id=ea.SERVICE_KEY_ID, arn=f"arn:aws:iam::{ACCOUNT}:root")
    status, body = world.token(root, "repository:us-east-1/shared:push,pull")
    assert status == 200 and access_of(body)[0]["actions"] == ["push", "pull"]


def test_only_this_gates_tokens_name_a_pusher(world):
    _, login = world.token(world.password())
    assert tokens.subject(world.signer, login["token"]) == USER_ARN
    other = tokens.new_signer(world.clock.now())
    forged = tokens.mint(other, "ecr.test", USER_ARN, [], world.clock.now())
    assert tokens.subject(world.signer, forged) is None
    assert tokens.subject(world.signer, "x") is None
