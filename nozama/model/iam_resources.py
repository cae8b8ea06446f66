"""Which IAM action and resource ARN each operation is authorized against.

After AWS's Service Authorization Reference ("Actions, resources, and condition keys
for ..."): an operation's IAM action is `<prefix>:<Operation>` with the service's
prefix (ELBv2's is elasticloadbalancing), and its resource is the ARN of the resource
type the reference lists as required, built from the request's own parameters. The
operations the reference lists without a resource type (List*, most Describe*, EC2's,
the Create* of resources whose ARN is not known yet) are authorized against `*`.

Pure: a parameter that names a resource by name is turned into its ARN here without
reading the store (a task definition named by family alone, with no revision, is
`task-definition/<family>:*`, so a policy on one revision does not cover "the latest").
"""

from __future__ import annotations

from typing import Callable

from nozama.model import arns

# botocore service name -> IAM action prefix.
PREFIXES = {"ecs": "ecs", "elbv2": "elasticloadbalancing", "lambda": "lambda",
            "logs": "logs", "cloudwatch": "cloudwatch", "acm": "acm", "ec2": "ec2",
            "iam": "iam", "sts": "sts", "ecr": "ecr"}

Resolver = Callable[[dict, str, str], str]


def action(service: str, operation: str) -> str:
    return f"{PREFIXES.get(service, service)}:{operation}"


def resource(service: str, operation: str, params: dict, region: str, account: str) -> str:
    """The ARN `operation` of `service` is authorized against, or "*"."""
    resolver = _TABLE.get(service, {}).get(operation)
    if resolver is None:
        return "*"
    try:
        found = resolver(params, region, account)
    except (KeyError, IndexError, TypeError, AttributeError):
        return "*"   # a parameter missing or of the wrong type: validation refuses it
    return found if isinstance(found, str) and found else "*"


# ---------------------------------------------------------------- ECS

