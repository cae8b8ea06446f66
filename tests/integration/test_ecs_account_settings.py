"""ECS account settings through boto3: PutAccountSetting, PutAccountSettingDefault,
ListAccountSettings (filters, effectiveSettings, pages), DeleteAccountSetting, and
CreateCluster taking the account's containerInsights setting.

Expectations follow the Amazon ECS API reference and the AWS CLI's examples: a setting
belongs to a principal (the root user, an IAM user or role); the root user's is the
account default; effectiveSettings merges the principal's own over the default.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
USER = f"arn:aws:iam::{ACCOUNT}:user/MyUser"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"


def setting(name: str, value: str, principal: str = ROOT) -> dict:
    return {"name": name, "value": value, "principalArn": principal, "type": "user"}


def all_settings(ecs, **params) -> list[dict]:
    found, token = [], None
    while True:
        page = ecs.list_account_settings(**params, **({"nextToken": token} if token else {}))
        found += page["settings"]
        token = page.get("nextToken")
        if not token:
            return found


def test_nothing_is_set_at_first(ecs):
    assert ecs.list_account_settings()["settings"] == []


def test_put_account_setting_for_the_caller_and_list_it(ecs):
    answer = ecs.put_account_setting(name="containerInsights", value="enhanced")
    assert answer["setting"] == setting("containerInsights", "enhanced")
    ecs.put_account_setting(name="awsvpcTrunking", value="enabled")
    assert ecs.list_account_settings()["settings"] == [
        setting("awsvpcTrunking", "enabled"), setting("containerInsights", "enhanced")]
    # Putting it again replaces the value.
    ecs.put_account_setting(name="awsvpcTrunking", value="disabled")
    assert ecs.list_account_settings(name="awsvpcTrunking")["settings"] == [
        setting("awsvpcTrunking", "disabled")]


@pytest.mark.parametrize("name", ["taskLongArnFormat", "serviceLongArnFormat",
                                  "containerInstanceLongArnFormat"])
def test_long_arn_formats_are_accepted_and_recorded(ecs, region, name):
    assert ecs.put_account_setting(name=name, value="enabled")["setting"]["value"] == "enabled"
    assert ecs.list_account_settings(name=name)["settings"] == [setting(name, "enabled")]
    # Nozama always uses long ARNs (the cluster's name is in them).
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="f", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 32}])
    service = ecs.create_service(cluster="c", serviceName="s", taskDefinition="f",
                                 desiredCount=0)["service"]
    assert service["serviceArn"] == f"arn:aws:ecs:{region}:{ACCOUNT}:service/c/s"


def test_settings_of_a_user_and_of_the_account_default(ecs):
    answer = ecs.put_account_setting_default(name="containerInsights", value="enabled")
    assert answer["setting"] == setting("containerInsights", "enabled")
    answer = ecs.put_account_setting(name="containerInsights", value="disabled",
                                     principalArn=USER)
    assert answer["setting"] == setting("containerInsights", "disabled", USER)

    # Without effectiveSettings: only what the principal set itself.
    assert ecs.list_account_settings(principalArn=USER)["settings"] == [
        setting("containerInsights", "disabled", USER)]
    assert ecs.list_account_settings(principalArn=ROLE)["settings"] == []
    assert ecs.list_account_settings()["settings"] == [setting("containerInsights", "enabled")]

    # With it: the principal's own where set, else the account default, else ECS's.
    user = {s["name"]: s for s in all_settings(ecs, principalArn=USER, effectiveSettings=True)}
    assert user["containerInsights"] == setting("containerInsights", "disabled", USER)
    assert user["taskLongArnFormat"] == setting("taskLongArnFormat", "enabled")
    assert user["awsvpcTrunking"] == setting("awsvpcTrunking", "disabled")
    role = {s["name"]: s for s in all_settings(ecs, principalArn=ROLE, effectiveSettings=True)}
    assert role["containerInsights"] == setting("containerInsights", "enabled")
    assert role["guardDutyActivate"]["type"] == "aws_managed"


def test_list_filters_by_name_and_value(ecs):
    ecs.put_account_setting(name="awsvpcTrunking", value="enabled")
    ecs.put_account_setting(name="containerInsights", value="enabled")
    ecs.put_account_setting(name="tagResourceAuthorization", value="off")
    assert ecs.list_account_settings(name="containerInsights", value="enabled")[
        "settings"] == [setting("containerInsights", "enabled")]
    assert ecs.list_account_settings(name="containerInsights", value="disabled")[
        "settings"] == []
    effective = ecs.list_account_settings(name="taskLongArnFormat", value="enabled",
                                          effectiveSettings=True)["settings"]
    assert effective == [setting("taskLongArnFormat", "enabled")]
    # A value filter needs a name, as the API reference says.
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_account_settings(value="enabled")


def test_list_pages_with_next_token_and_max_results(ecs):
    names = ["awsvpcTrunking", "containerInsights", "containerInstanceLongArnFormat",
             "serviceLongArnFormat", "taskLongArnFormat"]
    for name in names:
        ecs.put_account_setting(name=name, value="enabled")
    first = ecs.list_account_settings(maxResults=2)
    assert len(first["settings"]) == 2 and first["nextToken"]
    listed = all_settings(ecs, maxResults=2)
    assert [s["name"] for s in listed] == sorted(names)
    effective = all_settings(ecs, effectiveSettings=True, maxResults=3)
    assert len(effective) == len({s["name"] for s in effective}) == 11
    # Without maxResults ECS returns at most 10.
    page = ecs.list_account_settings(effectiveSettings=True)
    assert len(page["settings"]) == 10 and page["nextToken"]
    for bad in (0, 11):
        with pytest.raises(ecs.exceptions.InvalidParameterException):
            ecs.list_account_settings(maxResults=bad)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_account_settings(nextToken="not-a-token")


def test_delete_account_setting_returns_what_it_removed(ecs):
    ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")
    ecs.put_account_setting(name="awsvpcTrunking", value="disabled", principalArn=USER)
    answer = ecs.delete_account_setting(name="awsvpcTrunking", principalArn=USER)
    assert answer["setting"] == setting("awsvpcTrunking", "disabled", USER)
    assert ecs.list_account_settings(principalArn=USER)["settings"] == []
    # The account default applies to the user again.
    assert ecs.list_account_settings(principalArn=USER, name="awsvpcTrunking",
                                     effectiveSettings=True)["settings"] == [
        setting("awsvpcTrunking", "enabled")]
    ecs.delete_account_setting(name="awsvpcTrunking")
    assert ecs.list_account_settings()["settings"] == []
    assert ecs.list_account_settings(name="awsvpcTrunking", effectiveSettings=True)[
        "settings"] == [setting("awsvpcTrunking", "disabled")]


@pytest.mark.parametrize("params", [
    {"name": "containerInsights", "value": "on"},
    {"name": "awsvpcTrunking", "value": "enhanced"},
    {"name": "fargateTaskRetirementWaitPeriod", "value": "3"},
    {"name": "guardDutyActivate", "value": "on"},
    {"name": "containerInsights", "value": "enabled", "principalArn": "not-an-arn"},
    {"name": "containerInsights", "value": "enabled",
     "principalArn": "arn:aws:iam::000000000000:group/admins"},
    {"name": "fargateTaskRetirementWaitPeriod", "value": "14", "principalArn": USER},
])
def test_bad_settings_are_refused_and_change_nothing(ecs, params):
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.put_account_setting(**params)
    assert ecs.list_account_settings()["settings"] == []
    assert ecs.list_account_settings(principalArn=USER)["settings"] == []


def test_unknown_setting_names_are_refused(ecs):
    for call in (lambda: ecs.put_account_setting(name="nope", value="enabled"),
                 lambda: ecs.put_account_setting_default(name="nope", value="enabled"),
                 lambda: ecs.list_account_settings(name="nope"),
                 lambda: ecs.delete_account_setting(name="nope")):
        with pytest.raises(ecs.exceptions.InvalidParameterException):
            call()
    assert ecs.list_account_settings()["settings"] == []


def test_a_principal_of_another_account_is_refused(ecs):
    with pytest.raises(ClientError) as info:
        ecs.put_account_setting(name="awsvpcTrunking", value="enabled",
                                principalArn="arn:aws:iam::111111111111:user/x")
    assert error_code(info) == "AccessDeniedException"


def test_settings_are_per_region(server, ecs, region):
    ecs.put_account_setting(name="awsvpcTrunking", value="enabled")
    other = server.client("ecs", region.replace("-1", "-2"))
    assert other.list_account_settings()["settings"] == []


def test_create_cluster_takes_the_account_container_insights_setting(ecs):
    assert ecs.create_cluster(clusterName="before")["cluster"]["settings"] == [
        {"name": "containerInsights", "value": "disabled"}]
    ecs.put_account_setting_default(name="containerInsights", value="enhanced")
    assert ecs.create_cluster(clusterName="after")["cluster"]["settings"] == [
        {"name": "containerInsights", "value": "enhanced"}]
    # A cluster's own setting wins over the account's.
    own = ecs.create_cluster(clusterName="own", settings=[
        {"name": "containerInsights", "value": "disabled"}])["cluster"]
    assert own["settings"] == [{"name": "containerInsights", "value": "disabled"}]
