"""Hypothesis strategies for ECS requests, drawn from the input shapes of botocore's ECS
model: mostly valid values, some outside the model's constraints, and, for the operations
that create things, plausible requests so that the fuzzer builds state to act on.
Used by the ECS fuzzer and, for its generic shapes, the ELBv2 fuzzer."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid

import botocore.session
from hypothesis import strategies as st

MODEL = botocore.session.get_session().get_service_model("ecs")
ACCOUNT = "000000000000"

# The operations the fuzzers send (all the ECS operations Nozama implements).
OPERATIONS = (
    "CreateCluster", "DescribeClusters", "ListClusters", "UpdateCluster", "UpdateClusterSettings",
    "DeleteCluster", "RegisterTaskDefinition", "DescribeTaskDefinition", "ListTaskDefinitions",
    "ListTaskDefinitionFamilies", "DeregisterTaskDefinition", "DeleteTaskDefinitions",
    "RegisterContainerInstance", "DeregisterContainerInstance", "DescribeContainerInstances",
    "ListContainerInstances", "UpdateContainerInstancesState", "PutAttributes", "ListAttributes",
    "DeleteAttributes", "TagResource", "UntagResource", "ListTagsForResource",
)

# Every baseline name contains BASE_MARK, and no generated string does.
BASE_MARK = "nzbase"
BASE_CLUSTER = f"{BASE_MARK}-cluster"
BASE_FAMILY = f"{BASE_MARK}-family"

# Names the fuzzer reuses, so that its requests act on each other's resources.
POOL = ("fz-a", "fz-b", "fz-c")
CONTAINER_NAMES = ("c0", "c1", "c2")
# Placeholders resolved when a request is sent: the test's region, and the
# n-th container instance the fuzzer has registered so far.
REGION = "@REGION@"
INSTANCE_REF = re.compile(r"@CI(ARN|ID)(\d+)@")

MAX_DEPTH = 6

# --------------------------------------------------------------- strategies

def _not_base(text: str) -> bool:
    return BASE_MARK not in text.lower()


names = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)
any_text = st.one_of(st.text(max_size=24), names, st.sampled_from(["", " ", "default", "\x00"]))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                         st.text(max_size=16))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def _b64json(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def ecs_arn(resource: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}"


cluster_refs = st.one_of(st.sampled_from(POOL), st.just("default"),
                         st.sampled_from(POOL).map(lambda n: ecs_arn(f"cluster/{n}")))
family_refs = st.sampled_from(POOL)
revision_numbers = st.one_of(st.integers(0, 4), st.sampled_from([2**31, 2**63, 10**25]))
task_definition_refs = st.one_of(
    family_refs,
    st.builds("{}:{}".format, family_refs, revision_numbers),
    st.builds(lambda f, r: ecs_arn(f"task-definition/{f}:{r}"), family_refs, revision_numbers),
    st.builds("{}:{}".format, family_refs, st.sampled_from(["", "x", "-1", "1.0", " 1"])),
)
instance_refs = st.one_of(st.integers(0, 15).map("@CIARN{}@".format),
                          st.integers(0, 15).map("@CIID{}@".format),
                          st.just(ecs_arn(f"container-instance/fz-a/{uuid.UUID(int=7).hex}")))
resource_arns = st.one_of(
    st.sampled_from(POOL).map(lambda n: ecs_arn(f"cluster/{n}")),
    st.builds(lambda f, r: ecs_arn(f"task-definition/{f}:{r}"), family_refs, st.integers(1, 3)),
    st.integers(0, 15).map("@CIARN{}@".format),
    st.sampled_from([ecs_arn("service/fz-a/svc"), "arn:aws:s3:::bucket", "arn:", "arn:aws:ecs",
                     ecs_arn("cluster/"), ecs_arn("task-definition/fz-a")]),
)
identity_documents = st.builds(
    lambda instance, zone, kind: json.dumps({"instanceId": instance, "availabilityZone": zone,
                                             "instanceType": kind, "region": REGION}),
    st.sampled_from(["i-fz0001", "i-fz0002", "i-fz0003"]), st.sampled_from(["za", "zb"]),
    st.sampled_from(["t3.micro", "m5.large"]))
filters = st.sampled_from([
    "attribute:ecs.instance-type == t3.micro", "attribute:fz.role exists",
    "attribute:ecs.availability-zone in [za, zb]", "ec2InstanceId in ['i-fz0001']",
    "runningTasksCount > 0", "agentConnected == false", "registeredAt > 2020-01-01",
    "attribute:ecs.instance-type =~ t3.*", "not(attribute:x exists)", "((", "attribute:",
    "agentVersion > 1.2.3", "attribute:ecs.instance-type matches [", "a == b and or c",
])
next_tokens = st.one_of(json_values.map(_b64json), st.text(max_size=12),
                        st.sampled_from(["", "=", "e30=", "bnVsbA==", "WzFd", "!!!"]))

# Strategies used, alongside the generic ones, for members of these names.
HINTS: dict[str, st.SearchStrategy] = {
    "clusterName": st.sampled_from(POOL),
    "cluster": cluster_refs,
    "clusters": cluster_refs,
    "family": family_refs,
    "familyPrefix": st.sampled_from(["fz", "fz-a", "f", ""]),
    "taskDefinition": task_definition_refs,
    "taskDefinitions": task_definition_refs,
    "resourceArn": resource_arns,
    "containerInstance": instance_refs,
    "containerInstances": instance_refs,
    "containerInstanceArn": instance_refs,
    "targetId": instance_refs,
    "instanceIdentityDocument": identity_documents,
    "filter": filters,
    "nextToken": next_tokens,
    "key": st.sampled_from(["k1", "k2", "env", "aws:x", "AWS:y"]),
    "tagKeys": st.sampled_from(["k1", "k2", "env", "missing"]),
    "image": st.sampled_from(["nginx:latest", "123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1"]),
    "cpu": st.sampled_from(["256", "1024", "0.5 vCPU", "1 vcpu", "0", "64", "abc"]),
    "memory": st.sampled_from(["512", "1 GB", "0.5GB", "0", "-1", "x"]),
    "containerName": st.sampled_from(CONTAINER_NAMES),
    "sourceContainer": st.sampled_from(CONTAINER_NAMES),
    "links": st.sampled_from(["c1", "c2:alias", "zz"]),
    "sourceVolume": st.sampled_from(["v0", "v1"]),
    "containerPortRange": st.sampled_from(["8000-8010", "10-5", "x-y", "1-70000"]),
    "value": st.sampled_from(["enabled", "disabled", "enhanced", "v1", "web"]),
    "attributeName": st.sampled_from(["fz.role", "ecs.instance-type", "ecs.availability-zone"]),
    "attributeValue": st.sampled_from(["web", "t3.micro", "za"]),
    "name": st.sampled_from(["fz.role", "containerInsights", "CPU", "MEMORY", "c0", "c1", "v0"]),
}
INT_HINTS: dict[str, st.SearchStrategy] = {
    "memory": st.integers(0, 2048),
    "memoryReservation": st.integers(0, 2048),
    "cpu": st.integers(0, 2048),
    "containerPort": st.integers(0, 70000),
    "hostPort": st.integers(0, 70000),
    "maxResults": st.integers(-1, 101),
    "integerValue": st.integers(-5, 4096),
}


def _integers(shape, hint: str | None) -> st.SearchStrategy:
    bits = 64 if shape.type_name == "long" else 32
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    options = [st.integers(0, 1024), st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1),
               st.sampled_from([-1, 2 ** 31, -(2 ** 31) - 1, 2 ** 63, 10 ** 30])]
    if low is not None or high is not None:
        options.append(st.integers(low, high))
        options.append(st.sampled_from([v for v in (
            low - 1 if low is not None else None, high + 1 if high is not None else None)
            if v is not None]))
    if hint in INT_HINTS:
        options += [INT_HINTS[hint]] * 3
    return st.one_of(options)


def _strings(shape, hint: str | None) -> st.SearchStrategy:
    options: list[st.SearchStrategy] = [any_text]
    if shape.enum:
        options += [st.sampled_from(shape.enum)] * 4
    if hint in HINTS:
        options += [HINTS[hint]] * 3
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if high is not None:
        options.append(st.integers(high + 1, high + 8).map(lambda n: "x" * n))
    if low:
        options.append(st.just(""))
    return st.one_of(options).filter(_not_base)


_memo: dict[tuple, st.SearchStrategy] = {}


def shape_strategy(shape, depth: int = 0, hint: str | None = None) -> st.SearchStrategy:
    """Values for a botocore shape: mostly valid, sometimes outside its constraints."""
    # By identity: other services' models (test_fuzz_elbv2.py) reuse shape names.
    key = (id(shape), depth, hint)
    if key not in _memo:
        _memo[key] = _build(shape, depth, hint)
    return _memo[key]


def _build(shape, depth: int, hint: str | None) -> st.SearchStrategy:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        required = {n: shape_strategy(members[n], depth + 1, n) for n in shape.required_members}
        if depth >= MAX_DEPTH:
            return st.fixed_dictionaries(required)
        optional = {n: shape_strategy(m, depth + 1, n) for n, m in members.items()
                    if n not in required}
        # Bound the optional members drawn, so deep shapes stay small.
        most = min(len(optional), max(2, 8 - 2 * depth))
        chosen = st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=most) \
            if optional else st.just([])
        return chosen.flatmap(lambda keys: st.fixed_dictionaries(
            {**required, **{k: optional[k] for k in keys}}))
    if kind == "list":
        if depth >= MAX_DEPTH:
            return st.just([])
        item = shape_strategy(shape.member, depth + 1, hint)
        lists = [st.lists(item, max_size=3 if depth < 2 else 2)]
        high = shape.metadata.get("max")
        if high is not None and high <= 60:
            lists.append(st.lists(item, min_size=high + 1, max_size=high + 1))
        return st.one_of(lists)
    if kind == "map":
        if depth >= MAX_DEPTH:
            return st.just({})
        return st.dictionaries(shape_strategy(shape.key, depth + 1, hint),
                               shape_strategy(shape.value, depth + 1, hint), max_size=3)
    if kind == "string":
        return _strings(shape, hint)
    if kind in ("integer", "long"):
        return _integers(shape, hint)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1),
                            timezones=st.just(dt.timezone.utc))
    if kind == "blob":
        return st.binary(max_size=32)
    raise AssertionError(f"no strategy for shape type {kind}")


# Plausible requests for the operations that create things, so the fuzzer
# builds state to act on and not only trips validation.
plausible_containers = st.fixed_dictionaries(
    {"name": st.sampled_from(CONTAINER_NAMES), "image": HINTS["image"],
     "memory": st.integers(6, 512)},
    optional={"cpu": st.integers(0, 256), "essential": st.booleans(),
              "portMappings": st.lists(st.fixed_dictionaries(
                  {"containerPort": st.integers(1, 65535)},
                  optional={"hostPort": st.integers(0, 65535),
                            "protocol": st.sampled_from(["tcp", "udp"])}), max_size=2),
              "environment": st.lists(st.fixed_dictionaries(
                  {"name": names, "value": st.text(max_size=10)}), max_size=2)})
tag_lists = st.lists(st.fixed_dictionaries({"key": HINTS["key"], "value": st.text(max_size=8)}),
                     max_size=3)
PLAUSIBLE: dict[str, st.SearchStrategy] = {
    "CreateCluster": st.fixed_dictionaries(
        {"clusterName": st.sampled_from(POOL)},
        optional={"tags": tag_lists, "settings": st.lists(st.fixed_dictionaries(
            {"name": st.just("containerInsights"), "value": HINTS["value"]}), max_size=1)}),
    "RegisterTaskDefinition": st.fixed_dictionaries(
        {"family": family_refs,
         "containerDefinitions": st.lists(plausible_containers, min_size=1, max_size=3)},
        optional={"tags": tag_lists, "networkMode": st.sampled_from(["bridge", "host", "none"]),
                  "cpu": HINTS["cpu"], "memory": HINTS["memory"]}),
    "RegisterContainerInstance": st.fixed_dictionaries(
        {"cluster": st.sampled_from(POOL), "instanceIdentityDocument": identity_documents},
        optional={"totalResources": st.lists(st.fixed_dictionaries(
            {"name": st.sampled_from(["CPU", "MEMORY"]), "type": st.just("INTEGER"),
             "integerValue": st.integers(0, 4096)}), max_size=2),
            "attributes": st.lists(st.fixed_dictionaries(
                {"name": HINTS["attributeName"]}, optional={"value": HINTS["attributeValue"]}),
                max_size=3),
            "tags": tag_lists}),
    "TagResource": st.fixed_dictionaries({"resourceArn": resource_arns, "tags": tag_lists}),
    "PutAttributes": st.fixed_dictionaries(
        {"cluster": st.sampled_from(POOL), "attributes": st.lists(st.fixed_dictionaries(
            {"name": HINTS["attributeName"], "targetId": instance_refs},
            optional={"value": HINTS["attributeValue"], "targetType": st.just(
                "container-instance")}), min_size=1, max_size=3)}),
}


def operation_params(name: str) -> st.SearchStrategy:
    generic = shape_strategy(MODEL.operation_model(name).input_shape)
    options = [generic]
    if name in PLAUSIBLE:
        options += [PLAUSIBLE[name]] * 2
    return st.one_of(options)


requests_by_operation = st.one_of(
    [st.tuples(st.just(op), operation_params(op)) for op in OPERATIONS])


@st.composite
def botocore_requests(draw):
    op, params = draw(requests_by_operation)
    required = MODEL.operation_model(op).input_shape.required_members
    if required and draw(st.integers(0, 9)) == 0:
        # A request without one of its required members: botocore sends what it's given.
        dropped = draw(st.sampled_from(required))
        params = {k: v for k, v in params.items() if k != dropped}
    return op, params
