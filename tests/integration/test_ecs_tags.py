"""ECS tagging through boto3: TagResource, UntagResource, ListTagsForResource on
clusters, task definitions and container instances, and the tag rules.

Expectations follow the Amazon ECS API reference, not Nozama's implementation.
"""

from __future__ import annotations

import json
import uuid

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
# What ECS answers for a resource it can't find or a request it refuses.
NOT_FOUND = ("ResourceNotFoundException", "ClusterNotFoundException",
             "InvalidParameterException", "ClientException")


def tags_of(ecs, arn: str) -> dict:
    return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}


def tag_list(tags: dict) -> list[dict]:
    return [{"key": k, "value": v} for k, v in tags.items()]


# Each factory creates a resource, with `tags` given at create time, and returns its ARN.

def make_cluster(ecs, tags: dict | None = None) -> str:
    params = {"clusterName": f"c-{uuid.uuid4().hex[:8]}"}
    if tags is not None:
        params["tags"] = tag_list(tags)
    return ecs.create_cluster(**params)["cluster"]["clusterArn"]


def make_task_definition(ecs, tags: dict | None = None) -> str:
    params = {"family": "tagged",
              "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 64}]}
    if tags is not None:
        params["tags"] = tag_list(tags)
    return ecs.register_task_definition(**params)["taskDefinition"]["taskDefinitionArn"]


def make_container_instance(ecs, tags: dict | None = None) -> str:
    ecs.create_cluster(clusterName="tags")
    params = {"cluster": "tags",
              "instanceIdentityDocument": json.dumps({
                  "instanceId": f"i-{uuid.uuid4().hex[:17]}",
                  "availabilityZone": f"{ecs.meta.region_name}a", "instanceType": "t3.micro"}),
              "totalResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 1024}]}
    if tags is not None:
        params["tags"] = tag_list(tags)
    return ecs.register_container_instance(**params)["containerInstance"]["containerInstanceArn"]


def make_service(ecs, tags: dict | None = None) -> str:
    ecs.create_cluster(clusterName="tags")
    params = {"cluster": "tags", "serviceName": f"s-{uuid.uuid4().hex[:8]}",
              "taskDefinition": make_task_definition(ecs), "desiredCount": 0}
    if tags is not None:
        params["tags"] = tag_list(tags)
    return ecs.create_service(**params)["service"]["serviceArn"]


FACTORIES = {
    "cluster": make_cluster,
    "task-definition": make_task_definition,
    "container-instance": make_container_instance,
    "service": make_service,
}


@pytest.fixture(params=list(FACTORIES))
def kind(request) -> str:
    return request.param


@pytest.fixture
def make(kind):
    return FACTORIES[kind]


# --- the round trip on every resource -------------------------------------------------

def test_tags_given_at_create_time_appear(ecs, make):
    arn = make(ecs, {"team": "core", "env": "dev"})
    assert tags_of(ecs, arn) == {"team": "core", "env": "dev"}


def test_untagged_resource_has_no_tags(ecs, make):
    arn = make(ecs)
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_tag_untag_list(ecs, make):
    arn = make(ecs, {"team": "core"})

    ecs.tag_resource(resourceArn=arn, tags=tag_list({"env": "prod", "cost-center": "42"}))
    assert tags_of(ecs, arn) == {"team": "core", "env": "prod", "cost-center": "42"}

    # Tagging an existing key replaces its value.
    ecs.tag_resource(resourceArn=arn, tags=tag_list({"env": "staging"}))
    assert tags_of(ecs, arn) == {"team": "core", "env": "staging", "cost-center": "42"}

    ecs.untag_resource(resourceArn=arn, tagKeys=["env", "team"])
    assert tags_of(ecs, arn) == {"cost-center": "42"}

    # Removing a key that isn't there is not an error.
    ecs.untag_resource(resourceArn=arn, tagKeys=["never-set"])
    assert tags_of(ecs, arn) == {"cost-center": "42"}

    ecs.untag_resource(resourceArn=arn, tagKeys=["cost-center"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_tags_are_case_sensitive_and_allow_empty_values(ecs, make):
    arn = make(ecs)
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "Env", "value": "A"},
                                            {"key": "env", "value": "a"},
                                            {"key": "empty", "value": ""}])
    assert tags_of(ecs, arn) == {"Env": "A", "env": "a", "empty": ""}
    ecs.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert tags_of(ecs, arn) == {"Env": "A", "empty": ""}


def test_tags_are_per_resource(ecs):
    first = make_cluster(ecs, {"who": "first"})
    second = make_cluster(ecs, {"who": "second"})
    ecs.tag_resource(resourceArn=first, tags=tag_list({"extra": "1"}))
    assert tags_of(ecs, first) == {"who": "first", "extra": "1"}
    assert tags_of(ecs, second) == {"who": "second"}


def test_tags_show_in_describe_calls(ecs):
    cluster = make_cluster(ecs)
    ecs.tag_resource(resourceArn=cluster, tags=tag_list({"k": "v"}))
    described = ecs.describe_clusters(clusters=[cluster], include=["TAGS"])["clusters"][0]
    assert described["tags"] == [{"key": "k", "value": "v"}]

    task_definition = make_task_definition(ecs)
    ecs.tag_resource(resourceArn=task_definition, tags=tag_list({"k": "v"}))
    assert ecs.describe_task_definition(taskDefinition=task_definition,
                                        include=["TAGS"])["tags"] == [{"key": "k", "value": "v"}]

    instance = make_container_instance(ecs)
    ecs.tag_resource(resourceArn=instance, tags=tag_list({"k": "v"}))
    described = ecs.describe_container_instances(
        cluster="tags", containerInstances=[instance], include=["TAGS"])["containerInstances"][0]
    assert described["tags"] == [{"key": "k", "value": "v"}]


def test_revisions_are_tagged_separately(ecs, region):
    first = make_task_definition(ecs, {"rev": "1"})
    second = make_task_definition(ecs)
    assert tags_of(ecs, first) == {"rev": "1"}
    assert tags_of(ecs, second) == {}


# --- the rules ----------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["aws:owner", "AWS:owner", "Aws:thing"])
def test_aws_prefix_is_reserved(ecs, make, key):
    arn = make(ecs, {"keep": "me"})
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": "x"},
                                                {"key": "ok", "value": "y"}])
    assert tags_of(ecs, arn) == {"keep": "me"}


