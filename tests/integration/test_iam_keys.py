"""Access keys at rest and the lookup the SigV4 verifier calls, on both stores, in-process.

The handlers run with a request context as the gateway makes it, with the signer's
access key (or the verifier's credentials) in it, as the verifier will give them.
"""

from __future__ import annotations

import json
import stat

import pytest
import sqlalchemy

from nozama.aws import registry
from nozama.kernel import errors
from nozama.kernel.clock import FakeClock
from nozama.kernel.context import RequestContext
from nozama.store import Store, admin_key
from nozama.store.access_keys import CACHE_SECONDS, AccessKeys
from nozama.store.db import normalize_url
from nozama.store.sealing import KeyMismatch, Sealer, load_key

pytestmark = pytest.mark.store_matrix
ACCOUNT = "000000000000"


@pytest.fixture
def world(store_url, tmp_path):
    store = Store.open(store_url)
    clock = FakeClock()
    key, path = load_key(tmp_path / "data")
    sealer = Sealer(key)
    with store.write() as conn:
        sealer.check(conn, path)
    store.access_keys = AccessKeys(store, sealer, clock)
    yield store, clock, tmp_path / "data"
    store.close()


def call(store, clock, service: str, operation: str, access_key_id: str = "", caller=None,
         **params):
    ctx = RequestContext("us-east-1", ACCOUNT, "r", store, clock, access_key_id=access_key_id,
                         caller=caller)
    return registry()[service].operations[operation](ctx, params)


def _user_with_key(store, clock, name="alice", *policies):
    call(store, clock, "iam", "CreateUser", UserName=name)
    for n, document in enumerate(policies):
        call(store, clock, "iam", "PutUserPolicy", UserName=name, PolicyName=f"p{n}",
             PolicyDocument=json.dumps(document))
    return call(store, clock, "iam", "CreateAccessKey", UserName=name)["AccessKey"]


ALLOW_ECS = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]}


def test_lookup_answers_the_secret_and_the_principal_with_its_policies(world):
    store, clock, _ = world
    key = _user_with_key(store, clock, "alice", ALLOW_ECS)
    call(store, clock, "iam", "AttachUserPolicy", UserName="alice",
         PolicyArn="arn:aws:iam::aws:policy/CloudWatchLogsFullAccess")
    store.access_keys.forget(key["AccessKeyId"])
    found = store.access_keys.lookup(key["AccessKeyId"], None)
    assert found.secret_access_key == key["SecretAccessKey"]
    assert found.principal.arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert found.principal.account == ACCOUNT and found.principal.kind == "user"
    assert ALLOW_ECS in found.principal.policies
    assert any(s["Action"][0] == "logs:*" for p in found.principal.policies
               for s in p["Statement"])
    assert store.access_keys.lookup("AKIANOSUCHKEY0000000", None) is None
    assert store.access_keys.lookup("' OR 1=1 --", None) is None
    assert store.access_keys.lookup(key["AccessKeyId"], "a-token-it-does-not-have") is None


def test_secrets_are_not_in_clear_in_the_database(world, store_url):
    store, clock, _ = world
    key = _user_with_key(store, clock)
    engine = sqlalchemy.create_engine(normalize_url(store_url))
    with engine.connect() as conn:
        dump = [tuple(row) for table in ("access_keys", "server_keys")
                for row in conn.exec_driver_sql(f"SELECT * FROM {table}")]
    engine.dispose()
    text = repr(dump)
    assert key["AccessKeyId"] in text
    assert key["SecretAccessKey"] not in text
    assert key["SecretAccessKey"].encode() not in b"".join(
        bytes(v) for row in dump for v in row if isinstance(v, (bytes, memoryview)))


def test_an_inactive_key_is_refused_at_once_on_this_server_and_active_again(world):
    store, clock, _ = world
    key = _user_with_key(store, clock)
    key_id = key["AccessKeyId"]
    assert store.access_keys.lookup(key_id, None) is not None
    call(store, clock, "iam", "UpdateAccessKey", UserName="alice", AccessKeyId=key_id,
         Status="Inactive")
    assert store.access_keys.lookup(key_id, None) is None
    call(store, clock, "iam", "UpdateAccessKey", UserName="alice", AccessKeyId=key_id,
         Status="Active")
    assert store.access_keys.lookup(key_id, None) is not None
    call(store, clock, "iam", "DeleteAccessKey", UserName="alice", AccessKeyId=key_id)
    assert store.access_keys.lookup(key_id, None) is None


def test_another_server_sees_a_change_within_the_cache_ttl(world):
    store, clock, data = world
    key = _user_with_key(store, clock)
    other = AccessKeys(store, store.access_keys.sealer, clock)   # a second server's cache
    assert other.lookup(key["AccessKeyId"], None) is not None
    call(store, clock, "iam", "UpdateAccessKey", UserName="alice",
         AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert other.lookup(key["AccessKeyId"], None) is not None     # still cached there
    clock.advance(CACHE_SECONDS + 0.1)
    assert other.lookup(key["AccessKeyId"], None) is None


def test_get_caller_identity_names_the_keys_principal_and_the_root_otherwise(world):
    store, clock, _ = world
    key = _user_with_key(store, clock)
    user = call(store, clock, "sts", "GetCallerIdentity", access_key_id=key["AccessKeyId"])
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert user["UserId"].startswith("AIDA") and user["Account"] == ACCOUNT
    unknown = call(store, clock, "sts", "GetCallerIdentity", access_key_id="AKIDSOMETHING")
    assert unknown == {"UserId": ACCOUNT, "Account": ACCOUNT,
                       "Arn": f"arn:aws:iam::{ACCOUNT}:root"}


TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "sts:AssumeRole"}]}


