"""Amazon EC2's networking (the `ec2` protocol): the availability zones, a default VPC
in every region, VPCs, subnets and security groups with their rules, tags and filters,
and the container instances seen as EC2 instances. ELBv2 and ECS check the subnets and
security groups they are given against these (aws/ec2/network.py)."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("ec2", validation_error=errors.ec2.InvalidParameterValue)

# Importing the operation modules registers their handlers.
from nozama.aws.ec2 import instances, security_groups, security_group_rules  # noqa: E402,F401
from nozama.aws.ec2 import subnets, tagging, vpcs, zones  # noqa: E402,F401
