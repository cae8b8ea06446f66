"""IAM and STS through boto3 against a live server, on both stores: users, access keys,
policies, roles, GetCallerIdentity and AssumeRole, every error IAM answers, and that a
refused request changes nothing. The bootstrap administrator key at the first start.

IAM is one per account, shared by the session's server: each test names its users and
roles with a prefix of its own.
"""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from support.errors import error_of

pytestmark = pytest.mark.store_matrix
ACCOUNT = "000000000000"
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]})
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture
def iam(server):
    return server.client("iam")


@pytest.fixture
def sts(server):
    return server.client("sts")


@pytest.fixture
def name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def refused(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    return error_of(info)


def test_users_are_created_got_listed_and_deleted(iam, name):
    user = iam.create_user(UserName=name, Path="/team/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 20
    assert iam.get_user(UserName=name.upper())["User"] == user   # names ignore case
    listed = iam.list_users(PathPrefix="/team/")["Users"]
    assert user in listed
    assert refused(iam.create_user, UserName=name.upper()) == (
        "EntityAlreadyExists", f"User with name {name.upper()} already exists.")
    iam.delete_user(UserName=name)
    assert refused(iam.get_user, UserName=name) == (
        "NoSuchEntity", f"The user with name {name} cannot be found.")
    assert refused(iam.delete_user, UserName=name)[0] == "NoSuchEntity"


def test_list_users_pages_with_marker(iam, name):
    for n in range(3):
        iam.create_user(UserName=f"{name}-{n}", Path=f"/{name}/")
    first = iam.list_users(PathPrefix=f"/{name}/", MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2
    rest = iam.list_users(PathPrefix=f"/{name}/", MaxItems=2, Marker=first["Marker"])
    assert not rest["IsTruncated"]
    assert [u["UserName"] for u in first["Users"] + rest["Users"]] == \
        [f"{name}-{n}" for n in range(3)]
    assert refused(iam.list_users, Marker="garbage")[0] == "ValidationError"


@pytest.mark.parametrize("bad, code", [
    ("a" * 65, "ValidationError"), ("bad name", "ValidationError"),
    ("x/y", "ValidationError"), ("'; DROP TABLE iam_users; --", "ValidationError")])
def test_a_bad_user_name_is_a_validation_error_and_makes_nothing(iam, bad, code):
    before = iam.list_users()["Users"]
    assert refused(iam.create_user, UserName=bad)[0] == code
    assert iam.list_users()["Users"] == before


def test_a_bad_path_is_a_validation_error(iam, name):
    assert refused(iam.create_user, UserName=name, Path="no-slashes")[0] == "ValidationError"
    assert refused(iam.get_user, UserName=name)[0] == "NoSuchEntity"


def test_access_keys_two_at_most_inactive_and_deleted(iam, name):
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    second = iam.create_access_key(UserName=name)["AccessKey"]
    assert refused(iam.create_access_key, UserName=name) == (
        "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    iam.update_access_key(UserName=name, AccessKeyId=first["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"]
                for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses[first["AccessKeyId"]] == "Inactive"
    assert refused(iam.update_access_key, UserName=name, AccessKeyId="AKIANOSUCHKEY0000000",
                   Status="Active") == (
        "NoSuchEntity", "The Access Key with id AKIANOSUCHKEY0000000 cannot be found.")
    assert refused(iam.update_access_key, UserName=name, AccessKeyId=first["AccessKeyId"],
                   Status="Sleeping")[0] == "ValidationError"
    assert refused(iam.delete_user, UserName=name) == (
        "DeleteConflict", "Cannot delete entity, must delete access keys first.")
    for key in (first, second):
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert refused(iam.create_access_key, UserName=f"{name}-nobody")[0] == "NoSuchEntity"
    iam.delete_user(UserName=name)


def test_inline_and_managed_user_policies(iam, name):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
    got = iam.get_user_policy(UserName=name, PolicyName="all")
    assert got["PolicyDocument"] == json.loads(ALLOW_ALL)
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["all"]
    assert refused(iam.get_user_policy, UserName=name, PolicyName="none") == (
        "NoSuchEntity", "The user policy with name none cannot be found.")
    assert refused(iam.put_user_policy, UserName=name, PolicyName="bad",
                   PolicyDocument="{not json") == ("MalformedPolicyDocument",
                                                   "Syntax errors in policy.")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["all"]
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)      # again: no change
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}]
    assert refused(iam.attach_user_policy, UserName=name,
                   PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy") == (
        "NoSuchEntity",
        "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable.")
    assert refused(iam.delete_user, UserName=name) == (
        "DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_user_policy(UserName=name, PolicyName="all")
    assert refused(iam.delete_user, UserName=name) == (
        "DeleteConflict", "Cannot delete entity, must detach all policies first.")
    iam.detach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    assert refused(iam.detach_user_policy, UserName=name, PolicyArn=READ_ONLY) == (
        "NoSuchEntity", f"Policy {READ_ONLY} was not found.")
    iam.delete_user(UserName=name)


def test_get_policy_of_an_aws_managed_policy(iam):
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    assert policy["PolicyName"] == "AdministratorAccess" and policy["IsAttachable"]
    role_policy = iam.get_policy(
        PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role")
    assert role_policy["Policy"]["Path"] == "/service-role/"
    assert refused(iam.get_policy, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/mine") == (
        "NoSuchEntity", f"Policy arn:aws:iam::{ACCOUNT}:policy/mine was not found.")


def test_roles_with_trust_policies_and_their_policies(iam, name):
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST,
                           Description="d", MaxSessionDuration=7200)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 7200
    assert name in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert refused(iam.create_role, RoleName=name, AssumeRolePolicyDocument=TRUST)[0] == \
        "EntityAlreadyExists"
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=ALLOW_ALL)
    assert iam.get_role_policy(RoleName=name, PolicyName="p")["PolicyDocument"] == \
        json.loads(ALLOW_ALL)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["p"]
    iam.attach_role_policy(RoleName=name, PolicyArn=READ_ONLY)
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"][0][
        "PolicyArn"] == READ_ONLY
    assert refused(iam.delete_role, RoleName=name)[0] == "DeleteConflict"
    iam.delete_role_policy(RoleName=name, PolicyName="p")
    assert refused(iam.delete_role_policy, RoleName=name, PolicyName="p") == (
        "NoSuchEntity", "The role policy with name p cannot be found.")
    iam.detach_role_policy(RoleName=name, PolicyArn=READ_ONLY)
    iam.delete_role(RoleName=name)
    assert refused(iam.get_role, RoleName=name) == (
        "NoSuchEntity", f"The role with name {name} cannot be found.")