def test_aws_prefix_is_reserved_at_create_time(ecs, region):
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        make_cluster(ecs, {"aws:team": "x"})
    assert ecs.list_clusters()["clusterArns"] == []
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        make_task_definition(ecs, {"aws:team": "x"})
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        make_container_instance(ecs, {"aws:team": "x"})
    assert ecs.list_container_instances(cluster="tags")["containerInstanceArns"] == []


def test_aws_in_the_middle_of_a_key_is_fine(ecs):
    arn = make_cluster(ecs)
    ecs.tag_resource(resourceArn=arn, tags=tag_list({"my-aws:key": "v", "awsome": "v"}))
    assert tags_of(ecs, arn) == {"my-aws:key": "v", "awsome": "v"}


def test_fifty_tags_allowed_fifty_one_rejected(ecs, make):
    arn = make(ecs)
    fifty = {f"k{i:02d}": str(i) for i in range(50)}
    ecs.tag_resource(resourceArn=arn, tags=tag_list(fifty))
    assert tags_of(ecs, arn) == fifty
    # Overwriting existing keys keeps the count at 50.
    ecs.tag_resource(resourceArn=arn, tags=tag_list({"k00": "changed"}))
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.tag_resource(resourceArn=arn, tags=tag_list({"one-too-many": "x"}))
    assert len(tags_of(ecs, arn)) == 50
    assert "one-too-many" not in tags_of(ecs, arn)


