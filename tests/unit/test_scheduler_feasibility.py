"""Unit tests for the scheduler's feasibility filters, one by one, then compiled."""

from __future__ import annotations

import random
from collections import Counter
from functools import partial

import pytest

from nozama.kernel import errors
from nozama.model.cluster_query import parse_expression
from nozama.model.resources import Requirements
from nozama.scheduler.feasibility import (
    AgentConnected,
    DistinctInstance,
    InstanceStatus,
    LaunchTypeCompatible,
    MemberOf,
    RequiredAttributes,
    Resources,
    compile_filters,
    parse_constraints,
)

from support import scheduler


# One instance, arn:ci/1: a t3.large in us-east-1a unless a test gives other attributes.
instance = partial(scheduler.instance, 1, zone="us-east-1a",
                   attributes={"ecs.instance-type": "t3.large"})


@pytest.mark.parametrize("status, reason", [("ACTIVE", None), ("DRAINING", "DRAINING"),
                                            ("INACTIVE", "INACTIVE")])
def test_instance_status(status, reason):
    assert InstanceStatus().check(instance(status=status)) == reason


def test_agent_connected():
    assert AgentConnected().check(instance()) is None
    assert AgentConnected().check(instance(agent_connected=False)) == "AGENT"


def test_launch_type_must_match_the_instance_and_the_task_definition():
    ec2, external = instance(), instance(launch_type="EXTERNAL")
    assert LaunchTypeCompatible("EC2", ["EXTERNAL", "EC2"]).check(ec2) is None
    assert LaunchTypeCompatible("EC2", ["EXTERNAL", "EC2"]).check(external) == "ATTRIBUTE"
    assert LaunchTypeCompatible("EXTERNAL", ["EXTERNAL", "EC2"]).check(external) is None
    assert LaunchTypeCompatible("EXTERNAL", ["EC2"]).check(external) == "ATTRIBUTE"
    assert LaunchTypeCompatible("EC2").check(ec2) is None  # no task definition to ask


