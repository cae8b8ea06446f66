"""A service's tasks and state as a test looks at them, through boto3: the instances
whose agents are connected, a simulated task definition, the service, its RUNNING
tasks, and waiting for a steady state."""

from __future__ import annotations

from .waiting import wait_for


def connected(ecs) -> list[str]:
    try:
        return ecs.list_container_instances(filter="agentConnected == true")[
            "containerInstanceArns"]
    except ecs.exceptions.ClusterNotFoundException:
        return []


def definition(ecs, family="web", labels=None, memory=64) -> str:
    return ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": "busybox", "memory": memory,
        "dockerLabels": labels or {}}])["taskDefinition"]["taskDefinitionArn"]


def service(ecs, name="web") -> dict:
    return ecs.describe_services(services=[name])["services"][0]


def running_tasks(ecs, name="web") -> list[dict]:
    arns = ecs.list_tasks(serviceName=name)["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(tasks=arns)["tasks"] if t["lastStatus"] == "RUNNING"]


def steady(ecs, name="web", count=None):
    def check():
        s = service(ecs, name)
        done = (s["runningCount"] == s["desiredCount"] and len(s["deployments"]) == 1
                and s["deployments"][0]["rolloutState"] == "COMPLETED")
        if count is not None:
            done = done and s["desiredCount"] == count
        return done and s
    return wait_for(check, timeout=30)
