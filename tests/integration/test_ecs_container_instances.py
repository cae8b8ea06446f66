"""ECS container instances through boto3: RegisterContainerInstance,
DescribeContainerInstances, ListContainerInstances (status, cluster query language
filters, pagination), UpdateContainerInstancesState, DeregisterContainerInstance,
and PutAttributes / ListAttributes / DeleteAttributes.

Expectations follow the Amazon ECS API reference, not Nozama's implementation.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import sys
import uuid

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
TARGET = "container-instance"

RESOURCES = [
    {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
    {"name": "MEMORY", "type": "INTEGER", "integerValue": 3768},
    {"name": "PORTS", "type": "STRINGSET",
     "stringSetValue": ["22", "2375", "2376", "51678", "51679"]},
    {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
]
VERSION_INFO = {"agentVersion": "1.80.0", "agentHash": "4023248",
                "dockerVersion": "DockerVersion: 20.10.25"}


# --- helpers -------------------------------------------------------------------


# The test's own region: instances register in its zones (a zone of another is refused).
REGION = "za-southwest-1"


@pytest.fixture(autouse=True)
def _in_the_test_region(region, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REGION", region)


def in_region(text: str) -> str:
    """Zone names written for za-southwest-1, in the test's region."""
    return text.replace("za-southwest-1", REGION)


def identity(instance_id: str | None = None, az: str = "za-southwest-1a",
             instance_type: str = "t3.micro") -> str:
    return json.dumps({
        "instanceId": instance_id or f"i-{uuid.uuid4().hex[:17]}",
        "availabilityZone": in_region(az), "instanceType": instance_type,
        "region": REGION, "accountId": ACCOUNT,
        "imageId": "ami-0123456789abcdef0", "architecture": "x86_64",
    })


def register(ecs, cluster: str = "ci", **fields) -> dict:
    params = {"cluster": cluster, "totalResources": RESOURCES,
              "versionInfo": VERSION_INFO, "instanceIdentityDocument": identity()}
    params.update(fields)
    return ecs.register_container_instance(**params)["containerInstance"]


def short_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def attributes_of(instance: dict) -> dict:
    return {a["name"]: a.get("value") for a in instance["attributes"]}


def by_name(resources: list[dict]) -> dict:
    return {r["name"]: r for r in resources}


def describe(ecs, arn: str, cluster: str = "ci", **params) -> dict:
    result = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn],
                                              **params)
    assert result["failures"] == []
    [instance] = result["containerInstances"]
    return instance


def list_all(ecs, cluster: str = "ci", **params) -> list[str]:
    arns, token, calls = [], None, 0
    while True:
        page = ecs.list_container_instances(cluster=cluster, **params,
                                            **({"nextToken": token} if token else {}))
        if "maxResults" in params:
            assert len(page["containerInstanceArns"]) <= params["maxResults"]
        arns += page["containerInstanceArns"]
        token = page.get("nextToken")
        calls += 1
        assert calls < 100, "pagination does not terminate"
        if not token:
            return arns


def list_attributes_all(ecs, cluster: str = "ci", **params) -> list[dict]:
    found, token, calls = [], None, 0
    while True:
        page = ecs.list_attributes(cluster=cluster, targetType=TARGET, **params,
                                   **({"nextToken": token} if token else {}))
        if "maxResults" in params:
            assert len(page["attributes"]) <= params["maxResults"]
        found += page["attributes"]
        token = page.get("nextToken")
        calls += 1
        assert calls < 100, "pagination does not terminate"
        if not token:
            return found


@pytest.fixture
def cluster(ecs):
    ecs.create_cluster(clusterName="ci")
    return "ci"


# --- RegisterContainerInstance ---------------------------------------------------

