"""`decide` is `evaluate`, compiled and remembered (model/iam_policy.py), and what it
remembers lives as long as the key store's cache entry (store/access_keys.py)."""

from __future__ import annotations

import json

import hypothesis
import hypothesis.strategies as st
import pytest

from nozama.aws import registry
from nozama.kernel.clock import FakeClock
from nozama.kernel.context import RequestContext
from nozama.model import iam_managed_policies as managed
from nozama.model import iam_resources
from nozama.model.iam_authorize import authorize
from nozama.model.iam_policy import Decision, Policies, decide, evaluate
from nozama.kernel import errors
from nozama.store import Store
from nozama.store.access_keys import CACHE_SECONDS, AccessKeys
from nozama.store.db import sqlite_url
from nozama.store.sealing import Sealer, load_key

ACCOUNT = "000000000000"

_PATTERN = st.text("abAB:*?/-", max_size=8)
_PATTERNS = _PATTERN | st.lists(_PATTERN, max_size=4)
_CONDITION = st.sampled_from([
    None, {}, {"Null": {"aws:SourceIp": "true"}}, {"Null": {"aws:SourceIp": "false"}},
    {"StringEqualsIfExists": {"aws:SourceIp": "10.0.0.1"}},
    {"StringEquals": {"aws:SourceIp": "10.0.0.1"}}, {"NoSuchOperator": {"k": "v"}}])


@st.composite
def _statements(draw):
    statement = {"Effect": draw(st.sampled_from(["Allow", "Deny", "Maybe"]))}
    action = draw(st.sampled_from(["Action", "NotAction", None]))
    if action:
        statement[action] = draw(_PATTERNS)
    resource = draw(st.sampled_from(["Resource", "NotResource", None]))
    if resource:
        statement[resource] = draw(_PATTERNS)
    condition = draw(_CONDITION)
    if condition is not None:
        statement["Condition"] = condition
    return statement


_DOCUMENTS = st.lists(st.builds(lambda s: {"Version": "2012-10-17", "Statement": s},
                                st.lists(_statements(), max_size=3)
                                | _statements()), max_size=3)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(_DOCUMENTS, st.text("abAB:/-", max_size=8), st.text("abAB:/-", max_size=8))
def test_decide_is_evaluate(documents, action, resource):
    expected = evaluate(documents, action, resource)
    policies = Policies(documents)
    assert decide(policies, action, resource) is expected
    assert decide(policies, action, resource) is expected       # remembered
    assert decide(documents, action, resource) is expected      # a plain tuple or list


@pytest.mark.parametrize("policy", managed._POLICIES, ids=lambda p: p.name)
def test_every_managed_policy_decides_as_it_evaluates(policy):
    policies = Policies([policy.document])
    for service, table in iam_resources._TABLE.items():
        for operation in (*table, "ListEverything", "DescribeSomething"):
            action = iam_resources.action(service, operation)
            for resource in ("*", f"arn:aws:{service}:us-east-1:{ACCOUNT}:thing/x"):
                assert decide(policies, action, resource) is \
                    evaluate([policy.document], action, resource), (action, resource)


def test_a_document_evaluate_trips_on_trips_decide_the_same_way():
    documents = [{"Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]}]
    with pytest.raises(TypeError):
        evaluate(documents, "ecs:ListClusters", "*")
    with pytest.raises(TypeError):
        decide(Policies(documents), "ecs:ListClusters", "*")


def test_what_it_remembers_is_bounded():
    policies = Policies([{"Statement": {"Effect": "Allow", "Action": "ecs:*",
                                        "Resource": "*"}}])
    for n in range(Policies.DECISIONS * 2 + 1):
        assert decide(policies, "ecs:DescribeClusters", f"cluster/{n}") is Decision.ALLOW
    assert 0 < len(policies.decisions) <= Policies.DECISIONS


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    key, path = load_key(tmp_path / "data")
    sealer = Sealer(key)
    with opened.write() as conn:
        sealer.check(conn, path)
    opened.access_keys = AccessKeys(opened, sealer, FakeClock())
    yield opened
    opened.close()


def _call(store, operation: str, **params):
    ctx = RequestContext("us-east-1", ACCOUNT, "r", store, store.access_keys.clock)
    return registry()["iam"].operations[operation](ctx, params)


def test_decisions_are_forgotten_with_the_key_stores_entry(store):
    _call(store, "CreateUser", UserName="alice")
    _call(store, "AttachUserPolicy", UserName="alice",
          PolicyArn=f"{managed.ARN_PREFIX}ReadOnlyAccess")
    key_id = _call(store, "CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    principal = store.access_keys.lookup(key_id, None).principal
    assert isinstance(principal.policies, Policies)
    cluster = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/default"
    authorize(principal, "ecs", "DescribeClusters", {"clusters": ["default"]}, "us-east-1",
              ACCOUNT)
    assert principal.policies.decisions == {("ecs:DescribeClusters", cluster): Decision.ALLOW}
    # A deny put on this server: the key's entry is forgotten at once, and what the old
    # documents decided with it.
    _call(store, "PutUserPolicy", UserName="alice", PolicyName="no", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Deny", "Action": "ecs:Describe*", "Resource": "*"}]}))
    now = store.access_keys.lookup(key_id, None).principal
    assert now.policies is not principal.policies and not now.policies.decisions
    with pytest.raises(errors.ServiceError, match="explicit deny"):
        authorize(now, "ecs", "DescribeClusters", {"clusters": ["default"]}, "us-east-1",
                  ACCOUNT)
    # And the entry read again after CACHE_SECONDS starts from nothing too.
    store.access_keys.clock.advance(CACHE_SECONDS + 0.1)
    assert store.access_keys.lookup(key_id, None).principal.policies is not now.policies
