"""Fuzzing the ELBv2 API with requests generated from botocore's own ELBv2 model.

As for ECS (test_fuzz_ecs.py, whose shape strategies this reuses): requests for
every ELBv2 operation Nozama implements, mostly valid, often outside the
model's constraints, sent through botocore with its validation off. The
resources they name are drawn from a pool the test creates first (a load
balancer, two target groups, a listener and a rule), so requests act on real
resources and not only trip validation.

Properties: the server never answers 5xx; every error is a 4xx query-protocol
XML error with a Code; a baseline (a load balancer with a listener, a rule, a
target group with a target, tags on all) that no generated request can name
reads back exactly the same afterwards.
"""

from __future__ import annotations

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from support.ecs_requests import shape_strategy
from support.fuzzing import examples
from support.networks import subnets_of, vpc_of

# Fuzzing writes to and reads back from the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix

MODEL = botocore.session.get_session().get_service_model("elbv2")
EXAMPLES = examples(300)


def operations() -> list[str]:
    from nozama.aws import registry
    return sorted(registry()["elbv2"].operations)


def _create_pool(elb, prefix: str) -> dict[str, list[str]]:
    lb = elb.create_load_balancer(Name=f"{prefix}-lb", Subnets=subnets_of(elb))["LoadBalancers"][0]
    groups = [elb.create_target_group(Name=f"{prefix}-tg{i}", Protocol="HTTP", Port=8080,
                                      VpcId=vpc_of(elb), TargetType="ip")["TargetGroups"][0]
              for i in range(2)]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]["TargetGroupArn"]}])[
        "Listeners"][0]
    rule = elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/a"]}], Actions=[
        {"Type": "forward", "TargetGroupArn": groups[1]["TargetGroupArn"]}])["Rules"][0]
    elb.register_targets(TargetGroupArn=groups[0]["TargetGroupArn"],
                         Targets=[{"Id": "10.0.0.1", "Port": 80}])
    arns = {"LoadBalancerArn": [lb["LoadBalancerArn"]],
            "TargetGroupArn": [g["TargetGroupArn"] for g in groups],
            "ListenerArn": [listener["ListenerArn"]], "RuleArn": [rule["RuleArn"]]}
    elb.add_tags(ResourceArns=[a for values in arns.values() for a in values],
                 Tags=[{"Key": "owner", "Value": prefix}])
    return arns


def snapshot(elb, arns: dict[str, list[str]]) -> dict:
    lb = arns["LoadBalancerArn"][0]
    listener = arns["ListenerArn"][0]
    everything = [a for values in arns.values() for a in values]
    return {
        # State is observed (provisioning until a data plane serves it, and another
        # test's data plane may): no request under test changes it.
        "lb": [{k: v for k, v in found.items() if k != "State"} for found in
               elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"]],
        "lb_attributes": elb.describe_load_balancer_attributes(LoadBalancerArn=lb)["Attributes"],
        "listeners": elb.describe_listeners(LoadBalancerArn=lb)["Listeners"],
        "rules": elb.describe_rules(ListenerArn=listener)["Rules"],
        "groups": elb.describe_target_groups(TargetGroupArns=arns["TargetGroupArn"])[
            "TargetGroups"],
        "group_attributes": [elb.describe_target_group_attributes(TargetGroupArn=g)["Attributes"]
                             for g in arns["TargetGroupArn"]],
        "health": [elb.describe_target_health(TargetGroupArn=g)["TargetHealthDescriptions"]
                   for g in arns["TargetGroupArn"]],
        "tags": elb.describe_tags(ResourceArns=everything)["TagDescriptions"],
    }


@pytest.fixture
def clients(server, region):
    elb = server.client("elbv2", region)
    unchecked = boto3.session.Session().client(
        "elbv2", endpoint_url=server.endpoint, region_name=region,
        aws_access_key_id=server.credentials[0],
        aws_secret_access_key=server.credentials[1], config=botocore.config.Config(
            parameter_validation=False, retries={"max_attempts": 1}))
    return elb, unchecked


@pytest.fixture
def pools(clients):
    elb, _ = clients
    base = _create_pool(elb, "nzbase")
    fuzzed = _create_pool(elb, "fz")
    return base, fuzzed, snapshot(elb, base)


def _requests(fuzzed: dict[str, list[str]]):
    hints = {key: st.one_of(st.sampled_from(values), st.text(max_size=12))
             for key, values in fuzzed.items()}
    hints["TargetGroupArns"] = hints["TargetGroupArn"]
    hints["ResourceArns"] = st.sampled_from([a for v in fuzzed.values() for a in v])

    def with_hints(shape_value, shape):
        # Point the ARN members of generated requests at the pool's resources.
        if isinstance(shape_value, dict):
            return st.fixed_dictionaries({
                k: (hints[k] if k in hints and shape.members[k].type_name == "string" else
                    st.lists(hints[k], min_size=1, max_size=2) if k in hints else
                    st.just(v)) for k, v in shape_value.items()})
        return st.just(shape_value)

    def for_operation(op):
        shape = MODEL.operation_model(op).input_shape
        return shape_strategy(shape).flatmap(lambda value: with_hints(value, shape)).map(
            lambda value: (op, value))
    return st.one_of([for_operation(op) for op in operations()])


def test_fuzz_elbv2(clients, pools):
    elb, unchecked = clients
    base, fuzzed, before = pools

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(call=_requests(fuzzed))
    def run(call):
        op, params = call
        note(f"{op} {params!r}")
        try:
            getattr(unchecked, botocore.xform_name(op))(**params)
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            assert 400 <= status < 500, (op, params, error.response)
            assert error.response["Error"].get("Code"), error.response
    run()
    assert snapshot(elb, base) == before
