"""ARNs in AWS's formats, and reading resource references back out of them."""

from __future__ import annotations

from dataclasses import dataclass


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition(region)}:{service}:{region}:{account}:{resource}"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        return self.resource.split("/", 1)[0].split(":", 1)[0]

    @property
    def resource_path(self) -> str:
        return self.resource.split("/", 1)[1] if "/" in self.resource else ""


def parse(text: str) -> Arn | None:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[5]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def is_arn(text: str) -> bool:
    return text.startswith("arn:")


# ECS resources.

def cluster_arn(region: str, account: str, name: str) -> str:
    return arn("ecs", region, account, f"cluster/{name}")


def task_definition_arn(region: str, account: str, family: str, revision: int) -> str:
    return arn("ecs", region, account, f"task-definition/{family}:{revision}")


def container_instance_arn(region: str, account: str, cluster: str, instance_id: str) -> str:
    return arn("ecs", region, account, f"container-instance/{cluster}/{instance_id}")


def name_of(reference: str) -> str:
    """The last path element of an ARN, or the reference itself when it is a name."""
    return reference.rsplit("/", 1)[-1] if is_arn(reference) else reference