def test_register_container_instance(ecs, region, cluster):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    instance = register(
        ecs, instanceIdentityDocument=identity("i-0abc1234def567890", "za-southwest-1b",
                                               "c5.xlarge"),
        attributes=[{"name": "stack", "value": "prod"}, {"name": "gpu-ready"}])

    arn = instance["containerInstanceArn"]
    assert re.fullmatch(
        rf"arn:aws:ecs:{re.escape(region)}:{ACCOUNT}:container-instance/ci/[0-9a-f]{{32}}", arn)
    assert instance["ec2InstanceId"] == "i-0abc1234def567890"
    assert instance["status"] == "ACTIVE"
    assert instance["runningTasksCount"] == 0
    assert instance["pendingTasksCount"] == 0
    assert instance["versionInfo"] == VERSION_INFO
    assert by_name(instance["registeredResources"]) == by_name(RESOURCES)
    assert by_name(instance["remainingResources"]) == by_name(instance["registeredResources"])
    assert isinstance(instance["registeredAt"], datetime.datetime)
    assert instance["registeredAt"] >= before

    attributes = attributes_of(instance)
    assert attributes["ecs.availability-zone"] == in_region("za-southwest-1b")
    assert attributes["ecs.instance-type"] == "c5.xlarge"
    assert attributes["stack"] == "prod"
    assert "gpu-ready" in attributes and attributes["gpu-ready"] is None

    # DescribeContainerInstances shows the same instance.
    described = describe(ecs, arn)
    for key in ("containerInstanceArn", "ec2InstanceId", "status", "versionInfo",
                "runningTasksCount", "pendingTasksCount", "registeredAt"):
        assert described[key] == instance[key], key
    assert by_name(described["registeredResources"]) == by_name(RESOURCES)
    assert by_name(described["remainingResources"]) == by_name(RESOURCES)
    assert attributes_of(described) == attributes


def test_reregistration_with_the_same_identity_keeps_the_arn(ecs, cluster):
    document = identity("i-0feedfacecafe0001")
    first = register(ecs, instanceIdentityDocument=document)
    second = register(ecs, instanceIdentityDocument=document)
    assert second["containerInstanceArn"] == first["containerInstanceArn"]
    assert second["ec2InstanceId"] == "i-0feedfacecafe0001"
    assert list_all(ecs) == [first["containerInstanceArn"]]
    assert ecs.describe_clusters(clusters=["ci"])["clusters"][0][
        "registeredContainerInstancesCount"] == 1

    other = register(ecs, instanceIdentityDocument=identity("i-0feedfacecafe0002"))
    assert other["containerInstanceArn"] != first["containerInstanceArn"]
    assert sorted(list_all(ecs)) == sorted([first["containerInstanceArn"],
                                            other["containerInstanceArn"]])


def test_reregistration_by_container_instance_arn_updates_resources(ecs, cluster):
    first = register(ecs)
    arn = first["containerInstanceArn"]
    bigger = [{"name": "CPU", "type": "INTEGER", "integerValue": 4096},
              {"name": "MEMORY", "type": "INTEGER", "integerValue": 7680}]
    newer = {**VERSION_INFO, "agentVersion": "1.81.0"}
    again = ecs.register_container_instance(
        cluster="ci", containerInstanceArn=arn, totalResources=bigger,
        versionInfo=newer)["containerInstance"]
    assert again["containerInstanceArn"] == arn
    assert again["ec2InstanceId"] == first["ec2InstanceId"]
    assert by_name(again["registeredResources"]) == by_name(bigger)
    assert by_name(again["remainingResources"]) == by_name(bigger)
    assert again["versionInfo"] == newer
    described = describe(ecs, arn)
    assert by_name(described["registeredResources"]) == by_name(bigger)
    assert list_all(ecs) == [arn]


