"""What ECS shows that a widely used AWS mock's own tests check: ClusterNotFoundException
for RunTask without a `default` cluster, a service's roleArn, and the defaults ECS fills
into an EFS volume of a task definition.

Expectations follow the Amazon ECS API reference and the AWS CLI's examples.
"""

from __future__ import annotations

import pytest

from support.networks import subnets_of, vpc_of

# Services and task definitions are written to the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

ACCOUNT = "000000000000"
SERVICE_LINKED_ROLE = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/"
                       "AWSServiceRoleForECS")
APP = {"name": "app", "image": "busybox", "memory": 32, "portMappings": [{"containerPort": 80}]}


def test_run_task_without_a_default_cluster_is_cluster_not_found(ecs):
    ecs.register_task_definition(family="f", containerDefinitions=[APP])
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.run_task(taskDefinition="f")
    # RunTask does not create the `default` cluster (only a registering instance does).
    assert ecs.list_clusters()["clusterArns"] == []


def _target_group(server, region) -> str:
    elb = server.client("elbv2", region)
    group = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc_of(elb))[
        "TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="web", Subnets=subnets_of(elb))["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    return group


def test_a_service_shows_the_role_it_was_given(server, ecs, region):
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="f", containerDefinitions=[APP])
    entry = {"targetGroupArn": _target_group(server, region), "containerName": "app",
             "containerPort": 80}
    created = ecs.create_service(cluster="c", serviceName="named", taskDefinition="f",
                                 desiredCount=0, loadBalancers=[entry],
                                 role="ecsServiceRole")["service"]
    assert created["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/ecsServiceRole"
    [described] = ecs.describe_services(cluster="c", services=["named"])["services"]
    assert described["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/ecsServiceRole"

    by_arn = f"arn:aws:iam::{ACCOUNT}:role/team/lb-role"
    ecs.delete_service(cluster="c", service="named", force=True)
    ecs.create_service(cluster="c", serviceName="by-arn", taskDefinition="f", desiredCount=0,
                       loadBalancers=[entry], role=by_arn)
    [described] = ecs.describe_services(cluster="c", services=["by-arn"])["services"]
    assert described["roleArn"] == by_arn


def test_a_service_without_a_role_shows_the_service_linked_role(server, ecs, region):
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="f", containerDefinitions=[APP])
    entry = {"targetGroupArn": _target_group(server, region), "containerName": "app",
             "containerPort": 80}
    ecs.create_service(cluster="c", serviceName="balanced", taskDefinition="f",
                       desiredCount=0, loadBalancers=[entry])
    ecs.create_service(cluster="c", serviceName="plain", taskDefinition="f", desiredCount=0)
    described = ecs.describe_services(cluster="c", services=["balanced", "plain"])["services"]
    assert [s["roleArn"] for s in described] == [SERVICE_LINKED_ROLE] * 2


def test_a_role_without_a_load_balancer_is_refused(ecs):
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="f", containerDefinitions=[APP])
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(cluster="c", serviceName="s", taskDefinition="f", desiredCount=0,
                           role="ecsServiceRole")
    assert ecs.list_services(cluster="c")["serviceArns"] == []


def test_an_efs_volume_gets_the_defaults_ecs_fills_in(ecs):
    registered = ecs.register_task_definition(family="efs", containerDefinitions=[APP], volumes=[
        {"name": "plain", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}},
        {"name": "encrypted", "efsVolumeConfiguration": {
            "fileSystemId": "fs-2", "transitEncryption": "ENABLED", "rootDirectory": "/data"}},
    ])["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition="efs")["taskDefinition"]
    assert described["volumes"] == registered["volumes"] == [
        {"name": "plain", "efsVolumeConfiguration": {
            "fileSystemId": "fs-1", "rootDirectory": "/", "transitEncryption": "DISABLED"}},
        {"name": "encrypted", "efsVolumeConfiguration": {
            "fileSystemId": "fs-2", "rootDirectory": "/data", "transitEncryption": "ENABLED"}},
    ]
    # ECS leaves networkMode out when the request did (bridge applies on Linux).
    assert "networkMode" not in described


@pytest.mark.parametrize("efs", [
    {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}},
    {"fileSystemId": "fs-1", "transitEncryption": "ENABLED", "rootDirectory": "/data",
     "authorizationConfig": {"accessPointId": "fsap-1"}},
    {"fileSystemId": "fs-1", "authorizationConfig": {"accessPointId": "fsap-1"}},
])
def test_efs_volumes_ecs_refuses(ecs, efs):
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.register_task_definition(family="efs", containerDefinitions=[APP], volumes=[
            {"name": "v", "efsVolumeConfiguration": efs}])
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