@pytest.mark.parametrize("document, message", [
    ("[", "Syntax errors in policy."),
    (json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole"}]}), "Missing required field Principal"),
    (ALLOW_ALL, "Has prohibited field Resource"),
])
def test_a_malformed_trust_policy_makes_no_role(iam, name, document, message):
    assert refused(iam.create_role, RoleName=name, AssumeRolePolicyDocument=document) == (
        "MalformedPolicyDocument", message)
    assert refused(iam.get_role, RoleName=name)[0] == "NoSuchEntity"


def test_get_caller_identity_of_a_key_nozama_does_not_know_is_the_root(sts):
    assert {k: v for k, v in sts.get_caller_identity().items() if k != "ResponseMetadata"} \
        == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}


def test_assume_role_gives_temporary_credentials(iam, sts, name):
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert creds["SessionToken"] and creds["Expiration"]
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:s1",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1"}
    code, message = refused(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s2",
                            DurationSeconds=7200)
    assert (code, message) == ("ValidationError", "The requested DurationSeconds exceeds the "
                                                  "MaxSessionDuration set for this role.")
    nobody = f"arn:aws:iam::{ACCOUNT}:role/{name}-nobody"
    assert refused(sts.assume_role, RoleArn=nobody, RoleSessionName="s4") == (
        "AccessDenied", f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
                        f"sts:AssumeRole on resource: {nobody}")


def test_the_bootstrap_key_is_printed_once_saved_0600_and_the_same_after_restart(own_server):
    own_server.start()
    data = Path(own_server.store_args[own_server.store_args.index("--data-dir") + 1])
    path = data / "admin-credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    key_id = text.split("aws_access_key_id = ")[1].split()[0]
    secret = text.split("aws_secret_access_key = ")[1].split()[0]
    assert key_id.startswith("AKIA") and len(secret) == 40
    own_server.stop()
    own_server.start()
    assert path.read_text() == text
    log = own_server.log_path.read_text()
    assert log.count(f"export AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret}") == 1
    own_server.stop()


def test_get_caller_identity_names_the_user_whose_key_signed(iam, server, name):
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    theirs = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
    found = theirs.get_caller_identity()
    assert (found["Arn"], found["UserId"], found["Account"]) == (user["Arn"], user["UserId"],
                                                                 ACCOUNT)
