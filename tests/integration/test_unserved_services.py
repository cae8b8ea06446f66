"""Errors in the protocol the client speaks: calls Nozama does not serve say so.

A call to a service Nozama does not serve answers in that service's own protocol
(query XML for SNS and CloudFormation, REST-XML for S3, JSON for DynamoDB), so boto3
raises a ClientError with the reason instead of "Unable to parse response"; and an
operation of a served service that Nozama does not implement answers likewise in
that service's protocol.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support.errors import error_of


@pytest.mark.parametrize("service, call, title", [
    ("sns", lambda c: c.list_topics(), "Amazon Simple Notification Service ('sns')"),
    ("cloudformation", lambda c: c.list_stacks(), "AWS CloudFormation ('cloudformation')"),
    ("s3", lambda c: c.list_buckets(), "Amazon Simple Storage Service ('s3')"),
    ("s3", lambda c: c.create_bucket(Bucket="nozama-bucket"),
     "Amazon Simple Storage Service ('s3')"),
    ("dynamodb", lambda c: c.list_tables(), "Amazon DynamoDB ('dynamodb')"),
], ids=["sns-query", "cloudformation-query", "s3-rest-xml", "s3-put", "dynamodb-json"])
def test_a_service_nozama_does_not_serve_says_so_in_its_own_protocol(server, region, service,
                                                                     call, title):
    with pytest.raises(ClientError) as info:
        call(server.client(service, region))
    code, message = error_of(info)
    assert code == "UnknownServiceException"
    assert message.startswith(f"Nozama does not serve {title}")
    assert "it serves ECS, ECR, ELBv2, Lambda, CloudWatch, CloudWatch Logs, ACM and EC2's " \
        "networking" in message
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("service, call, operation", [
    ("ecs", lambda c: c.create_capacity_provider(
        name="cp", autoScalingGroupProvider={"autoScalingGroupArn": "arn:aws:asg"}),
     "ecs:CreateCapacityProvider"),
    ("elbv2", lambda c: c.describe_trust_stores(), "elbv2:DescribeTrustStores"),
    ("lambda", lambda c: c.list_code_signing_configs(), "lambda:ListCodeSigningConfigs"),
    ("ec2", lambda c: c.describe_images(), "ec2:DescribeImages"),
    ("ecr", lambda c: c.describe_registry(), "ecr:DescribeRegistry"),
], ids=["json", "query", "rest-json", "ec2", "ecr-json"])
def test_an_operation_nozama_does_not_implement_says_so_in_its_services_protocol(
        server, region, service, call, operation):
    with pytest.raises(ClientError) as info:
        call(server.client(service, region))
    code, message = error_of(info)
    assert code == "NotImplemented"
    assert message.startswith(f"Nozama does not implement {operation}")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
