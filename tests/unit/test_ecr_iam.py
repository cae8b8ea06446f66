"""ECR in IAM: each operation's action and repository ARN, and what the managed policies
that name ECR allow (AWS's documents: the ECS roles pull; the registry's own policies read,
push, or administer)."""

from __future__ import annotations

import pytest

from nozama.model import iam_managed_policies as managed
from nozama.model import iam_resources
from nozama.model.iam_policy import Decision, evaluate

REPOSITORY = "arn:aws:ecr:eu-west-1:000000000000:repository/team/web"


@pytest.mark.parametrize("operation, params, resource", [
    ("CreateRepository", {"repositoryName": "team/web"}, REPOSITORY),
    ("BatchDeleteImage", {"repositoryName": "team/web", "imageIds": []}, REPOSITORY),
    ("PutLifecyclePolicy", {"repositoryName": "team/web"}, REPOSITORY),
    ("DescribeRepositories", {"repositoryNames": ["team/web"]}, REPOSITORY),
    ("DescribeRepositories", {}, "*"),
    ("GetAuthorizationToken", {}, "*"),
    ("TagResource", {"resourceArn": REPOSITORY, "tags": []}, REPOSITORY),
    ("ListImages", {"repositoryName": "team/web", "registryId": "111111111111"},
     "arn:aws:ecr:eu-west-1:111111111111:repository/team/web"),
])
def test_operations_are_authorized_against_the_repository(operation, params, resource):
    assert iam_resources.action("ecr", operation) == f"ecr:{operation}"
    assert iam_resources.resource("ecr", operation, params, "eu-west-1",
                                  "000000000000") == resource


def _allows(policy_name: str, action: str, resource: str = REPOSITORY) -> bool:
    policy = next(p for p in managed.BY_ARN.values() if p.name == policy_name)
    return evaluate([policy.document], action, resource) is Decision.ALLOW


PULL = ("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")


@pytest.mark.parametrize("name", ["AmazonEC2ContainerServiceforEC2Role",
                                  "AmazonECSTaskExecutionRolePolicy",
                                  "AmazonEC2ContainerRegistryReadOnly",
                                  "AmazonEC2ContainerRegistryPowerUser",
                                  "AmazonEC2ContainerRegistryFullAccess"])
def test_the_ecs_roles_and_registry_policies_may_pull(name):
    assert all(_allows(name, action) for action in PULL)


def test_what_each_registry_policy_adds():
    assert not _allows("AmazonEC2ContainerRegistryReadOnly", "ecr:PutImage")
    assert _allows("AmazonEC2ContainerRegistryReadOnly", "ecr:DescribeImages")
    assert _allows("AmazonEC2ContainerRegistryPowerUser", "ecr:PutImage")
    assert _allows("AmazonEC2ContainerRegistryPowerUser", "ecr:InitiateLayerUpload")
    assert not _allows("AmazonEC2ContainerRegistryPowerUser", "ecr:DeleteRepository")
    assert not _allows("AmazonEC2ContainerRegistryPowerUser", "ecr:CreateRepository")
    assert _allows("AmazonEC2ContainerRegistryFullAccess", "ecr:DeleteRepository")
    assert not _allows("AmazonECSTaskExecutionRolePolicy", "ecr:PutImage")
    assert _allows("AmazonECSTaskExecutionRolePolicy", "logs:PutLogEvents", "*")
    assert not _allows("AmazonEC2ContainerServiceforEC2Role", "ecr:PutImage")
    assert _allows("ReadOnlyAccess", "ecr:BatchGetImage")
    assert not _allows("ReadOnlyAccess", "ecr:CreateRepository")