def test_assume_role_needs_the_callers_policy_and_the_roles_trust(world):
    store, clock, _ = world
    role = call(store, clock, "iam", "CreateRole", RoleName="deployer",
                AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    call(store, clock, "iam", "AttachRolePolicy", RoleName="deployer",
         PolicyArn="arn:aws:iam::aws:policy/AmazonECS_FullAccess")
    plain = _user_with_key(store, clock, "plain")
    with pytest.raises(errors.ServiceError) as info:
        call(store, clock, "sts", "AssumeRole", access_key_id=plain["AccessKeyId"],
             RoleArn=role["Arn"], RoleSessionName="s")
    assert info.value.code == "AccessDenied"
    assert info.value.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/plain is not authorized to perform: "
        f"sts:AssumeRole on resource: {role['Arn']} because no identity-based policy allows "
        "the sts:AssumeRole action")
    allowed = _user_with_key(store, clock, "bob", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    out = call(store, clock, "sts", "AssumeRole", access_key_id=allowed["AccessKeyId"],
               RoleArn=role["Arn"], RoleSessionName="deploy-1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert out["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/deploy-1"
    found = store.access_keys.lookup(creds["AccessKeyId"], creds["SessionToken"])
    assert found.secret_access_key == creds["SecretAccessKey"]
    assert found.principal.arn == out["AssumedRoleUser"]["Arn"]
    assert found.principal.policies   # the role's AmazonECS_FullAccess
    assert store.access_keys.lookup(creds["AccessKeyId"], None) is None
    assert store.access_keys.lookup(creds["AccessKeyId"], creds["SessionToken"] + "x") is None
    me = call(store, clock, "sts", "GetCallerIdentity", caller=found.principal)
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"]
    clock.advance(901)
    # Expired: still found, with its expiration, for the verifier's ExpiredToken.
    late = store.access_keys.lookup(creds["AccessKeyId"], creds["SessionToken"])
    assert late.expires_at <= clock.now()
    assert store.access_keys.lookup(creds["AccessKeyId"], "not its token") is None
    # Through a verifying gateway, a request signed with them is refused as AWS does.
    from nozama.api.gateway import Gateway
    from unit.test_sigv4 import ecs_request
    gateway = Gateway(store, clock, verify_signatures=True,
                      credentials_lookup=store.access_keys.lookup)
    answer = gateway.handle(ecs_request(key=creds["AccessKeyId"],
                                        secret=creds["SecretAccessKey"],
                                        token=creds["SessionToken"], when=clock.now()))
    assert answer.status == 403 and b"ExpiredTokenException" in answer.body


def test_a_role_that_does_not_trust_the_caller_or_does_not_exist_is_access_denied(world):
    store, clock, _ = world
    only_lambda = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = call(store, clock, "iam", "CreateRole", RoleName="fn",
                AssumeRolePolicyDocument=json.dumps(only_lambda))["Role"]
    for arn in (role["Arn"], f"arn:aws:iam::{ACCOUNT}:role/nope"):
        with pytest.raises(errors.ServiceError) as info:
            call(store, clock, "sts", "AssumeRole", RoleArn=arn, RoleSessionName="s")
        assert info.value.code == "AccessDenied"
        assert info.value.message == (f"User: arn:aws:iam::{ACCOUNT}:root is not authorized "
                                      f"to perform: sts:AssumeRole on resource: {arn}")


def test_a_deleted_roles_sessions_end_and_a_new_role_of_its_name_does_not_inherit_them(world):
    store, clock, _ = world
    role = call(store, clock, "iam", "CreateRole", RoleName="r",
                AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    creds = call(store, clock, "sts", "AssumeRole", RoleArn=role["Arn"],
                 RoleSessionName="s")["Credentials"]
    call(store, clock, "iam", "DeleteRole", RoleName="r")
    call(store, clock, "iam", "CreateRole", RoleName="r",
         AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert store.access_keys.lookup(creds["AccessKeyId"], creds["SessionToken"]) is None


def test_the_bootstrap_key_is_made_once_and_is_the_same_after_a_restart(world):
    store, clock, data = world
    first = admin_key.ensure(store, store.access_keys, data, ACCOUNT, clock.now())
    assert first.created and first.access_key_id.startswith("AKIA")
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert admin_key.read(data) == (first.access_key_id, first.secret_access_key)
    again = admin_key.ensure(store, store.access_keys, data, ACCOUNT, clock.now())
    assert not again.created
    assert (again.access_key_id, again.secret_access_key) == \
        (first.access_key_id, first.secret_access_key)
    found = store.access_keys.lookup(first.access_key_id, None)
    assert found.principal.is_root and found.secret_access_key == first.secret_access_key
    first.path.unlink()     # a lost file comes back from the sealed copy, not a new key
    assert admin_key.ensure(store, store.access_keys, data, ACCOUNT,
                            clock.now()).access_key_id == first.access_key_id
    assert admin_key.read(data)[0] == first.access_key_id


def test_a_server_with_another_sealing_key_refuses_to_start(world, tmp_path):
    store, _, _ = world
    key, path = load_key(tmp_path / "elsewhere")
    with pytest.raises(KeyMismatch, match="copy secrets.key"):
        with store.write() as conn:
            Sealer(key).check(conn, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