def test_required_attributes_by_name_and_by_value():
    inst = instance(attributes={"com.amazonaws.ecs.capability.docker-remote-api.1.19": None,
                                "ecs.os-type": "linux"})
    assert RequiredAttributes([{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.19"},
                               {"name": "ecs.os-type", "value": "linux"}]).check(inst) is None
    assert RequiredAttributes([{"name": "ecs.capability.efsAuth"}]).check(inst) == "ATTRIBUTE"
    assert RequiredAttributes([{"name": "ecs.os-type", "value": "windows"}]).check(inst) == \
        "ATTRIBUTE"


@pytest.mark.parametrize("need, reason", [
    (Requirements(512, 512), None),
    (Requirements(2048, 512), "RESOURCE:CPU"),
    (Requirements(512, 4096), "RESOURCE:MEMORY"),
    (Requirements(512, 512, ports=[80]), "RESOURCE:PORTS"),
    (Requirements(512, 512, ports=[8080]), None),
    (Requirements(512, 512, ports_udp=[53]), "RESOURCE:PORTS_UDP"),
    (Requirements(1024, 2048), None),  # exactly what is left fits
])
def test_resources_give_ecs_reasons(need, reason):
    inst = instance(used_ports={22, 80}, used_ports_udp={53})
    assert Resources(need).check(inst) == reason
    assert Resources(need).fits(inst) is (reason is None)


def test_resources_fast_check_agrees_with_shortfall():
    rng = random.Random(11)
    for _ in range(500):
        inst = instance(remaining_cpu=rng.randrange(0, 300), remaining_memory=rng.randrange(0, 300),
                        used_ports=set(rng.sample(range(10), 3)),
                        used_ports_udp=set(rng.sample(range(10), 2)))
        need = Requirements(rng.randrange(0, 300), rng.randrange(0, 300),
                            rng.sample(range(10), rng.randrange(0, 2)),
                            rng.sample(range(10), rng.randrange(0, 2)))
        assert Resources(need).fits(inst) is (Resources(need).check(inst) is None)


def test_distinct_instance_looks_at_the_group_only():
    inst = instance(task_groups=Counter({"service:db": 1}))
    assert DistinctInstance("service:web").check(inst) is None
    assert DistinctInstance("service:db").check(inst) == "DistinctInstance"


def test_member_of_attribute_expression():
    query = MemberOf(parse_expression("attribute:ecs.instance-type =~ t3.*"))
    assert query.static
    assert query.check(instance()) is None
    assert query.check(instance(attributes={"ecs.instance-type": "m5.large"})) == "MemberOf"


def test_member_of_task_group_sees_the_instance_groups():
    query = MemberOf(parse_expression("task:group == service:db"))
    assert not query.static  # placements change it: checked per candidate
    assert query.check(instance()) == "MemberOf"
    assert query.check(instance(task_groups=Counter({"service:db": 2}))) is None
    assert not MemberOf(parse_expression("runningTasksCount < 3")).static


def test_parse_constraints():
    filters = parse_constraints([{"type": "distinctInstance"},
                                 {"type": "memberOf", "expression": "agentConnected == true"}],
                                "service:web")
    assert isinstance(filters[0], DistinctInstance) and filters[0].group == "service:web"
    assert isinstance(filters[1], MemberOf)


@pytest.mark.parametrize("constraints", [
    [{"type": "spreadOut"}],
    [{"type": "memberOf"}],
    [{"type": "distinctInstance", "expression": "agentConnected == true"}],
    [{"type": "memberOf", "expression": "attribute:x =="}],
    [{"type": "memberOf", "expression": "agentConnected == true"}] * 11,
])
def test_bad_constraints_are_invalid_parameters(constraints):
    with pytest.raises(errors.ecs.InvalidParameterException):
        parse_constraints(constraints, "service:web")


def test_compiled_filters_report_the_first_reason_in_ecs_order():
    f = compile_filters(Requirements(4096, 512), "service:web",
                        [{"type": "memberOf", "expression": "attribute:ecs.instance-type == x"}])
    assert f.first_failure(instance(status="DRAINING", agent_connected=False)) == "DRAINING"
    assert f.first_failure(instance(agent_connected=False)) == "AGENT"
    assert f.first_failure(instance()) == "RESOURCE:CPU"
    assert f.first_failure(instance(remaining_cpu=8192)) == "MemberOf"
    assert f.first_failure(instance(remaining_cpu=8192,
                                    attributes={"ecs.instance-type": "x"})) is None


def test_task_definition_constraints_and_attributes_apply():
    definition = {
        "compatibilities": ["EXTERNAL", "EC2"],
        "requiresAttributes": [{"name": "ecs.capability.secrets.asm.environment-variables"}],
        "placementConstraints": [{"type": "memberOf",
                                  "expression": "attribute:ecs.os-type == linux"}],
    }
    f = compile_filters(Requirements(1, 1), "family:x", [], definition)
    assert f.first_failure(instance(attributes={"ecs.os-type": "linux"})) == "ATTRIBUTE"
    assert f.first_failure(instance(attributes={
        "ecs.capability.secrets.asm.environment-variables": None})) == "MemberOf"
    assert f.first_failure(instance(attributes={
        "ecs.capability.secrets.asm.environment-variables": None,
        "ecs.os-type": "linux"})) is None


def test_static_filters_decide_the_view_signature():
    def signature(need, constraints):
        return compile_filters(need, "service:web", constraints).signature
    member = [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}]
    # Different sizes or a distinctInstance share a view; an attribute query does not.
    assert signature(Requirements(1, 1), []) == signature(Requirements(9, 9), [])
    assert signature(Requirements(1, 1), []) == \
        signature(Requirements(1, 1), [{"type": "distinctInstance"}])
    assert signature(Requirements(1, 1), []) != signature(Requirements(1, 1), member)
    f = compile_filters(Requirements(1, 1), "service:web", member)
    assert f.admits(instance()) and not f.admits(instance(status="DRAINING"))


def test_fast_dynamic_check_agrees_with_the_filters():
    rng = random.Random(7)
    constraints = [{"type": "distinctInstance"},
                   {"type": "memberOf", "expression": "runningTasksCount < 3"},
                   {"type": "memberOf", "expression": "not task:group == service:noisy"}]
    for _ in range(300):
        groups = Counter({g: 1 for g in ("service:web", "service:noisy") if rng.random() < 0.3})
        inst = instance(remaining_cpu=rng.randrange(0, 200), remaining_memory=rng.randrange(0, 200),
                        used_ports={rng.randrange(3)}, task_groups=groups,
                        running_tasks_count=rng.randrange(5))
        need = Requirements(rng.randrange(0, 200), rng.randrange(0, 200), [rng.randrange(4)])
        f = compile_filters(need, "service:web", rng.sample(constraints, rng.randrange(4)))
        assert f.feasible(inst) is (f.first_failure(inst) is None)