def test_more_than_fifty_tags_in_one_call(ecs, make):
    arn = make(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.tag_resource(resourceArn=arn, tags=tag_list({f"k{i}": "v" for i in range(51)}))
    assert tags_of(ecs, arn) == {}


def test_more_than_fifty_tags_at_create_time(ecs):
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        make_cluster(ecs, {f"k{i}": "v" for i in range(51)})
    assert ecs.list_clusters()["clusterArns"] == []


def test_more_than_fifty_tags_across_calls(ecs):
    arn = make_cluster(ecs, {f"first{i}": "v" for i in range(45)})
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.tag_resource(resourceArn=arn, tags=tag_list({f"second{i}": "v" for i in range(6)}))
    assert len(tags_of(ecs, arn)) == 45


@pytest.mark.parametrize("key, value", [
    ("k" * 129, "v"),
    ("k", "v" * 257),
    ("", "v"),
], ids=["key-129", "value-257", "empty-key"])
def test_tag_length_limits(server, ecs, region, key, value):
    arn = make_cluster(ecs)
    # botocore itself refuses an empty key; send it anyway to see what the server says.
    raw = boto3.client("ecs", endpoint_url=server.endpoint, region_name=region,
                       aws_access_key_id=server.credentials[0],
        aws_secret_access_key=server.credentials[1],
                       config=botocore.config.Config(parameter_validation=False,
                                                     retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as info:
        raw.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])
    assert error_code(info) == "InvalidParameterException"
    assert tags_of(ecs, arn) == {}


@pytest.mark.parametrize("key, value", [
    ("bad#key", "v"),
    ("semi;colon", "v"),
    ("k", "bell\u0007"),
    ("k", "percent%"),
], ids=["hash-in-key", "semicolon-in-key", "control-in-value", "percent-in-value"])
def test_tag_characters_outside_the_allowed_set_are_rejected(ecs, key, value):
    # Keys and values: letters, numbers, spaces and + - = . _ : / @ (ECS Tag reference).
    arn = make_cluster(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])
    assert tags_of(ecs, arn) == {}


def test_tag_allowed_characters(ecs):
    arn = make_cluster(ecs)
    tags = {"a+b-c=d.e_f:g/h@i j": "Z 9+-=._:/@", "\u00e9t\u00e9": "\u00fcber"}
    ecs.tag_resource(resourceArn=arn, tags=tag_list(tags))
    assert tags_of(ecs, arn) == tags


def test_tag_length_maxima_are_allowed(ecs):
    arn = make_cluster(ecs)
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "k" * 128, "value": "v" * 256}])
    assert tags_of(ecs, arn) == {"k" * 128: "v" * 256}


# --- unknown resources ----------------------------------------------------------------------

def unknown_arns(region: str) -> dict[str, str]:
    return {
        "cluster": f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/no-such-cluster",
        "task-definition": f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/no-such:1",
        "container-instance":
            f"arn:aws:ecs:{region}:{ACCOUNT}:container-instance/tags/{uuid.uuid4().hex}",
        "service": f"arn:aws:ecs:{region}:{ACCOUNT}:service/tags/no-such-service",
    }


@pytest.mark.parametrize("operation, params", [
    ("list_tags_for_resource", {}),
    ("tag_resource", {"tags": [{"key": "k", "value": "v"}]}),
    ("untag_resource", {"tagKeys": ["k"]}),
])
def test_unknown_resource(ecs, region, kind, operation, params):
    ecs.create_cluster(clusterName="tags")
    with pytest.raises(ClientError) as info:
        getattr(ecs, operation)(resourceArn=unknown_arns(region)[kind], **params)
    assert error_code(info) in NOT_FOUND
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("arn", ["not-an-arn", "arn:aws:s3:::bucket"])
def test_malformed_or_foreign_arn(ecs, arn):
    with pytest.raises(ClientError) as info:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "k", "value": "v"}])
    assert error_code(info) in NOT_FOUND


def test_resource_of_another_region_is_unknown(server, ecs, region):
    arn = make_cluster(ecs, {"k": "v"})
    other = server.client("ecs", f"{region[:-2]}-7")
    with pytest.raises(ClientError) as info:
        other.list_tags_for_resource(resourceArn=arn)
    assert error_code(info) in NOT_FOUND
    with pytest.raises(ClientError):
        other.tag_resource(resourceArn=arn, tags=[{"key": "x", "value": "y"}])
    assert tags_of(ecs, arn) == {"k": "v"}


def test_deleted_cluster_cannot_be_tagged(ecs):
    arn = make_cluster(ecs)
    ecs.delete_cluster(cluster=arn)
    with pytest.raises(ClientError) as info:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "k", "value": "v"}])
    assert error_code(info) in NOT_FOUND


def test_deregistered_task_definition_keeps_its_tags(ecs):
    arn = make_task_definition(ecs, {"k": "v"})
    ecs.deregister_task_definition(taskDefinition=arn)
    assert tags_of(ecs, arn) == {"k": "v"}
    ecs.tag_resource(resourceArn=arn, tags=tag_list({"retired": "yes"}))
    assert tags_of(ecs, arn) == {"k": "v", "retired": "yes"}
