"""The roles Lambda and ECS assume for a workload, checked where they are named, as AWS
checks them: CreateFunction and UpdateFunctionConfiguration want a role of the account
that trusts lambda.amazonaws.com; RegisterTaskDefinition's taskRoleArn and
executionRoleArn one that trusts ecs-tasks.amazonaws.com. A refused request creates
and changes nothing, whether or not signatures are verified.

Messages are AWS's: Lambda's "The role defined for the function cannot be assumed by
Lambda." (InvalidParameterValueException) and ECS's "Role is not valid"
(ClientException).
"""

from __future__ import annotations

import json
import uuid

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from support.errors import error_of
from support.packages import zip_package
from support.roles import ECS_TASKS, LAMBDA, create_role
from support.servers import NozamaServer, store_args

# Validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
LAMBDA_REFUSAL = ("InvalidParameterValueException",
                  "The role defined for the function cannot be assumed by Lambda.")
ECS_REFUSAL = ("ClientException", "Role is not valid")
PACKAGE = zip_package(app="def handler(event, context):\n    return event\n")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def role_arn(name: str, account: str = ACCOUNT, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


@pytest.fixture
def iam(server):
    return server.client("iam")


@pytest.fixture
def lam(server, region):
    return server.client("lambda", region)


def bad_roles(iam, trusted: str, other: str) -> dict[str, str]:
    """Role ARNs that `trusted` may not assume, by why not."""
    name = unique("wrong")
    create_role(iam, name, other)
    good = unique("good")
    create_role(iam, good, trusted)
    by_account = unique("account")
    iam.create_role(RoleName=by_account, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole"}]}))
    denied = unique("denied")
    iam.create_role(RoleName=denied, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": trusted}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}]}))
    return {
        "missing": role_arn(unique("missing")),
        "trusting another service": role_arn(name),
        "trusting the account, not the service": role_arn(by_account),
        "trusting it with a Deny": role_arn(denied),
        # The name of a role this account has, in another account's ARN.
        "of another account": role_arn(good, account="111111111111"),
        "under a path that is not its own": role_arn(good, path="/service-role/"),
    }


# --- Lambda --------------------------------------------------------------------------

def configuration(lam, name: str = "orders") -> dict:
    answer = lam.get_function_configuration(FunctionName=name)
    answer.pop("ResponseMetadata")
    return answer


def create_function(lam, name: str, role: str, **params) -> dict:
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                               Handler="app.handler", Code={"ZipFile": PACKAGE}, **params)


def test_a_function_runs_as_a_role_that_trusts_lambda(lam, iam):
    plain = create_role(iam, unique("fn"), LAMBDA)
    both = create_role(iam, unique("both"), ECS_TASKS, LAMBDA, path="/service-role/")
    assert both == role_arn(both.rsplit("/", 1)[1], path="/service-role/")
    assert create_function(lam, "orders", plain)["Role"] == plain
    updated = lam.update_function_configuration(FunctionName="orders", Role=both)
    assert updated["Role"] == both
    assert lam.get_function_configuration(FunctionName="orders")["Role"] == both


def test_create_function_refuses_a_role_lambda_cannot_assume(lam, iam):
    # (An ARN without a name passes the model's pattern: role/?[...]+ takes the slash.)
    refused = {**bad_roles(iam, LAMBDA, ECS_TASKS), "without a name": role_arn("")}
    for why, role in refused.items():
        with pytest.raises(ClientError) as info:
            create_function(lam, "orders", role, Publish=True)
        assert error_of(info) == LAMBDA_REFUSAL, why
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert lam.list_functions()["Functions"] == []
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName="orders")
    assert error_of(info)[0] == "ResourceNotFoundException"


@pytest.mark.parametrize("role", [
    f"arn:aws:iam::{ACCOUNT}:user/alice", "arn:aws:s3:::bucket", "lambda-role",
    f"arn:aws:iam::{ACCOUNT}:role/a role", f"arn:aws:iam::{ACCOUNT[:-1]}:role/r"],
    ids=["a-user", "an-s3-arn", "a-name", "a-space", "short-account"])
def test_a_role_that_is_not_a_role_arn_fails_lambdas_pattern(lam, iam, role):
    with pytest.raises(ClientError) as info:
        create_function(lam, "orders", role)
    code, message = error_of(info)
    assert code == "ValidationException" and "regular expression pattern" in message
    assert lam.list_functions()["Functions"] == []
    create_function(lam, "orders", create_role(iam, unique("fn"), LAMBDA))
    before = configuration(lam)
    with pytest.raises(ClientError) as info:
        lam.update_function_configuration(FunctionName="orders", Role=role)
    assert error_of(info)[0] == "ValidationException"
    assert configuration(lam) == before


def test_update_function_configuration_refuses_a_role_lambda_cannot_assume(lam, iam):
    create_function(lam, "orders", create_role(iam, unique("fn"), LAMBDA))
    before = configuration(lam)
    for why, role in bad_roles(iam, LAMBDA, ECS_TASKS).items():
        with pytest.raises(ClientError) as info:
            # The rest of a refused request is not applied either.
            lam.update_function_configuration(FunctionName="orders", Role=role, Timeout=30,
                                              Description="changed")
        assert error_of(info) == LAMBDA_REFUSAL, why
        assert configuration(lam) == before, why


def test_a_function_whose_role_is_gone_still_takes_other_changes(lam, iam):
    """The role is checked where it is named: AWS keeps a function whose role was
    deleted, and an update that does not name the role is not refused for it."""
    name = unique("gone")
    create_function(lam, "orders", create_role(iam, name, LAMBDA))
    iam.delete_role(RoleName=name)
    changed = lam.update_function_configuration(FunctionName="orders", Timeout=30)
    assert changed["Timeout"] == 30 and changed["Role"] == role_arn(name)
    with pytest.raises(ClientError) as info:
        lam.update_function_configuration(FunctionName="orders", Role=role_arn(name))
    assert error_of(info) == LAMBDA_REFUSAL


# --- ECS -----------------------------------------------------------------------------

def register(ecs, family: str, **roles) -> dict:
    return ecs.register_task_definition(
        family=family, containerDefinitions=[
            {"name": "app", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128}],
        **roles)["taskDefinition"]


def families(ecs, family: str) -> list[str]:
    return ecs.list_task_definition_families(familyPrefix=family, status="ALL")["families"]


def test_a_task_definition_names_roles_that_trust_ecs_tasks(ecs, iam):
    task = create_role(iam, unique("task"), ECS_TASKS)
    execution = create_role(iam, unique("exec"), ECS_TASKS, LAMBDA, path="/ecs/")
    registered = register(ecs, "web", taskRoleArn=task, executionRoleArn=execution)
    assert (registered["taskRoleArn"], registered["executionRoleArn"]) == (task, execution)
    # taskRoleArn takes "the short name or full ARN" of the role (the ECS API reference).
    assert register(ecs, "web", taskRoleArn=task.rsplit("/", 1)[1])["revision"] == 2


@pytest.mark.parametrize("member", ["taskRoleArn", "executionRoleArn"])
def test_register_task_definition_refuses_a_role_ecs_tasks_cannot_assume(ecs, iam, member):
    good = create_role(iam, unique("task"), ECS_TASKS)
    other = "executionRoleArn" if member == "taskRoleArn" else "taskRoleArn"
    refused = {**bad_roles(iam, ECS_TASKS, LAMBDA),
               "a user's ARN": f"arn:aws:iam::{ACCOUNT}:user/alice",
               "an S3 ARN": "arn:aws:s3:::bucket",
               "an ARN without a name": f"arn:aws:iam::{ACCOUNT}:role/",
               "not an ARN nor a name": "no such role!",
               "the name of no role": unique("missing")}
    for why, role in refused.items():
        with pytest.raises(ClientError) as info:
            register(ecs, "web", **{member: role, other: good})
        assert error_of(info) == ECS_REFUSAL, why
    assert families(ecs, "web") == []
    # Nothing was registered, not even a revision number used up.
    assert register(ecs, "web", **{member: good})["revision"] == 1


# --- with signatures verified --------------------------------------------------------

def test_roles_are_checked_when_signatures_are_verified_too(backend, tmp_path):
    server = NozamaServer([*store_args(backend, tmp_path), "--auth", "on"],
                          tmp_path / "server.log").start()
    try:
        text = (tmp_path / "data" / "admin-credentials").read_text()
        key = text.split("aws_access_key_id = ")[1].split()[0]
        secret = text.split("aws_secret_access_key = ")[1].split()[0]

        def client(service: str):
            return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1",
                                aws_access_key_id=key, aws_secret_access_key=secret,
                                config=botocore.config.Config(retries={"max_attempts": 1}))

        iam, lam, ecs = client("iam"), client("lambda"), client("ecs")
        for_tasks = create_role(iam, "for-tasks", ECS_TASKS)
        with pytest.raises(ClientError) as info:
            create_function(lam, "orders", for_tasks)
        assert error_of(info) == LAMBDA_REFUSAL
        with pytest.raises(ClientError) as info:
            register(ecs, "web", taskRoleArn=create_role(iam, "for-functions", LAMBDA))
        assert error_of(info) == ECS_REFUSAL
        assert lam.list_functions()["Functions"] == [] and families(ecs, "web") == []
        assert create_function(lam, "orders", role_arn("for-functions"))["Role"] == \
            role_arn("for-functions")
        assert register(ecs, "web", taskRoleArn=for_tasks)["taskRoleArn"] == for_tasks
    finally:
        server.stop()


