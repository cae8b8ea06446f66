"""Availability Zone rebalancing and zones that lose their agents, with simulated agents:
a service placed while a zone had no instance moves to an even spread when the zone
gets one (ENABLED) or stays as it is (DISABLED); the tasks of a zone whose agents are
gone are replaced elsewhere and not duplicated when the zone returns."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

from support.services import connected, definition, service, steady
from support.waiting import wait_for


def live(ecs, name="web") -> list[dict]:
    """The service's tasks that are RUNNING and meant to stay so."""
    arns = ecs.list_tasks(serviceName=name)["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(tasks=arns)["tasks"]
            if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"]


def spread(tasks: list[dict]) -> list[int]:
    return sorted(Counter(t["availabilityZone"] for t in tasks).values())


def six_tasks_in_two_zones(ecs, agents, rebalancing: str) -> list[dict]:
    agents(2)  # zones a and b
    wait_for(lambda: len(connected(ecs)) == 2)
    created = ecs.create_service(serviceName="web", taskDefinition=definition(ecs),
                                 desiredCount=6, availabilityZoneRebalancing=rebalancing)
    assert created["service"]["availabilityZoneRebalancing"] == rebalancing
    steady(ecs)
    tasks = wait_for(lambda: len(found := live(ecs)) == 6 and found)
    assert spread(tasks) == [3, 3]
    agents(1)  # zone c joins
    wait_for(lambda: len(connected(ecs)) == 3)
    return tasks


def test_a_service_rebalances_over_a_zone_that_joins(ecs, agents):
    six_tasks_in_two_zones(ecs, agents, "ENABLED")
    fewest, deadline = 6, time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = live(ecs)
        fewest = min(fewest, len(tasks))
        if spread(tasks) == [2, 2, 2] and len(tasks) == 6:
            break
        time.sleep(0.05)
    assert spread(live(ecs)) == [2, 2, 2]
    assert fewest >= 6  # a task stops only once its replacement runs
    def balanced():
        messages = [e["message"] for e in service(ecs)["events"]]
        return any(m.startswith("(service web) is AZ balanced") for m in messages) and messages
    messages = wait_for(balanced)
    said = next(m for m in messages if m.startswith("(service web) is AZ balanced"))
    assert said.count("2 tasks in") == 3
    assert any("is not AZ balanced with 3 tasks in" in m and "0 tasks in" in m and
               m.endswith("AZ Rebalancing in progress.") for m in messages)


def test_without_rebalancing_nothing_moves(ecs, agents):
    before = six_tasks_in_two_zones(ecs, agents, "DISABLED")
    time.sleep(3)  # a dozen controller passes
    assert {t["taskArn"] for t in live(ecs)} == {t["taskArn"] for t in before}
    # Turned on later (no deployment starts): the service moves then.
    updated = ecs.update_service(service="web", availabilityZoneRebalancing="ENABLED")
    assert len(updated["service"]["deployments"]) == 1
    wait_for(lambda: spread(live(ecs)) == [2, 2, 2] and len(live(ecs)) == 6, timeout=30)


def test_a_zone_whose_agents_are_gone_is_replaced_and_not_duplicated(ecs, agents):
    started = agents(3)
    wait_for(lambda: len(connected(ecs)) == 3)
    ecs.create_service(serviceName="web", taskDefinition=definition(ecs), desiredCount=3)
    steady(ecs)
    tasks = wait_for(lambda: len(found := live(ecs)) == 3 and found)
    lost = next(t for t in tasks if t["availabilityZone"].endswith("b"))
    zone_b = started[1].process.pid
    os.kill(zone_b, signal.SIGSTOP)  # zone b's agent hears nothing and says nothing
    try:
        # Once its agent is disconnected, b's task is replaced in a or c.
        replaced = wait_for(lambda: len(found := live(ecs)) == 3 and lost["taskArn"] not in
                            {t["taskArn"] for t in found} and found, timeout=30)
        assert all(not t["availabilityZone"].endswith("b") for t in replaced)
        gone = ecs.describe_tasks(tasks=[lost["taskArn"]])["tasks"][0]
        assert gone["desiredStatus"] == "STOPPED"
    finally:
        os.kill(zone_b, signal.SIGCONT)
    # b's agent returns: it stops the task that was replaced, and the service (its
    # rebalancing ENABLED, the default) moves one task back to b: 1/1/1 again.
    wait_for(lambda: ecs.describe_tasks(tasks=[lost["taskArn"]])["tasks"][0][
        "lastStatus"] == "STOPPED", timeout=30)
    wait_for(lambda: spread(live(ecs)) == [1, 1, 1] and len(live(ecs)) == 3, timeout=30)
    wait_for(lambda: len(ecs.list_tasks(serviceName="web")["taskArns"]) == 3)