def test_register_by_cluster_arn(ecs, region, cluster):
    instance = register(ecs, cluster=f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/ci")
    assert "/ci/" in instance["containerInstanceArn"]
    assert list_all(ecs) == [instance["containerInstanceArn"]]


def test_register_rejects_more_than_ten_custom_attributes(ecs, cluster):
    with pytest.raises(ClientError) as info:
        register(ecs, attributes=[{"name": f"custom-{i}", "value": "x"} for i in range(11)])
    assert error_code(info) in ("AttributeLimitExceededException", "InvalidParameterException")
    assert list_all(ecs) == []


# --- DescribeContainerInstances -----------------------------------------------------

def test_describe_by_id_and_arn_with_failures(ecs, region, cluster):
    one = register(ecs)["containerInstanceArn"]
    two = register(ecs)["containerInstanceArn"]
    unknown_id = uuid.uuid4().hex
    result = ecs.describe_container_instances(
        cluster="ci", containerInstances=[short_id(one), two, unknown_id])
    assert [i["containerInstanceArn"] for i in result["containerInstances"]] == [one, two]
    assert result["failures"] == [{
        "arn": f"arn:aws:ecs:{region}:{ACCOUNT}:container-instance/ci/{unknown_id}",
        "reason": "MISSING"}]


def test_describe_include_tags(ecs, cluster):
    arn = register(ecs, tags=[{"key": "role", "value": "worker"}])["containerInstanceArn"]
    plain = describe(ecs, arn)
    assert not plain.get("tags")
    tagged = describe(ecs, arn, include=["TAGS"])
    assert tagged["tags"] == [{"key": "role", "value": "worker"}]


def test_describe_instance_of_another_cluster_is_missing(ecs, cluster):
    ecs.create_cluster(clusterName="other")
    arn = register(ecs, cluster="other")["containerInstanceArn"]
    result = ecs.describe_container_instances(cluster="ci", containerInstances=[arn])
    assert result["containerInstances"] == []
    assert [f["reason"] for f in result["failures"]] == ["MISSING"]


# --- ListContainerInstances ------------------------------------------------------------

def test_list_container_instances_by_status(ecs, cluster):
    arns = [register(ecs)["containerInstanceArn"] for _ in range(3)]
    ecs.update_container_instances_state(cluster="ci", containerInstances=[arns[0]],
                                         status="DRAINING")
    assert sorted(list_all(ecs)) == sorted(arns)
    assert sorted(list_all(ecs, status="ACTIVE")) == sorted(arns[1:])
    assert list_all(ecs, status="DRAINING") == [arns[0]]
    assert list_all(ecs, status="REGISTERING") == []


def test_list_container_instances_pagination(ecs, cluster):
    arns = [register(ecs)["containerInstanceArn"] for _ in range(5)]
    first = ecs.list_container_instances(cluster="ci", maxResults=2)
    assert len(first["containerInstanceArns"]) == 2
    assert "nextToken" in first
    for size in (1, 2, 3):
        listed = list_all(ecs, maxResults=size)
        assert len(listed) == len(set(listed))
        assert sorted(listed) == sorted(arns)


def forged(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


INVALID_TOKENS = pytest.mark.parametrize("token", [
    "not-a-real-token", forged(7), forged([1, 2, 3]), forged({"after": 1}),
], ids=["text", "number", "list", "object"])


@INVALID_TOKENS
def test_list_container_instances_rejects_an_invalid_token(ecs, cluster, token):
    register(ecs)
    with pytest.raises(ClientError) as info:
        ecs.list_container_instances(cluster="ci", nextToken=token)
    assert error_code(info) == "InvalidParameterException"


@INVALID_TOKENS
def test_list_attributes_rejects_an_invalid_token(ecs, cluster, token):
    register(ecs)
    with pytest.raises(ClientError) as info:
        ecs.list_attributes(cluster="ci", targetType=TARGET, nextToken=token)
    assert error_code(info) == "InvalidParameterException"


@pytest.fixture
def fleet(ecs, cluster):
    """Five instances across zones and types; returns {label: (arn, ec2 id)}."""
    specs = {
        "a-micro": ("za-southwest-1a", "t3.micro"),
        "a-large": ("za-southwest-1a", "t3.large"),
        "b-m5": ("za-southwest-1b", "m5.large"),
        "c-micro": ("za-southwest-1c", "t3.micro"),
        "c-m5": ("za-southwest-1c", "m5.xlarge"),
    }
    found = {}
    for label, (az, instance_type) in specs.items():
        ec2_id = f"i-{uuid.uuid4().hex[:17]}"
        instance = register(ecs, instanceIdentityDocument=identity(ec2_id, az, instance_type),
                            attributes=[{"name": "stack",
                                         "value": "prod" if "m5" in label else "dev"}])
        found[label] = (instance["containerInstanceArn"], ec2_id)
    return found


@pytest.mark.parametrize("expression, labels", [
    ("attribute:ecs.availability-zone in [za-southwest-1a, za-southwest-1b]",
     {"a-micro", "a-large", "b-m5"}),
    ("attribute:ecs.availability-zone == za-southwest-1c", {"c-micro", "c-m5"}),
    ("attribute:ecs.availability-zone != za-southwest-1c", {"a-micro", "a-large", "b-m5"}),
    ("attribute:ecs.instance-type =~ t3.*", {"a-micro", "a-large", "c-micro"}),
    ("attribute:ecs.instance-type =~ m5.*", {"b-m5", "c-m5"}),
    ("attribute:ecs.instance-type =~ t3.* and attribute:ecs.availability-zone == "
     "za-southwest-1c", {"c-micro"}),
    ("attribute:ecs.instance-type == m5.large or attribute:ecs.instance-type == t3.large",
     {"b-m5", "a-large"}),
    ("attribute:stack == prod", {"b-m5", "c-m5"}),
    ("attribute:stack exists", {"a-micro", "a-large", "b-m5", "c-micro", "c-m5"}),
    ("attribute:nothing exists", set()),
    ("runningTasksCount == 0", {"a-micro", "a-large", "b-m5", "c-micro", "c-m5"}),
    ("runningTasksCount > 0", set()),
    ("attribute:ecs.availability-zone not_in [za-southwest-1a, za-southwest-1c]", {"b-m5"}),
    ("not(attribute:ecs.instance-type =~ t3.*)", {"b-m5", "c-m5"}),
    ("registeredAt > 2000-01-01", {"a-micro", "a-large", "b-m5", "c-micro", "c-m5"}),
    ("registeredAt < 2000-01-01", set()),
])
def test_list_container_instances_filter(ecs, fleet, expression, labels):
    expected = sorted(fleet[label][0] for label in labels)
    assert sorted(list_all(ecs, filter=in_region(expression))) == expected


def test_list_container_instances_filter_by_ec2_instance_id(ecs, fleet):
    wanted = ["a-large", "c-m5"]
    expression = f"ec2InstanceId in [{', '.join(fleet[w][1] for w in wanted)}]"
    assert sorted(list_all(ecs, filter=expression)) == sorted(fleet[w][0] for w in wanted)


def test_list_container_instances_filter_ec2_instance_id_not_in(ecs, fleet):
    excluded = ["a-micro", "b-m5", "c-micro"]
    expression = f"ec2InstanceId not_in [{', '.join(fleet[e][1] for e in excluded)}]"
    assert sorted(list_all(ecs, filter=expression)) == \
        sorted(fleet[label][0] for label in ("a-large", "c-m5"))


def test_list_container_instances_filter_with_pagination(ecs, fleet):
    expected = sorted(fleet[label][0] for label in ("a-micro", "a-large", "c-micro"))
    for size in (1, 2):
        listed = list_all(ecs, filter="attribute:ecs.instance-type =~ t3.*", maxResults=size)
        assert len(listed) == len(set(listed))
        assert sorted(listed) == expected


def test_list_container_instances_filter_and_status(ecs, fleet):
    ecs.update_container_instances_state(cluster="ci", containerInstances=[fleet["b-m5"][0]],
                                         status="DRAINING")
    assert list_all(ecs, filter="attribute:ecs.instance-type =~ m5.*", status="ACTIVE") == \
        [fleet["c-m5"][0]]
    assert list_all(ecs, filter="attribute:ecs.instance-type =~ m5.*", status="DRAINING") == \
        [fleet["b-m5"][0]]


@pytest.mark.parametrize("expression", [
    "attribute:ecs.instance-type ==",
    "runningTasksCount >",
    "no such subject",
    "(attribute:stack == prod",
    "attribute:stack in [a, b",
    "runningTasksCount == many",
])
def test_list_container_instances_rejects_invalid_filters(ecs, cluster, expression):
    register(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_container_instances(cluster="ci", filter=expression)


# --- UpdateContainerInstancesState --------------------------------------------------------

def test_update_container_instances_state(ecs, region, cluster):
    arns = [register(ecs)["containerInstanceArn"] for _ in range(2)]
    result = ecs.update_container_instances_state(
        cluster="ci", containerInstances=[short_id(arns[0]), arns[1]], status="DRAINING")
    assert result["failures"] == []
    assert sorted(i["containerInstanceArn"] for i in result["containerInstances"]) == \
        sorted(arns)
    assert {i["status"] for i in result["containerInstances"]} == {"DRAINING"}
    assert describe(ecs, arns[0])["status"] == "DRAINING"

    back = ecs.update_container_instances_state(cluster="ci", containerInstances=[arns[0]],
                                                status="ACTIVE")
    assert [i["status"] for i in back["containerInstances"]] == ["ACTIVE"]
    assert describe(ecs, arns[0])["status"] == "ACTIVE"
    assert describe(ecs, arns[1])["status"] == "DRAINING"

    unknown = uuid.uuid4().hex
    partial = ecs.update_container_instances_state(
        cluster="ci", containerInstances=[arns[0], unknown], status="DRAINING")
    assert [i["containerInstanceArn"] for i in partial["containerInstances"]] == [arns[0]]
    assert partial["failures"] == [{
        "arn": f"arn:aws:ecs:{region}:{ACCOUNT}:container-instance/ci/{unknown}",
        "reason": "MISSING"}]


@pytest.mark.parametrize("status", ["INACTIVE", "REGISTERING", "DEREGISTERING", "draining"])
def test_update_container_instances_state_rejects_other_statuses(ecs, cluster, status):
    arn = register(ecs)["containerInstanceArn"]
    with pytest.raises(ClientError) as info:
        ecs.update_container_instances_state(cluster="ci", containerInstances=[arn],
                                             status=status)
    assert error_code(info) == "InvalidParameterException"
    assert describe(ecs, arn)["status"] == "ACTIVE"


# --- DeregisterContainerInstance -------------------------------------------------------------

def test_deregister_container_instance(ecs, cluster):
    keep = register(ecs)["containerInstanceArn"]
    gone = register(ecs)["containerInstanceArn"]
    result = ecs.deregister_container_instance(cluster="ci", containerInstance=short_id(gone))
    assert result["containerInstance"]["containerInstanceArn"] == gone
    assert result["containerInstance"]["status"] == "INACTIVE"

    assert list_all(ecs) == [keep]
    assert list_all(ecs, status="ACTIVE") == [keep]
    assert ecs.describe_clusters(clusters=["ci"])["clusters"][0][
        "registeredContainerInstancesCount"] == 1
    described = ecs.describe_container_instances(cluster="ci", containerInstances=[gone])
    for instance in described["containerInstances"]:
        assert instance["status"] == "INACTIVE"
    # A deregistered instance is no longer a target for attributes.
    with pytest.raises(ecs.exceptions.TargetNotFoundException):
        ecs.put_attributes(cluster="ci", attributes=[
            {"name": "late", "value": "1", "targetType": TARGET, "targetId": gone}])


def test_deregister_unknown_container_instance(ecs, cluster):
    with pytest.raises(ClientError) as info:
        ecs.deregister_container_instance(cluster="ci", containerInstance=uuid.uuid4().hex)
    assert error_code(info) in ("InvalidParameterException", "ClientException")


# --- PutAttributes / ListAttributes / DeleteAttributes -------------------------------------

def test_put_list_delete_attributes(ecs, cluster):
    one = register(ecs)["containerInstanceArn"]
    two = register(ecs)["containerInstanceArn"]

    put = ecs.put_attributes(cluster="ci", attributes=[
        {"name": "color", "value": "blue", "targetType": TARGET, "targetId": short_id(one)},
        {"name": "color", "value": "green", "targetType": TARGET, "targetId": two},
        {"name": "flag", "targetType": TARGET, "targetId": two},
    ])
    assert len(put["attributes"]) == 3

    assert attributes_of(describe(ecs, one))["color"] == "blue"
    described_two = attributes_of(describe(ecs, two))
    assert described_two["color"] == "green"
    assert "flag" in described_two and described_two["flag"] is None

    everything = list_attributes_all(ecs)
    triples = {(a["targetId"], a["name"], a.get("value")) for a in everything}
    assert {(one, "color", "blue"), (two, "color", "green"), (two, "flag", None)} <= triples
    assert all(a["targetType"] == TARGET for a in everything)
    # The standard attributes are listed too.
    assert (one, "ecs.instance-type", "t3.micro") in triples

    colors = list_attributes_all(ecs, attributeName="color")
    assert sorted((a["targetId"], a["value"]) for a in colors) == \
        sorted([(one, "blue"), (two, "green")])
    greens = list_attributes_all(ecs, attributeName="color", attributeValue="green")
    assert [(a["targetId"], a["name"], a["value"]) for a in greens] == [(two, "color", "green")]
    assert list_attributes_all(ecs, attributeName="color", attributeValue="red") == []

    # Overwriting a value keeps one attribute of that name.
    ecs.put_attributes(cluster="ci", attributes=[
        {"name": "color", "value": "red", "targetType": TARGET, "targetId": one}])
    assert sorted((a["targetId"], a["value"])
                  for a in list_attributes_all(ecs, attributeName="color")) == \
        sorted([(one, "red"), (two, "green")])

    deleted = ecs.delete_attributes(cluster="ci", attributes=[
        {"name": "color", "targetType": TARGET, "targetId": one},
        {"name": "flag", "targetType": TARGET, "targetId": two}])
    assert len(deleted["attributes"]) == 2
    assert "color" not in attributes_of(describe(ecs, one))
    assert "flag" not in attributes_of(describe(ecs, two))
    assert [a["targetId"] for a in list_attributes_all(ecs, attributeName="color")] == [two]


def test_custom_attributes_drive_filters(ecs, cluster):
    one = register(ecs)["containerInstanceArn"]
    register(ecs)
    ecs.put_attributes(cluster="ci", attributes=[
        {"name": "pool", "value": "batch", "targetType": TARGET, "targetId": one}])
    assert list_all(ecs, filter="attribute:pool == batch") == [one]


def test_list_attributes_pagination(ecs, cluster):
    arns = [register(ecs)["containerInstanceArn"] for _ in range(3)]
    for arn in arns:
        ecs.put_attributes(cluster="ci", attributes=[
            {"name": f"k{i}", "value": str(i), "targetType": TARGET, "targetId": arn}
            for i in range(3)])
    everything = list_attributes_all(ecs)
    triples = {(a["targetId"], a["name"], a.get("value")) for a in everything}
    # The custom ones, plus whatever standard (ecs.*) attributes ECS adds.
    assert {(arn, f"k{i}", str(i)) for arn in arns for i in range(3)} <= triples
    assert len(triples) == len(everything)
    for size in (1, 4, 7):
        paged = list_attributes_all(ecs, maxResults=size)
        keys = [(a["targetId"], a["name"]) for a in paged]
        assert len(keys) == len(set(keys))
        assert sorted(keys) == sorted((a["targetId"], a["name"]) for a in everything)
    k1 = list_attributes_all(ecs, attributeName="k1", maxResults=1)
    assert sorted(a["targetId"] for a in k1) == sorted(arns)


def test_list_attributes_value_requires_name(ecs, cluster):
    register(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_attributes(cluster="ci", targetType=TARGET, attributeValue="blue")


def test_attributes_on_unknown_targets(ecs, region, cluster):
    register(ecs)
    unknown = uuid.uuid4().hex
    for target in (unknown,
                   f"arn:aws:ecs:{region}:{ACCOUNT}:container-instance/ci/{unknown}"):
        with pytest.raises(ecs.exceptions.TargetNotFoundException):
            ecs.put_attributes(cluster="ci", attributes=[
                {"name": "a", "value": "b", "targetType": TARGET, "targetId": target}])
        with pytest.raises(ecs.exceptions.TargetNotFoundException):
            ecs.delete_attributes(cluster="ci", attributes=[
                {"name": "a", "targetType": TARGET, "targetId": target}])


def test_put_attributes_is_all_or_nothing(ecs, cluster):
    arn = register(ecs)["containerInstanceArn"]
    with pytest.raises(ecs.exceptions.TargetNotFoundException):
        ecs.put_attributes(cluster="ci", attributes=[
            {"name": "good", "value": "1", "targetType": TARGET, "targetId": arn},
            {"name": "bad", "value": "1", "targetType": TARGET, "targetId": uuid.uuid4().hex}])
    assert "good" not in attributes_of(describe(ecs, arn))


def test_attribute_limit(ecs, cluster):
    arn = register(ecs)["containerInstanceArn"]
    ecs.put_attributes(cluster="ci", attributes=[
        {"name": f"custom-{i}", "value": "v", "targetType": TARGET, "targetId": arn}
        for i in range(10)])
    # Replacing one of the ten is fine.
    ecs.put_attributes(cluster="ci", attributes=[
        {"name": "custom-0", "value": "w", "targetType": TARGET, "targetId": arn}])
    with pytest.raises(ecs.exceptions.AttributeLimitExceededException):
        ecs.put_attributes(cluster="ci", attributes=[
            {"name": "custom-10", "value": "v", "targetType": TARGET, "targetId": arn}])
    attributes = attributes_of(describe(ecs, arn))
    assert "custom-10" not in attributes
    assert attributes["custom-0"] == "w"
    assert sum(1 for name in attributes if name.startswith("custom-")) == 10


def test_attribute_limit_in_one_call(ecs, cluster):
    arn = register(ecs)["containerInstanceArn"]
    with pytest.raises(ecs.exceptions.AttributeLimitExceededException):
        ecs.put_attributes(cluster="ci", attributes=[
            {"name": f"custom-{i}", "value": "v", "targetType": TARGET, "targetId": arn}
            for i in range(11)])
    assert not any(n.startswith("custom-") for n in attributes_of(describe(ecs, arn)))


@pytest.mark.parametrize("name, value", [
    ("has space", "v"),
    ("x" * 129, "v"),
    ("ok", "bad\u00e9value!"),
    ("ok", "x" * 129),
])
def test_put_attributes_rejects_bad_names_and_values(ecs, cluster, name, value):
    arn = register(ecs)["containerInstanceArn"]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.put_attributes(cluster="ci", attributes=[
            {"name": name, "value": value, "targetType": TARGET, "targetId": arn}])


def test_update_container_instances_state_takes_at_most_ten(ecs, cluster):
    arns = [register(ecs)["containerInstanceArn"] for _ in range(11)]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_container_instances_state(cluster="ci", containerInstances=arns,
                                             status="DRAINING")
    assert list_all(ecs, status="DRAINING") == []
    done = ecs.update_container_instances_state(cluster="ci", containerInstances=arns[:10],
                                                status="DRAINING")
    assert len(done["containerInstances"]) == 10