def _name(value: str) -> str:
    """A name, or the last part of an ARN that names it."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _cluster(params: dict, region: str, account: str) -> str:
    value = params.get("cluster") or "default"
    return value if value.startswith("arn:") else arns.cluster_arn(region, account, value)


def _service(params: dict, region: str, account: str) -> str:
    value = params.get("service") or params.get("serviceName") or params["services"][0]
    if value.startswith("arn:"):
        return value
    cluster = _name(params.get("cluster") or "default")
    return arns.arn("ecs", region, account, f"service/{cluster}/{value}")


def _task_definition(params: dict, region: str, account: str) -> str:
    value = params["taskDefinition"]
    if value.startswith("arn:"):
        return value
    family, _, revision = value.partition(":")
    return arns.arn("ecs", region, account, f"task-definition/{family}:{revision or '*'}")


def _of_cluster(kind: str, one: str, many: str) -> Resolver:
    """The ARN of a resource of a cluster (a task, a container instance) that the
    request names by ARN or id in `one`, or first in the list `many`."""
    def resolve(params: dict, region: str, account: str) -> str:
        value = params.get(one) or params[many][0]
        if value.startswith("arn:"):
            return value
        cluster = _name(params.get("cluster") or "default")
        return arns.arn("ecs", region, account, f"{kind}/{cluster}/{value}")
    return resolve


_task = _of_cluster("task", "task", "tasks")
_container_instance = _of_cluster("container-instance", "containerInstance",
                                  "containerInstances")


def _param(name: str) -> Resolver:
    """The ARN the request carries in parameter `name` (or the first of a list)."""
    def resolve(params: dict, region: str, account: str) -> str:
        value = params[name]
        return value[0] if isinstance(value, list) else value
    return resolve


_ECS = {
    **dict.fromkeys(("CreateCluster", "DeleteCluster", "DescribeClusters", "UpdateCluster",
                     "UpdateClusterSettings", "PutClusterCapacityProviders",
                     "ListContainerInstances", "RegisterContainerInstance",
                     "DeregisterContainerInstance", "ListServiceDeployments"), _cluster),
    **dict.fromkeys(("CreateService", "UpdateService", "DeleteService",
                     "DescribeServices"), _service),
    **dict.fromkeys(("RunTask", "StartTask"), _task_definition),
    **dict.fromkeys(("StopTask", "DescribeTasks", "GetTaskProtection",
                     "UpdateTaskProtection"), _task),
    **dict.fromkeys(("DescribeContainerInstances", "UpdateContainerInstancesState",
                     "UpdateContainerAgent", "ListTasks"), _container_instance),
    **dict.fromkeys(("TagResource", "UntagResource", "ListTagsForResource"),
                    _param("resourceArn")),
}


def _clusters(params: dict, region: str, account: str) -> str:
    # DescribeClusters names clusters in a list, DeleteCluster one. (The first, as
    # _cluster reads one, without a dict made for it: this runs on every DescribeClusters.)
    if "clusters" in params:
        value = (params["clusters"] or ["default"])[0] or "default"
        return value if value.startswith("arn:") else arns.cluster_arn(region, account, value)
    return _cluster(params, region, account)


def _list_tasks(params: dict, region: str, account: str) -> str:
    # ListTasks filtered by container instance names it; otherwise its cluster.
    if params.get("containerInstance"):
        return _container_instance(params, region, account)
    return _cluster(params, region, account)


def _create_cluster(params: dict, region: str, account: str) -> str:
    return arns.cluster_arn(region, account, params.get("clusterName") or "default")


_ECS.update({"DescribeClusters": _clusters, "DeleteCluster": _cluster,
             "CreateCluster": _create_cluster, "ListTasks": _list_tasks})


# ---------------------------------------------------------------- others

_ELBV2 = {
    **dict.fromkeys(("DeleteLoadBalancer", "ModifyLoadBalancerAttributes", "SetSubnets",
                     "SetSecurityGroups", "SetIpAddressType", "CreateListener"),
                    _param("LoadBalancerArn")),
    **dict.fromkeys(("DeleteListener", "ModifyListener", "CreateRule",
                     "AddListenerCertificates", "RemoveListenerCertificates",
                     "ModifyListenerAttributes"), _param("ListenerArn")),
    **dict.fromkeys(("DeleteRule", "ModifyRule"), _param("RuleArn")),
    **dict.fromkeys(("DeleteTargetGroup", "ModifyTargetGroup", "ModifyTargetGroupAttributes",
                     "RegisterTargets", "DeregisterTargets"), _param("TargetGroupArn")),
    **dict.fromkeys(("AddTags", "RemoveTags"), _param("ResourceArns")),
}


def _function(params: dict, region: str, account: str) -> str:
    name = params["FunctionName"]
    if name.startswith("arn:"):
        return name
    if ":function:" in name:          # "123456789012:function:name", a partial ARN
        name = name.split(":function:", 1)[1]
    qualifier = params.get("Qualifier")
    return arns.arn("lambda", region, account,
                    f"function:{name}" + (f":{qualifier}" if qualifier else ""))


def _log_group(params: dict, region: str, account: str) -> str:
    if params.get("logGroupIdentifier", "").startswith("arn:"):
        return params["logGroupIdentifier"]
    name = params.get("logGroupName") or params["logGroupIdentifier"]
    stream = params.get("logStreamName")
    suffix = f":log-stream:{stream}" if stream else ":*"
    return arns.arn("logs", region, account, f"log-group:{name}{suffix}")


def _alarm(params: dict, region: str, account: str) -> str:
    name = params.get("AlarmName") or params["AlarmNames"][0]
    return arns.arn("cloudwatch", region, account, f"alarm:{name}")


def _iam(kind: str, key: str) -> Resolver:
    def resolve(params: dict, region: str, account: str) -> str:
        return f"arn:aws:iam::{account}:{kind}/{params[key]}"
    return resolve


_LAMBDA = dict.fromkeys((
    "CreateFunction", "DeleteFunction", "GetFunction", "GetFunctionConfiguration",
    "UpdateFunctionCode", "UpdateFunctionConfiguration", "Invoke", "InvokeAsync",
    "PublishVersion", "ListVersionsByFunction", "CreateAlias", "UpdateAlias", "DeleteAlias",
    "GetAlias", "ListAliases", "AddPermission", "RemovePermission", "GetPolicy",
    "PutFunctionConcurrency", "DeleteFunctionConcurrency", "GetFunctionConcurrency",
    "CreateFunctionUrlConfig", "GetFunctionUrlConfig", "UpdateFunctionUrlConfig",
    "DeleteFunctionUrlConfig", "PutFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig"), _function)
_LAMBDA.update(dict.fromkeys(("TagResource", "UntagResource", "ListTags"),
                             _param("Resource")))

_LOGS = dict.fromkeys((
    "CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
    "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents", "FilterLogEvents",
    "DescribeLogStreams", "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup"), _log_group)

_CLOUDWATCH = dict.fromkeys(("PutMetricAlarm", "DeleteAlarms", "SetAlarmState",
                             "DescribeAlarmHistory", "EnableAlarmActions",
                             "DisableAlarmActions"), _alarm)

_ACM = dict.fromkeys(("DescribeCertificate", "DeleteCertificate", "GetCertificate",
                      "AddTagsToCertificate", "RemoveTagsFromCertificate",
                      "ListTagsForCertificate", "RenewCertificate"),
                     _param("CertificateArn"))

_IAM = {
    **dict.fromkeys(("CreateUser", "GetUser", "DeleteUser", "CreateAccessKey",
                     "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey", "PutUserPolicy",
                     "GetUserPolicy", "DeleteUserPolicy", "ListUserPolicies",
                     "AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies"),
                    _iam("user", "UserName")),
    **dict.fromkeys(("CreateRole", "GetRole", "DeleteRole", "PutRolePolicy",
                     "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
                     "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies"),
                    _iam("role", "RoleName")),
    "GetPolicy": _param("PolicyArn"),
}

_STS = {"AssumeRole": _param("RoleArn")}


def _repository(params: dict, region: str, account: str) -> str:
    # registryId names the account whose registry holds the repository (another account's
    # registry is still authorized against its own ARN).
    owner = params.get("registryId") or account
    return f"arn:aws:ecr:{region}:{owner}:repository/{params['repositoryName']}"


# Every ECR operation on a repository takes its ARN; GetAuthorizationToken (and the
# registry-wide settings) take "*". CreateRepository is authorized against the ARN it
# will have, as AWS's reference lists it.
_ECR = dict.fromkeys((
    "CreateRepository", "DescribeRepositories", "DeleteRepository", "ListImages",
    "DescribeImages", "BatchGetImage", "BatchDeleteImage", "BatchCheckLayerAvailability",
    "GetDownloadUrlForLayer", "InitiateLayerUpload", "UploadLayerPart",
    "CompleteLayerUpload", "PutImage", "PutImageTagMutability", "PutLifecyclePolicy",
    "GetLifecyclePolicy", "DeleteLifecyclePolicy", "StartLifecyclePolicyPreview",
    "GetLifecyclePolicyPreview", "PutImageScanningConfiguration",
    "SetRepositoryPolicy", "GetRepositoryPolicy", "DeleteRepositoryPolicy"), _repository)
_ECR.update(dict.fromkeys(("TagResource", "UntagResource", "ListTagsForResource"),
                          _param("resourceArn")))


def _describe_repositories(params: dict, region: str, account: str) -> str:
    # Without names it lists every repository: "*", as a List operation.
    names = params.get("repositoryNames")
    if not names:
        return "*"
    return _repository({**params, "repositoryName": names[0]}, region, account)


_ECR["DescribeRepositories"] = _describe_repositories

_TABLE: dict[str, dict[str, Resolver]] = {
    "ecs": _ECS, "elbv2": _ELBV2, "lambda": _LAMBDA, "logs": _LOGS,
    "cloudwatch": _CLOUDWATCH, "acm": _ACM, "iam": _IAM, "sts": _STS, "ecr": _ECR}
