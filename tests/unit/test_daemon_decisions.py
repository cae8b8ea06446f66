"""DAEMON services: where their tasks belong (scheduler/qualify.py) and what one pass
starts and stops (controllers/daemon.py)."""

from __future__ import annotations

from nozama.controllers.daemon import DaemonInstances, DaemonTask, daemon_step
from nozama.scheduler.qualify import qualifying_instances
from nozama.scheduler.state import ClusterState

from support.scheduler import instance


def instances(eligible, connected=None, waiting=()) -> DaemonInstances:
    return DaemonInstances(frozenset(eligible), frozenset(
        eligible if connected is None else connected), frozenset(waiting))


def task(n: int, instance: str, primary: bool = True, healthy: bool = True) -> DaemonTask:
    return DaemonTask(f"task/{n}", instance, primary, healthy)


def test_every_active_instance_that_meets_the_constraints_qualifies():
    state = ClusterState([
        instance(1), instance(2, status="DRAINING"), instance(3, agent_connected=False),
        instance(4, remaining_cpu=0, groups={"service:log": 1}),
        instance(5, attributes={"role": "db"})])
    found = qualifying_instances(state, "service:log", [], None)
    # Resources, a disconnected agent and the daemon's own task don't disqualify.
    assert [i.arn for i in found] == ["arn:ci/1", "arn:ci/3", "arn:ci/4", "arn:ci/5"]
    only_db = qualifying_instances(state, "service:log", [
        {"type": "memberOf", "expression": "attribute:role == db"}], None)
    assert [i.arn for i in only_db] == ["arn:ci/5"]


def test_a_task_starts_on_each_instance_without_one():
    step = daemon_step(instances({"a", "b", "c"}), [task(1, "a")], 0)
    assert step.desired == 3 and step.start_on == ("b", "c") and step.stop == ()


def test_an_instance_that_no_longer_qualifies_loses_its_task():
    step = daemon_step(instances({"a"}), [task(1, "a"), task(2, "gone")], 0)
    assert step.desired == 1 and step.stop == ("task/2",)


def test_a_draining_instance_keeps_its_daemon_until_its_other_tasks_are_gone():
    waiting = daemon_step(instances({"a"}, waiting={"b"}), [task(1, "a"), task(2, "b")], 0)
    assert waiting.stop == () and waiting.desired == 1
    drained = daemon_step(instances({"a"}), [task(1, "a"), task(2, "b")], 0)
    assert drained.stop == ("task/2",)


def test_a_disconnected_instance_keeps_its_task_but_gets_none():
    step = daemon_step(instances({"a", "b", "c"}, connected={"a"}), [task(1, "b")], 0)
    # b holds its task (counted, not replaced); c can't be reached: not counted yet.
    assert step.desired == 2 and step.start_on == ("a",) and step.stop == ()


def test_a_deployment_with_ecs_defaults_replaces_every_task_at_once():
    old = [task(n, i, primary=False) for n, i in enumerate("abc")]
    step = daemon_step(instances({"a", "b", "c"}), old, 0)
    assert sorted(step.stop) == ["task/0", "task/1", "task/2"] and step.start_on == ()


def test_a_deployment_replaces_task_by_task_within_minimum_healthy_percent():
    old = [task(n, i, primary=False) for n, i in enumerate("abc")]
    first = daemon_step(instances({"a", "b", "c"}), old, 60)  # 2 of 3 must stay healthy
    assert first.stop == ("task/0",)
    # a's old task stopped: the new revision starts there, nothing else stops meanwhile.
    starting = daemon_step(instances({"a", "b", "c"}), old[1:], 60)
    assert starting.start_on == ("a",) and starting.stop == ()
    pending = daemon_step(instances({"a", "b", "c"}),
                          [task(9, "a", healthy=False)] + old[1:], 60)
    assert pending.stop == () and pending.start_on == ()
    healthy = daemon_step(instances({"a", "b", "c"}), [task(9, "a")] + old[1:], 60)
    assert healthy.stop == ("task/1",)


def test_an_unhealthy_old_task_goes_whatever_the_floor():
    tasks = [task(1, "a", primary=False, healthy=False), task(2, "b", primary=False)]
    step = daemon_step(instances({"a", "b"}), tasks, 100)
    assert step.stop == ("task/1",)


def test_a_second_task_on_an_instance_is_stopped():
    step = daemon_step(instances({"a"}), [task(1, "a", primary=False), task(2, "a")], 100)
    assert step.stop == ("task/1",) and step.desired == 1
