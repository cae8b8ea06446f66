"""The AWS managed policies Nozama knows, as data.

Their documents are AWS's, reduced to the services Nozama serves (ECS, ELBv2, Lambda,
CloudWatch, CloudWatch Logs, ACM, EC2's networking, IAM, STS, ECR): a statement about a
service it does not serve could never apply. They are the same in every account
(arn:aws:iam::aws:policy/<name>), read-only, and attached by ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

ARN_PREFIX = "arn:aws:iam::aws:policy/"
# When every one of them was (for Nozama) created: a fixed date, so GetPolicy is stable.
CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    policy_id: str
    description: str
    document: dict

    @property
    def arn(self) -> str:
        return f"{ARN_PREFIX}{self.path.lstrip('/')}{self.name}"


def _allow(*actions: str, resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource}


def _document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


_READ = ("Describe*", "List*", "Get*")
# What pulling an image from ECR takes (`docker pull`, an agent, a task execution role).
_ECR_PULL = ("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
             "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
_ECR_READ = (*_ECR_PULL, "ecr:GetRepositoryPolicy", "ecr:DescribeRepositories",
             "ecr:ListImages", "ecr:DescribeImages", "ecr:GetLifecyclePolicy",
             "ecr:GetLifecyclePolicyPreview", "ecr:ListTagsForResource",
             "ecr:DescribeImageScanFindings")


def _reads(*prefixes: str) -> tuple[str, ...]:
    return tuple(f"{prefix}:{verb}" for prefix in prefixes for verb in _READ)


_POLICIES = (
    ManagedPolicy("AdministratorAccess", "/", "ANPAIWMBCKSKIEE64ZLYK",
                  "Provides full access to AWS services and resources.",
                  _document(_allow("*"))),
    ManagedPolicy("ReadOnlyAccess", "/", "ANPAILL3HVNFSB6DCOWYQ",
                  "Provides read-only access to AWS services and resources.",
                  _document(_allow(*_reads("ecs", "elasticloadbalancing", "lambda", "logs",
                                           "cloudwatch", "acm", "ec2", "iam", "ecr"),
                                   "ecr:BatchCheck*", "ecr:BatchGet*",
                                   "logs:FilterLogEvents", "logs:StartLiveTail",
                                   "logs:StartQuery", "logs:TestMetricFilter"))),
    ManagedPolicy("AmazonECS_FullAccess", "/", "ANPAJ7S7AN6YQPTJC7IFS",
                  "Provides administrative access to Amazon ECS resources and enables ECS "
                  "features through access to other AWS service resources.",
                  _document(_allow("ecs:*", "elasticloadbalancing:*", "cloudwatch:*",
                                   "logs:CreateLogGroup", "logs:DescribeLogGroups",
                                   "logs:FilterLogEvents", "ec2:Describe*",
                                   "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                                   "lambda:ListFunctions", "acm:ListCertificates",
                                   "acm:DescribeCertificate", "iam:ListRoles",
                                   "iam:ListAttachedRolePolicies", "iam:GetRole"),
                            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                             "Condition": {"StringLike": {"iam:PassedToService":
                                                          "ecs-tasks.amazonaws.com"}}})),
    ManagedPolicy("AmazonEC2ContainerServiceforEC2Role", "/service-role/",
                  "ANPAJLYJCVHC7TQHCSQDS",
                  "Default policy for the Amazon EC2 Role for Amazon EC2 Container Service.",
                  _document(_allow("ec2:DescribeTags", "ecs:CreateCluster",
                                   "ecs:DeregisterContainerInstance", "ecs:DiscoverPollEndpoint",
                                   "ecs:Poll", "ecs:RegisterContainerInstance",
                                   "ecs:StartTelemetrySession", "ecs:UpdateContainerInstancesState",
                                   "ecs:Submit*", "ecr:GetAuthorizationToken",
                                   "ecr:BatchCheckLayerAvailability",
                                   "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
                                   "logs:CreateLogStream", "logs:PutLogEvents"),
                            {"Effect": "Allow", "Action": "ecs:TagResource", "Resource": "*",
                             "Condition": {"StringEquals": {"ecs:CreateAction": [
                                 "CreateCluster", "RegisterContainerInstance"]}}})),
    ManagedPolicy("AmazonECSTaskExecutionRolePolicy", "/service-role/",
                  "ANPAJG4T4G4PV56DE72PY",
                  "Provides access to other AWS service resources that are required to run "
                  "Amazon ECS tasks",
                  _document(_allow(*_ECR_PULL, "logs:CreateLogStream", "logs:PutLogEvents"))),
    ManagedPolicy("AmazonEC2ContainerRegistryReadOnly", "/", "ANPAIFYZPA37OOHVIH7KQ",
                  "Provides read-only access to Amazon EC2 Container Registry repositories.",
                  _document(_allow(*_ECR_READ))),
    ManagedPolicy("AmazonEC2ContainerRegistryPowerUser", "/", "ANPAJDNE5PIHROIBGGDDW",
                  "Provides full access to Amazon EC2 Container Registry repositories, but "
                  "does not allow repository deletion or policy changes.",
                  _document(_allow(*_ECR_READ, "ecr:InitiateLayerUpload",
                                   "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                                   "ecr:PutImage"))),
    ManagedPolicy("AmazonEC2ContainerRegistryFullAccess", "/", "ANPAIESRL7KD7IIVF6V4W",
                  "Provides administrative access to Amazon ECR resources",
                  _document(_allow("ecr:*"),
                            {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
                             "Resource": "*",
                             "Condition": {"StringEquals": {"iam:AWSServiceName": [
                                 "replication.ecr.amazonaws.com"]}}})),
    ManagedPolicy("ElasticLoadBalancingFullAccess", "/", "ANPAIDPMLA3IUUOW47WKU",
                  "Provides full access to Amazon ElasticLoadBalancing, and limited access to "
                  "other services necessary to provide ElasticLoadBalancing features.",
                  _document(_allow("elasticloadbalancing:*", "ec2:DescribeVpcs",
                                   "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                                   "ec2:DescribeInstances", "ec2:DescribeAvailabilityZones",
                                   "cloudwatch:DescribeAlarms", "acm:ListCertificates",
                                   "acm:DescribeCertificate"))),
    ManagedPolicy("ElasticLoadBalancingReadOnly", "/", "ANPAJMO7B7SNFLQ6HH736",
                  "Provides read only access to Amazon ElasticLoadBalancing and dependent "
                  "services",
                  _document(_allow("elasticloadbalancing:Describe*", "ec2:DescribeInstances",
                                   "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                                   "ec2:DescribeVpcs", "ec2:DescribeAvailabilityZones"))),
    ManagedPolicy("AWSLambda_FullAccess", "/", "ANPAZKAPJZG4LJKR7MFLV",
                  "Grants full access to AWS Lambda service, AWS Lambda console features, and "
                  "other related AWS services.",
                  _document(_allow("lambda:*", "cloudwatch:GetMetricData",
                                   "cloudwatch:ListMetrics", "ec2:DescribeSecurityGroups",
                                   "ec2:DescribeSubnets", "ec2:DescribeVpcs", "iam:GetRole",
                                   "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                                   "iam:ListRolePolicies", "iam:ListRoles",
                                   "logs:DescribeLogGroups"),
                            _allow("logs:DescribeLogStreams", "logs:GetLogEvents",
                                   "logs:FilterLogEvents", "logs:StartLiveTail",
                                   resource="arn:aws:logs:*:*:log-group:/aws/lambda/*"),
                            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                             "Condition": {"StringEquals": {"iam:PassedToService":
                                                            "lambda.amazonaws.com"}}})),
    ManagedPolicy("AWSLambda_ReadOnlyAccess", "/", "ANPAZKAPJZG4K5YBMEMC5",
                  "Grants read-only access to AWS Lambda service, AWS Lambda console "
                  "features, and other related AWS services.",
                  _document(_allow("lambda:Get*", "lambda:List*", "cloudwatch:GetMetricData",
                                   "cloudwatch:ListMetrics", "ec2:DescribeSecurityGroups",
                                   "ec2:DescribeSubnets", "ec2:DescribeVpcs", "iam:GetRole",
                                   "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                                   "iam:ListRolePolicies", "iam:ListRoles",
                                   "logs:DescribeLogGroups"),
                            _allow("logs:DescribeLogStreams", "logs:GetLogEvents",
                                   "logs:FilterLogEvents", "logs:StartLiveTail",
                                   resource="arn:aws:logs:*:*:log-group:/aws/lambda/*"))),
    ManagedPolicy("CloudWatchFullAccess", "/", "ANPAIKEABORKUXN6DEAZU",
                  "Provides full access to CloudWatch.",
                  _document(_allow("cloudwatch:*", "logs:*", "ec2:DescribeTags",
                                   "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole"))),
    ManagedPolicy("CloudWatchReadOnlyAccess", "/", "ANPAJN23PDQP7SZQAE3QE",
                  "Provides read only access to CloudWatch",
                  _document(_allow("cloudwatch:Describe*", "cloudwatch:Get*",
                                   "cloudwatch:List*", "logs:Get*", "logs:List*",
                                   "logs:StartQuery", "logs:StopQuery", "logs:Describe*",
                                   "logs:TestMetricFilter", "logs:FilterLogEvents",
                                   "logs:StartLiveTail", "logs:StopLiveTail"))),
    ManagedPolicy("CloudWatchLogsFullAccess", "/", "ANPAJ3ZGNWK2R5HW5BQFO",
                  "Provides full access to CloudWatch Logs",
                  _document(_allow("logs:*", "cloudwatch:GenerateQuery",
                                   "cloudwatch:GenerateQueryResultsSummary"))),
)

BY_ARN: dict[str, ManagedPolicy] = {policy.arn: policy for policy in _POLICIES}


def find(arn: str) -> ManagedPolicy | None:
    return BY_ARN.get(arn)


def document(arn: str) -> dict | None:
    policy = BY_ARN.get(arn)
    return policy.document if policy else None
