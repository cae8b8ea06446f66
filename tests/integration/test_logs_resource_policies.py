"""CloudWatch Logs resource policies through boto3: put, describe (paged), delete, the
account's limit of 10, log-group-scoped policies with revision ids, bad input.

Expectations follow the CloudWatch Logs API reference (recorded, not enforced).
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "route53.amazonaws.com"},
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]})


@pytest.fixture
def logs(server, region):
    return server.client("logs", region)


def names(listing: dict) -> list[str]:
    return [p["policyName"] for p in listing["resourcePolicies"]]


def test_put_describe_update_and_delete_an_account_policy(logs):
    before = int(time.time() * 1000)
    put = logs.put_resource_policy(policyName="route53", policyDocument=DOCUMENT)
    policy = put["resourcePolicy"]
    assert policy["policyName"] == "route53"
    assert json.loads(policy["policyDocument"]) == json.loads(DOCUMENT)
    assert policy["policyScope"] == "ACCOUNT"
    assert before - 1000 <= policy["lastUpdatedTime"] <= int(time.time() * 1000) + 1000
    assert logs.describe_resource_policies()["resourcePolicies"] == [policy]

    # A put of the same name replaces it.
    changed = DOCUMENT.replace("route53", "delivery.logs")
    logs.put_resource_policy(policyName="route53", policyDocument=changed)
    [stored] = logs.describe_resource_policies()["resourcePolicies"]
    assert stored["policyDocument"] == changed

    logs.delete_resource_policy(policyName="route53")
    assert logs.describe_resource_policies()["resourcePolicies"] == []
    with pytest.raises(ClientError) as info:
        logs.delete_resource_policy(policyName="route53")
    assert error_code(info) == "ResourceNotFoundException"


def test_ten_account_policies_at_most_and_paging(logs):
    for i in range(10):
        logs.put_resource_policy(policyName=f"p{i}", policyDocument=DOCUMENT)
    with pytest.raises(ClientError) as info:
        logs.put_resource_policy(policyName="p10", policyDocument=DOCUMENT)
    assert error_code(info) == "LimitExceededException"
    # Replacing one of the ten is still allowed.
    logs.put_resource_policy(policyName="p3", policyDocument=DOCUMENT)

    first = logs.describe_resource_policies(limit=4)
    assert names(first) == ["p0", "p1", "p2", "p3"]
    second = logs.describe_resource_policies(limit=4, nextToken=first["nextToken"])
    third = logs.describe_resource_policies(limit=4, nextToken=second["nextToken"])
    assert names(second) + names(third) == [f"p{i}" for i in range(4, 10)]
    assert "nextToken" not in third
    with pytest.raises(ClientError) as info:
        logs.describe_resource_policies(nextToken="garbage")
    assert error_code(info) == "InvalidParameterException"


@pytest.mark.parametrize("document", ["{not json", "[1, 2]", '"text"'])
def test_a_document_that_is_not_a_json_object_is_refused(logs, document):
    with pytest.raises(ClientError) as info:
        logs.put_resource_policy(policyName="bad", policyDocument=document)
    assert error_code(info) == "InvalidParameterException"
    assert logs.describe_resource_policies()["resourcePolicies"] == []


def test_a_document_over_51200_characters_is_refused(logs):
    with pytest.raises(ClientError) as info:
        logs.put_resource_policy(policyName="big", policyDocument='{"a": "%s"}' % ("x" * 51200))
    assert error_code(info) == "InvalidParameterException"


def test_a_log_group_policy_has_a_revision_that_writers_must_name(logs, region):
    logs.create_log_group(logGroupName="/scoped")
    arn = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/scoped"
    created = logs.put_resource_policy(policyName="g", policyDocument=DOCUMENT,
                                       resourceArn=arn)
    revision = created["revisionId"]
    assert created["resourcePolicy"]["policyScope"] == "RESOURCE"
    assert created["resourcePolicy"]["resourceArn"] == arn
    assert created["resourcePolicy"]["revisionId"] == revision

    # Account listings do not show it; the resource's does.
    assert logs.describe_resource_policies()["resourcePolicies"] == []
    [listed] = logs.describe_resource_policies(resourceArn=arn, policyScope="RESOURCE")[
        "resourcePolicies"]
    assert listed["policyName"] == "g" and listed["revisionId"] == revision

    with pytest.raises(ClientError) as info:  # a stale or missing revision
        logs.put_resource_policy(policyName="g", policyDocument=DOCUMENT, resourceArn=arn,
                                 expectedRevisionId="stale")
    assert error_code(info) == "OperationAbortedException"
    updated = logs.put_resource_policy(policyName="g", policyDocument=DOCUMENT,
                                       resourceArn=arn, expectedRevisionId=revision)
    assert updated["revisionId"] != revision

    with pytest.raises(ClientError) as info:
        logs.delete_resource_policy(resourceArn=arn, expectedRevisionId=revision)
    assert error_code(info) == "OperationAbortedException"
    logs.delete_resource_policy(resourceArn=arn, expectedRevisionId=updated["revisionId"])
    assert logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"] == []


def test_a_log_group_policy_needs_an_existing_group_and_goes_with_it(logs, region):
    arn = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/nowhere"
    with pytest.raises(ClientError) as info:
        logs.put_resource_policy(policyName="g", policyDocument=DOCUMENT, resourceArn=arn)
    assert error_code(info) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        logs.put_resource_policy(policyName="g", policyDocument=DOCUMENT,
                                 resourceArn=f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/x")
    assert error_code(info) == "InvalidParameterException"

    logs.create_log_group(logGroupName="/nowhere")
    logs.put_resource_policy(policyName="g", policyDocument=DOCUMENT, resourceArn=arn)
    logs.delete_log_group(logGroupName="/nowhere")
    logs.create_log_group(logGroupName="/nowhere")
    assert logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"] == []


def test_policies_are_per_region(server, logs, region):
    logs.put_resource_policy(policyName="here", policyDocument=DOCUMENT)
    other = server.client("logs", "zz-elsewhere-" + region[3:9] + "-2")
    assert other.describe_resource_policies()["resourcePolicies"] == []