# --- iam:PassRole --------------------------------------------------------------------

def user_client(server, iam, region: str, service: str, policy: dict | None = None,
                managed: str | None = None):
    """A client of `service` signed by a new IAM user with `policy` (inline) and/or the
    `managed` policy attached."""
    name = unique("deployer")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="deploy",
                            PolicyDocument=json.dumps(policy))
    if managed is not None:
        iam.attach_user_policy(UserName=name, PolicyArn=f"arn:aws:iam::aws:policy/{managed}")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, boto3.client(service, endpoint_url=server.endpoint, region_name=region,
                              aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"],
                              config=botocore.config.Config(retries={"max_attempts": 1}))


def allow(*statements: tuple) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
        for action, resource, extra in statements]}


def test_naming_a_role_for_a_workload_needs_iam_pass_role(server, iam, region):
    lambda_role = create_role(iam, unique("fn"), LAMBDA)
    task_role = create_role(iam, unique("task"), ECS_TASKS)
    # May create functions and task definitions, but pass no role.
    name, lam = user_client(server, iam, region, "lambda", allow(
        ("lambda:CreateFunction", "*", {}), ("lambda:GetFunction", "*", {})))
    with pytest.raises(ClientError) as denied:
        create_function(lam, "passed", lambda_role)
    assert error_of(denied) == ("AccessDeniedException", (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: "
        f"iam:PassRole on resource: {lambda_role} because no identity-based policy allows "
        "the iam:PassRole action"))
    assert server.client("lambda", region).list_functions()["Functions"] == []
    _, ecs = user_client(server, iam, region, "ecs", allow(
        ("ecs:RegisterTaskDefinition", "*", {}),
        ("iam:PassRole", "*", {"Condition": {
            "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}})))
    # Passing to Lambda only: ECS is refused the role, by name or ARN.
    for reference in (task_role, task_role.rsplit("/", 1)[1]):
        with pytest.raises(ClientError) as refused:
            register(ecs, "passed", taskRoleArn=reference)
        code, message = error_of(refused)
        assert code == "AccessDeniedException"
        assert f"iam:PassRole on resource: {task_role}" in message
    assert families(server.client("ecs", region), "passed") == []
    # AWSLambda_FullAccess passes roles to Lambda (iam:PassedToService), as in AWS.
    _, full = user_client(server, iam, region, "lambda", managed="AWSLambda_FullAccess")
    assert create_function(full, "passed", lambda_role)["Role"] == lambda_role
    # A policy that lets it pass exactly this role to ECS tasks.
    _, deployer = user_client(server, iam, region, "ecs", allow(
        ("ecs:RegisterTaskDefinition", "*", {}),
        ("iam:PassRole", task_role, {"Condition": {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}})))
    assert register(deployer, "passed", taskRoleArn=task_role)["taskRoleArn"] == task_role
