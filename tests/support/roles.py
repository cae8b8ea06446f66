"""The IAM roles that tests' functions and tasks run as.

Lambda refuses a function whose role does not exist or does not trust
lambda.amazonaws.com, and ECS a task definition whose taskRoleArn or executionRoleArn
does not trust ecs-tasks.amazonaws.com (nozama/aws/iam/service_roles.py). IAM is the
account's, not a region's, while tests isolate by region on one server per session:
so tests share one role per service, which `lambda_role(server)` and `task_role(server)`
create the first time a server is asked for it. A role that exists already (another
test made it, or the server was restarted on its store) is the one wanted.
"""

from __future__ import annotations

import json
import weakref

from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
LAMBDA = "lambda.amazonaws.com"
ECS_TASKS = "ecs-tasks.amazonaws.com"
LAMBDA_ROLE_NAME, TASK_ROLE_NAME = "nozama-test-lambda", "nozama-test-task"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{LAMBDA_ROLE_NAME}"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{TASK_ROLE_NAME}"

# The role names each server (a NozamaServer) has been given, so that a test asks once.
_made: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def trust_policy(*services: str) -> str:
    """A trust policy that lets these services assume the role."""
    principal = services[0] if len(services) == 1 else list(services)
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]})


def create_role(iam, name: str, *services: str, path: str = "/") -> str:
    """The ARN of role `name` trusting `services`, created unless it exists."""
    try:
        return iam.create_role(RoleName=name, Path=path,
                               AssumeRolePolicyDocument=trust_policy(*services))["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def _role(server, name: str, service: str) -> str:
    made = _made.setdefault(server, set())
    if name not in made:
        create_role(server.client("iam"), name, service)
        made.add(name)
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def lambda_role(server) -> str:
    """The ARN of a role of `server`'s account that Lambda may assume (LAMBDA_ROLE)."""
    return _role(server, LAMBDA_ROLE_NAME, LAMBDA)


def task_role(server) -> str:
    """The ARN of a role of `server`'s account that ECS tasks may assume (TASK_ROLE), for
    taskRoleArn and executionRoleArn alike."""
    return _role(server, TASK_ROLE_NAME, ECS_TASKS)
