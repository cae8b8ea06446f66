"""ECS clusters through boto3: CreateCluster, DescribeClusters, ListClusters,
UpdateCluster(Settings), DeleteCluster, the `default` cluster and region isolation.

Expectations follow the Amazon ECS API reference, not Nozama's implementation.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
STATISTIC_NAMES = {
    "runningEC2TasksCount", "runningFargateTasksCount",
    "pendingEC2TasksCount", "pendingFargateTasksCount",
    "activeEC2ServiceCount", "activeFargateServiceCount",
    "drainingEC2ServiceCount", "drainingFargateServiceCount",
}


# --- helpers -------------------------------------------------------------------

def cluster_arn(region: str, name: str) -> str:
    return f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{name}"


def all_cluster_arns(ecs) -> list[str]:
    arns, token = [], None
    while True:
        page = ecs.list_clusters(**({"nextToken": token} if token else {}))
        arns += page["clusterArns"]
        token = page.get("nextToken")
        if not token:
            return arns


def register_instance(ecs, cluster: str | None = None, instance_id: str | None = None) -> str:
    params = {
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
        ],
        "instanceIdentityDocument": json.dumps({
            "instanceId": instance_id or f"i-{uuid.uuid4().hex[:17]}",
            "availabilityZone": f"{ecs.meta.region_name}a", "instanceType": "t3.micro"}),
    }
    if cluster is not None:
        params["cluster"] = cluster
    return ecs.register_container_instance(**params)["containerInstance"]["containerInstanceArn"]


def describe_one(ecs, name: str, include: list[str] | None = None) -> dict:
    found = ecs.describe_clusters(clusters=[name], **({"include": include} if include else {}))
    assert found["failures"] == []
    assert len(found["clusters"]) == 1
    return found["clusters"][0]


def as_dict(pairs: list[dict], key: str = "name", value: str = "value") -> dict:
    return {p[key]: p.get(value) for p in pairs}


def forged_token(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


# --- CreateCluster ---------------------------------------------------------------

def test_create_cluster_returns_an_active_empty_cluster(ecs, region):
    cluster = ecs.create_cluster(clusterName="web")["cluster"]
    assert cluster["clusterArn"] == cluster_arn(region, "web")
    assert cluster["clusterName"] == "web"
    assert cluster["status"] == "ACTIVE"
    assert cluster["registeredContainerInstancesCount"] == 0
    assert cluster["runningTasksCount"] == 0
    assert cluster["pendingTasksCount"] == 0
    assert cluster["activeServicesCount"] == 0
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn(region, "web")]


def test_create_cluster_is_idempotent_by_name(ecs, region):
    first = ecs.create_cluster(clusterName="idem")["cluster"]
    second = ecs.create_cluster(clusterName="idem")["cluster"]
    assert second["clusterArn"] == first["clusterArn"] == cluster_arn(region, "idem")
    assert second["status"] == "ACTIVE"
    assert all_cluster_arns(ecs) == [first["clusterArn"]]


def test_create_cluster_without_a_name_creates_default(ecs, region):
    cluster = ecs.create_cluster()["cluster"]
    assert cluster["clusterName"] == "default"
    assert cluster["clusterArn"] == cluster_arn(region, "default")


def test_cluster_name_may_be_255_characters(ecs, region):
    name = "a" * 254 + "Z"
    cluster = ecs.create_cluster(clusterName=name)["cluster"]
    assert cluster["clusterArn"] == cluster_arn(region, name)
    assert describe_one(ecs, name)["clusterName"] == name


def test_cluster_name_allows_letters_digits_hyphens_underscores(ecs, region):
    name = "My_Cluster-01"
    assert ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"] == \
        cluster_arn(region, name)


@pytest.mark.parametrize("name", [
    "x" * 256,
    "has space",
    "slash/name",
    "dot.name",
    "colon:name",
    "star*",
    "caf\u00e9",
], ids=["256-chars", "space", "slash", "dot", "colon", "star", "non-ascii"])
def test_create_cluster_rejects_invalid_names(ecs, name):
    with pytest.raises(ClientError) as info:
        ecs.create_cluster(clusterName=name)
    assert error_code(info) == "InvalidParameterException"
    assert ecs.list_clusters()["clusterArns"] == []


def test_create_cluster_with_container_insights(ecs):
    cluster = ecs.create_cluster(
        clusterName="insights",
        settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    described = describe_one(ecs, "insights", ["SETTINGS"])
    assert as_dict(described["settings"])["containerInsights"] == "enabled"


def test_create_cluster_rejects_an_unknown_container_insights_value(ecs):
    with pytest.raises(ClientError) as info:
        ecs.create_cluster(clusterName="bad-setting",
                           settings=[{"name": "containerInsights", "value": "sometimes"}])
    assert error_code(info) == "InvalidParameterException"
    assert ecs.list_clusters()["clusterArns"] == []


def test_create_cluster_with_tags(ecs, region):
    tags = [{"key": "team", "value": "payments"}, {"key": "env", "value": "prod"}]
    created = ecs.create_cluster(clusterName="tagged", tags=tags)["cluster"]
    assert sorted(created["tags"], key=lambda t: t["key"]) == \
        sorted(tags, key=lambda t: t["key"])
    described = describe_one(ecs, "tagged", ["TAGS"])
    assert as_dict(described["tags"], "key") == {"team": "payments", "env": "prod"}
    listed = ecs.list_tags_for_resource(resourceArn=cluster_arn(region, "tagged"))["tags"]
    assert as_dict(listed, "key") == {"team": "payments", "env": "prod"}


# --- DescribeClusters --------------------------------------------------------------

def test_describe_clusters_include_tags_settings_statistics(ecs):
    ecs.create_cluster(clusterName="full", tags=[{"key": "k", "value": "v"}],
                       settings=[{"name": "containerInsights", "value": "enabled"}])

    plain = describe_one(ecs, "full")
    assert plain["clusterName"] == "full"
    # Without `include`, tags and statistics aren't included.
    assert not plain.get("tags")
    assert not plain.get("statistics")

    full = describe_one(ecs, "full", ["TAGS", "SETTINGS", "STATISTICS"])
    assert as_dict(full["tags"], "key") == {"k": "v"}
    assert as_dict(full["settings"]) == {"containerInsights": "enabled"}
    statistics = as_dict(full["statistics"])
    assert STATISTIC_NAMES <= set(statistics)
    assert all(statistics[name] == "0" for name in STATISTIC_NAMES)

    only_tags = describe_one(ecs, "full", ["TAGS"])
    assert as_dict(only_tags["tags"], "key") == {"k": "v"}
    assert not only_tags.get("statistics")


def test_describe_clusters_by_name_and_arn_with_missing_ones(ecs, region):
    ecs.create_cluster(clusterName="one")
    ecs.create_cluster(clusterName="two")
    result = ecs.describe_clusters(clusters=[
        "one", cluster_arn(region, "two"), "nope", cluster_arn(region, "ghost")])
    assert [c["clusterName"] for c in result["clusters"]] == ["one", "two"]
    assert [c["clusterArn"] for c in result["clusters"]] == \
        [cluster_arn(region, "one"), cluster_arn(region, "two")]
    assert sorted((f["arn"], f["reason"]) for f in result["failures"]) == sorted([
        (cluster_arn(region, "nope"), "MISSING"),
        (cluster_arn(region, "ghost"), "MISSING"),
    ])


def test_describe_clusters_without_names_describes_default(ecs, region):
    missing = ecs.describe_clusters()
    assert missing["clusters"] == []
    assert missing["failures"] == [{"arn": cluster_arn(region, "default"), "reason": "MISSING"}]

    ecs.create_cluster()
    found = ecs.describe_clusters()
    assert found["failures"] == []
    assert [c["clusterArn"] for c in found["clusters"]] == [cluster_arn(region, "default")]
    assert found["clusters"][0]["status"] == "ACTIVE"


def test_describe_clusters_counts_registered_instances(ecs):
    ecs.create_cluster(clusterName="counted")
    assert describe_one(ecs, "counted")["registeredContainerInstancesCount"] == 0
    first = register_instance(ecs, "counted")
    register_instance(ecs, "counted")
    register_instance(ecs, "counted")
    assert describe_one(ecs, "counted")["registeredContainerInstancesCount"] == 3

    # A DRAINING instance is still registered.
    ecs.update_container_instances_state(cluster="counted", containerInstances=[first],
                                         status="DRAINING")
    assert describe_one(ecs, "counted")["registeredContainerInstancesCount"] == 3

    ecs.deregister_container_instance(cluster="counted", containerInstance=first)
    assert describe_one(ecs, "counted")["registeredContainerInstancesCount"] == 2


# --- ListClusters -------------------------------------------------------------------

def walk(ecs, max_results: int, between_pages=None) -> list[list[str]]:
    pages, token, number = [], None, 0
    while True:
        params = {"maxResults": max_results}
        if token:
            params["nextToken"] = token
        page = ecs.list_clusters(**params)
        assert len(page["clusterArns"]) <= max_results
        pages.append(page["clusterArns"])
        token = page.get("nextToken")
        if not token:
            return pages
        number += 1
        assert number < 50, "pagination does not terminate"
        if between_pages:
            between_pages(number)


def test_list_clusters_paginates_without_duplicates_or_skips(ecs, region):
    names = [f"page-{i}" for i in range(7)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    pages = walk(ecs, 3)
    assert len(pages[0]) == 3
    listed = [arn for page in pages for arn in page]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(cluster_arn(region, n) for n in names)
    # Without maxResults everything fits in one page.
    assert sorted(ecs.list_clusters()["clusterArns"]) == sorted(listed)
    assert "nextToken" not in ecs.list_clusters()


def test_list_clusters_pages_stay_stable_while_clusters_are_created(ecs, region):
    originals = [f"m-{i}" for i in range(7)]
    for name in originals:
        ecs.create_cluster(clusterName=name)

    created: list[str] = []

    def create_more(number: int) -> None:
        # Names sorting before, among and after the ones already walked.
        for name in (f"a-{number}", f"m-{number}x", f"m-{number + 3}x", f"z-{number}"):
            ecs.create_cluster(clusterName=name)
            created.append(name)

    pages = walk(ecs, 3, between_pages=create_more)
    listed = [arn for page in pages for arn in page]
    assert len(listed) == len(set(listed)), "a cluster was listed twice"
    missing = {cluster_arn(region, n) for n in originals} - set(listed)
    assert not missing, f"clusters existing before the walk were skipped: {missing}"
    allowed = {cluster_arn(region, n) for n in originals + created}
    assert set(listed) <= allowed


def test_list_clusters_survives_deleting_the_last_listed_cluster(ecs, region):
    names = [f"d-{i}" for i in range(7)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    first = ecs.list_clusters(maxResults=3)
    ecs.delete_cluster(cluster=first["clusterArns"][-1])
    rest, token = [], first["nextToken"]
    while token:
        page = ecs.list_clusters(maxResults=3, nextToken=token)
        rest += page["clusterArns"]
        token = page.get("nextToken")
    listed = first["clusterArns"] + rest
    assert len(listed) == len(set(listed))
    assert set(listed) == {cluster_arn(region, n) for n in names}


@pytest.mark.parametrize("token", [
    "not a token",
    "%%%%",
    forged_token(12345),
    forged_token([1, 2, 3]),
    forged_token({"after": "x"}),
], ids=["text", "symbols", "number", "list", "object"])
def test_list_clusters_rejects_an_invalid_next_token(ecs, token):
    ecs.create_cluster(clusterName="tok")
    with pytest.raises(ClientError) as info:
        ecs.list_clusters(nextToken=token)
    assert error_code(info) == "InvalidParameterException"


def test_list_clusters_rejects_a_token_of_another_operation(ecs):
    ecs.create_cluster(clusterName="one")
    for family in ("f1", "f2"):
        ecs.register_task_definition(
            family=family, containerDefinitions=[{"name": "a", "image": "x", "memory": 64}])
    token = ecs.list_task_definitions(maxResults=1)["nextToken"]
    with pytest.raises(ClientError) as info:
        ecs.list_clusters(nextToken=token)
    assert error_code(info) in ("InvalidParameterException", "ClientException")


@pytest.mark.parametrize("max_results", [0, 101])
def test_list_clusters_rejects_max_results_out_of_range(ecs, max_results):
    with pytest.raises(ClientError) as info:
        ecs.list_clusters(maxResults=max_results)
    assert error_code(info) == "InvalidParameterException"


def test_list_clusters_on_an_empty_region(ecs):
    result = ecs.list_clusters()
    assert result["clusterArns"] == []
    assert "nextToken" not in result


# --- UpdateCluster / UpdateClusterSettings ----------------------------------------------

def test_update_cluster_settings(ecs):
    ecs.create_cluster(clusterName="upd")
    cluster = ecs.update_cluster_settings(
        cluster="upd", settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
    assert cluster["clusterName"] == "upd"
    assert as_dict(cluster["settings"])["containerInsights"] == "enabled"
    assert as_dict(describe_one(ecs, "upd", ["SETTINGS"])["settings"])["containerInsights"] == \
        "enabled"

    cluster = ecs.update_cluster_settings(
        cluster="upd", settings=[{"name": "containerInsights", "value": "disabled"}])["cluster"]
    assert as_dict(cluster["settings"])["containerInsights"] == "disabled"


def test_update_cluster_settings_rejects_bad_values(ecs):
    ecs.create_cluster(clusterName="upd-bad")
    with pytest.raises(ClientError) as info:
        ecs.update_cluster_settings(
            cluster="upd-bad", settings=[{"name": "containerInsights", "value": "maybe"}])
    assert error_code(info) == "InvalidParameterException"
    settings = as_dict(describe_one(ecs, "upd-bad", ["SETTINGS"])["settings"])
    assert settings.get("containerInsights", "disabled") == "disabled"


def test_update_cluster_configuration_and_settings(ecs, region):
    ecs.create_cluster(clusterName="conf")
    configuration = {"executeCommandConfiguration": {
        "logging": "OVERRIDE",
        "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec",
                             "cloudWatchEncryptionEnabled": True}}}
    cluster = ecs.update_cluster(
        cluster=cluster_arn(region, "conf"), configuration=configuration,
        settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
    assert cluster["clusterArn"] == cluster_arn(region, "conf")
    assert cluster["configuration"] == configuration
    assert as_dict(cluster["settings"])["containerInsights"] == "enabled"
    described = describe_one(ecs, "conf", ["CONFIGURATIONS", "SETTINGS"])
    assert described["configuration"] == configuration
    assert as_dict(described["settings"])["containerInsights"] == "enabled"


# --- DeleteCluster ----------------------------------------------------------------------

def test_delete_cluster_lifecycle(ecs, region):
    arn = ecs.create_cluster(clusterName="doomed")["cluster"]["clusterArn"]
    instance = register_instance(ecs, "doomed")

    with pytest.raises(ecs.exceptions.ClusterContainsContainerInstancesException):
        ecs.delete_cluster(cluster="doomed")
    assert describe_one(ecs, "doomed")["status"] == "ACTIVE"

    ecs.deregister_container_instance(cluster="doomed", containerInstance=instance)
    deleted = ecs.delete_cluster(cluster="doomed")["cluster"]
    assert deleted["clusterArn"] == arn
    assert deleted["status"] == "INACTIVE"

    described = describe_one(ecs, "doomed")
    assert described["status"] == "INACTIVE"
    assert described["clusterArn"] == arn
    assert arn not in all_cluster_arns(ecs)

    # The name is free again: creating it brings back an ACTIVE cluster.
    again = ecs.create_cluster(clusterName="doomed")["cluster"]
    assert again["clusterArn"] == arn
    assert again["status"] == "ACTIVE"
    assert again["registeredContainerInstancesCount"] == 0
    assert describe_one(ecs, "doomed")["status"] == "ACTIVE"
    assert all_cluster_arns(ecs) == [arn]


def test_delete_cluster_refused_while_an_instance_is_draining(ecs):
    ecs.create_cluster(clusterName="draining")
    instance = register_instance(ecs, "draining")
    ecs.update_container_instances_state(cluster="draining", containerInstances=[instance],
                                         status="DRAINING")
    with pytest.raises(ecs.exceptions.ClusterContainsContainerInstancesException):
        ecs.delete_cluster(cluster="draining")


def test_delete_cluster_by_arn(ecs, region):
    ecs.create_cluster(clusterName="by-arn")
    deleted = ecs.delete_cluster(cluster=cluster_arn(region, "by-arn"))["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert ecs.list_clusters()["clusterArns"] == []


def test_deleted_cluster_is_not_usable(ecs):
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    # ECS answers ClusterNotFoundException, or InvalidParameterException ("the
    # specified cluster is inactive"), depending on the operation.
    inactive = ("ClusterNotFoundException", "InvalidParameterException")
    with pytest.raises(ClientError) as info:
        ecs.list_container_instances(cluster="gone")
    assert error_code(info) in inactive
    with pytest.raises(ClientError) as info:
        ecs.update_cluster_settings(
            cluster="gone", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert error_code(info) in inactive
    with pytest.raises(ClientError) as info:
        register_instance(ecs, "gone")
    assert error_code(info) in inactive
    assert describe_one(ecs, "gone")["status"] == "INACTIVE"


def test_recreated_cluster_starts_without_old_tags(ecs, region):
    ecs.create_cluster(clusterName="phoenix", tags=[{"key": "old", "value": "1"}])
    ecs.delete_cluster(cluster="phoenix")
    ecs.create_cluster(clusterName="phoenix", tags=[{"key": "new", "value": "2"}])
    tags = ecs.list_tags_for_resource(resourceArn=cluster_arn(region, "phoenix"))["tags"]
    assert as_dict(tags, "key") == {"new": "2"}


# --- unknown clusters -----------------------------------------------------------------

@pytest.mark.parametrize("operation, params", [
    ("delete_cluster", {}),
    ("update_cluster", {"settings": [{"name": "containerInsights", "value": "enabled"}]}),
    ("update_cluster_settings", {"settings": [{"name": "containerInsights",
                                                "value": "enabled"}]}),
    ("list_container_instances", {}),
    ("describe_container_instances", {"containerInstances": ["0123456789abcdef"]}),
    ("update_container_instances_state", {"containerInstances": ["0123456789abcdef"],
                                          "status": "DRAINING"}),
    ("deregister_container_instance", {"containerInstance": "0123456789abcdef"}),
    ("register_container_instance", {}),
    ("list_attributes", {"targetType": "container-instance"}),
    ("put_attributes", {"attributes": [{"name": "a", "value": "b",
                                        "targetId": "0123456789abcdef"}]}),
])
def test_operations_on_an_unknown_cluster(ecs, operation, params):
    ecs.create_cluster(clusterName="known")
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        getattr(ecs, operation)(cluster="unknown-cluster", **params)


def test_unknown_cluster_by_arn(ecs, region):
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_container_instances(cluster=cluster_arn(region, "not-here"))


# --- the default cluster ---------------------------------------------------------------

def test_register_container_instance_without_cluster_creates_default(ecs, region):
    assert ecs.list_clusters()["clusterArns"] == []
    instance = register_instance(ecs)
    assert instance.startswith(f"arn:aws:ecs:{region}:{ACCOUNT}:container-instance/default/")

    assert ecs.list_clusters()["clusterArns"] == [cluster_arn(region, "default")]
    default = ecs.describe_clusters()["clusters"]
    assert [c["clusterName"] for c in default] == ["default"]
    assert default[0]["status"] == "ACTIVE"
    assert default[0]["registeredContainerInstancesCount"] == 1
    # Operations that omit `cluster` use it.
    assert ecs.list_container_instances()["containerInstanceArns"] == [instance]
    # A second registration doesn't create another cluster.
    register_instance(ecs)
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn(region, "default")]
    assert ecs.describe_clusters()["clusters"][0]["registeredContainerInstancesCount"] == 2


def test_operations_without_cluster_fail_when_default_does_not_exist(ecs):
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_container_instances()


# --- regions and ARNs --------------------------------------------------------------------

def test_clusters_are_isolated_by_region(server, ecs, region):
    other_region = f"test-{uuid.uuid4().hex[:8]}-2"
    other = server.client("ecs", other_region)

    arn = ecs.create_cluster(clusterName="shared-name")["cluster"]["clusterArn"]
    assert arn == cluster_arn(region, "shared-name")

    assert other.list_clusters()["clusterArns"] == []
    seen = other.describe_clusters(clusters=["shared-name"])
    assert seen["clusters"] == []
    assert seen["failures"] == [{"arn": cluster_arn(other_region, "shared-name"),
                                 "reason": "MISSING"}]
    with pytest.raises(other.exceptions.ClusterNotFoundException):
        other.list_container_instances(cluster="shared-name")

    # The same name in the other region is a different cluster.
    other_arn = other.create_cluster(clusterName="shared-name")["cluster"]["clusterArn"]
    assert other_arn == cluster_arn(other_region, "shared-name")
    assert other_arn != arn
    other.delete_cluster(cluster="shared-name")
    assert describe_one(ecs, "shared-name")["status"] == "ACTIVE"
    assert ecs.list_clusters()["clusterArns"] == [arn]
    assert other.list_clusters()["clusterArns"] == []


# --- concurrency -------------------------------------------------------------------------

def run_concurrently(count: int, call) -> list:
    """call(i) in `count` threads at once; returns results, raising the first error."""
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def test_concurrent_create_cluster_is_idempotent(server, ecs, region):
    clients = [server.client("ecs", region) for _ in range(8)]
    arns = run_concurrently(8, lambda i: clients[i].create_cluster(
        clusterName="racy")["cluster"]["clusterArn"])
    assert set(arns) == {cluster_arn(region, "racy")}
    assert all_cluster_arns(ecs) == [cluster_arn(region, "racy")]


def test_concurrent_first_registrations_share_one_default_cluster(server, ecs, region):
    clients = [server.client("ecs", region) for _ in range(8)]
    instances = run_concurrently(8, lambda i: register_instance(clients[i]))
    assert len(set(instances)) == 8
    assert all_cluster_arns(ecs) == [cluster_arn(region, "default")]
    assert ecs.describe_clusters()["clusters"][0]["registeredContainerInstancesCount"] == 8
