"""IAM policies: the document checker's messages, AWS's evaluation logic, the resource
each operation is authorized against, AWS's denial messages, and trust policies."""

from __future__ import annotations

import json

import hypothesis
import hypothesis.strategies as st
import pytest

from nozama.kernel import errors
from nozama.model import iam as model
from nozama.model import iam_managed_policies as managed
from nozama.model import iam_resources
from nozama.model.iam_authorize import authorize, trusts, trusts_service
from nozama.model.iam_policy import Decision, check_document, evaluate, wildcard

ACCOUNT = "000000000000"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/default"


def policy(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **more) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action, resource="*", **more) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


# ---------------------------------------------------------------- evaluation

def test_no_statement_means_implicit_deny():
    assert evaluate([], "ecs:ListClusters", "*") is Decision.IMPLICIT_DENY
    assert evaluate([policy(allow("ecs:ListServices"))], "ecs:ListClusters", "*") \
        is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow_in_any_policy():
    policies = [policy(allow("*")), policy(deny("ecs:DeleteCluster", CLUSTER))]
    assert evaluate(policies, "ecs:DeleteCluster", CLUSTER) is Decision.EXPLICIT_DENY
    assert evaluate(policies, "ecs:CreateCluster", CLUSTER) is Decision.ALLOW


def test_actions_match_case_insensitively_with_wildcards():
    policies = [policy(allow(["ecs:Describe*", "logs:Get?ogEvents"]))]
    assert evaluate(policies, "ecs:DescribeServices", "*") is Decision.ALLOW
    assert evaluate(policies, "ECS:describeclusters", "*") is Decision.ALLOW
    assert evaluate(policies, "logs:GetLogEvents", "*") is Decision.ALLOW
    assert evaluate(policies, "logs:GetXXogEvents", "*") is Decision.IMPLICIT_DENY
    assert evaluate(policies, "ecs:ListClusters", "*") is Decision.IMPLICIT_DENY


def test_resources_match_case_sensitively_with_wildcards():
    policies = [policy(allow("ecs:*", "arn:aws:ecs:*:*:cluster/prod-?"))]
    assert evaluate(policies, "ecs:DeleteCluster",
                    f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/prod-a") is Decision.ALLOW
    assert evaluate(policies, "ecs:DeleteCluster",
                    f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/PROD-a") is Decision.IMPLICIT_DENY
    assert evaluate(policies, "ecs:DeleteCluster",
                    f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/prod-ab") \
        is Decision.IMPLICIT_DENY


def test_not_action_and_not_resource():
    policies = [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                       {"Effect": "Deny", "Action": "ecs:*", "NotResource": CLUSTER})]
    assert evaluate(policies, "ecs:RunTask", CLUSTER) is Decision.ALLOW
    assert evaluate(policies, "ecs:RunTask", CLUSTER + "2") is Decision.EXPLICIT_DENY
    assert evaluate(policies, "iam:CreateUser", "*") is Decision.IMPLICIT_DENY


def test_a_single_statement_object_counts_as_a_list_of_one():
    single = {"Version": "2012-10-17", "Statement": allow("ecs:ListClusters")}
    assert evaluate([single], "ecs:ListClusters", "*") is Decision.ALLOW


def test_an_effect_other_than_allow_or_deny_never_applies():
    assert evaluate([policy({"Effect": "allow", "Action": "*", "Resource": "*"})],
                    "ecs:ListClusters", "*") is Decision.IMPLICIT_DENY


def test_conditions_must_all_hold():
    statement = allow("ecs:*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
    assert evaluate([policy(statement)], "ecs:RunTask", "*",
                    {"aws:RequestedRegion": "eu-west-1"}) is Decision.ALLOW
    assert evaluate([policy(statement)], "ecs:RunTask", "*",
                    {"aws:RequestedRegion": "us-east-1"}) is Decision.IMPLICIT_DENY
    assert evaluate([policy(statement)], "ecs:RunTask", "*") is Decision.IMPLICIT_DENY


_NAMES = st.text("abcdefgAB*?:/-", min_size=1, max_size=12)


@hypothesis.given(allows=st.lists(st.tuples(_NAMES, _NAMES), max_size=4),
                  action=st.text("abcAB:", min_size=1, max_size=10),
                  resource=st.text("abc/:", max_size=10))
def test_a_deny_of_everything_always_wins(allows, action, resource):
    policies = [policy(*(allow(a, r) for a, r in allows)), policy(deny("*"))]
    assert evaluate(policies, action, resource) is Decision.EXPLICIT_DENY


@hypothesis.given(text=st.text(max_size=30))
def test_a_star_matches_anything_and_a_literal_only_itself(text):
    assert wildcard("*", False).fullmatch(text)
    assert wildcard(text.replace("*", "").replace("?", ""), False).fullmatch(
        text.replace("*", "").replace("?", ""))


@hypothesis.given(prefix=st.text("abcXYZ.:/", max_size=8), rest=st.text("abc:/", max_size=8))
def test_a_trailing_star_matches_every_extension(prefix, rest):
    assert wildcard(prefix + "*", False).fullmatch(prefix + rest)
    assert wildcard(prefix.upper() + "*", True).fullmatch(prefix.lower() + rest)


# ---------------------------------------------------------------- checking documents

SYNTAX = "Syntax errors in policy."


@pytest.mark.parametrize("document, message", [
    ("This is not a json document", SYNTAX),
    ({"Statement": allow("s3:ListBucket", "arn:aws:s3:::b")},
     "Policy document must be version 2012-10-17 or greater."),
    ({"Version": "2013-10-17", "Statement": allow("s3:ListBucket", "arn:aws:s3:::b")}, SYNTAX),
    ({"Version": "2012-10-17"}, SYNTAX),
    ({"Version": "2012-10-17", "Statement": []}, SYNTAX),
    ({"Version": "2012-10-17", "Statement": ["afd"]}, SYNTAX),
    ({**policy(allow("s3:ListBucket", "arn:aws:s3:::b")), "Extra field": "v"}, SYNTAX),
    (policy({**allow("s3:ListBucket", "arn:aws:s3:::b"), "Extra field": "v"}), SYNTAX),
    (policy({"Effect": "invalid", "Action": "s3:ListBucket", "Resource": "*"}), SYNTAX),
    (policy({"Action": "s3:ListBucket", "Resource": "*"}), SYNTAX),
    (policy(allow("invalid")),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (policy(allow("a a:ListBucket")), "Vendor a a is not valid"),
    (policy(allow("s3:List:Bucket")), "Actions/Condition can contain only one colon."),
    (policy(allow("s3:ListBucket", "invalid resource")),
     'Resource invalid resource must be in ARN format or "*".'),
    (policy(allow("s3:ListBucket", "arn:error:s3:::b")),
     'Partition "error" is not valid for resource "arn:error:s3:::b".'),
    (policy({"Effect": "Allow", "Action": "s3:ListBucket"}),
     "Policy statement must contain resources."),
    (policy({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
    (policy({"Effect": "Allow", "Action": [], "Resource": "*"}),
     "Policy statement must contain actions."),
    (policy({**allow("s3:ListBucket"), "NotAction": "s3:Get*"}), SYNTAX),
    (policy({**allow("s3:ListBucket"), "Condition": {"DateGreaterThanFoo": {"a": "b"}}}),
     SYNTAX),
    (policy({**allow("s3:ListBucket"), "Principal": "*"}),
     "Policy document should not specify a principal."),
    (policy(allow({"a": 1})), SYNTAX),
    ("[" * 100000, SYNTAX),
])
def test_a_malformed_document_gets_iams_message(document, message):
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(errors.ServiceError) as info:
        check_document(text)
    assert (info.value.code, info.value.message) == ("MalformedPolicyDocument", message)


def test_a_good_document_is_returned_parsed():
    text = json.dumps(policy(allow(["ecs:*", "logs:PutLogEvents"], [CLUSTER, "*"])))
    assert check_document(text) == json.loads(text)


@pytest.mark.parametrize("statement, message", [
    ({"Effect": "Allow", "Action": "sts:AssumeRole"}, "Missing required field Principal"),
    ({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*", "Resource": "*"},
     "Has prohibited field Resource"),
    ({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "bob"}},
     'Invalid principal in policy: "AWS":"bob"'),
])
def test_a_malformed_trust_policy_gets_iams_message(statement, message):
    with pytest.raises(errors.ServiceError) as info:
        check_document(json.dumps(policy(statement)), trust=True)
    assert (info.value.code, info.value.message) == ("MalformedPolicyDocument", message)


def test_every_managed_policy_document_passes_the_checker():
    for found in managed.BY_ARN.values():
        assert check_document(json.dumps(found.document)) == found.document


# ---------------------------------------------------------------- resources and authorize

@pytest.mark.parametrize("service, operation, params, resource", [
    ("ecs", "ListClusters", {}, "*"),
    ("ecs", "DescribeClusters", {"clusters": ["prod"]},
     f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"),
    ("ecs", "CreateService", {"cluster": "prod", "serviceName": "web"},
     f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web"),
    ("ecs", "UpdateService", {"service": "web"},
     f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/default/web"),
    ("ecs", "RunTask", {"taskDefinition": "web:3"},
     f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:3"),
    ("ecs", "RunTask", {"taskDefinition": "web"},
     f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:*"),
    ("ecs", "StopTask", {"cluster": CLUSTER, "task": "abc"},
     f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/default/abc"),
    ("elbv2", "DeleteTargetGroup", {"TargetGroupArn": "arn:tg"}, "arn:tg"),
    ("elbv2", "DescribeLoadBalancers", {}, "*"),
    ("lambda", "Invoke", {"FunctionName": "f", "Qualifier": "live"},
     f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f:live"),
    ("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"},
     f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/g:log-stream:s"),
    ("cloudwatch", "PutMetricAlarm", {"AlarmName": "a"},
     f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:a"),
    ("ec2", "DescribeVpcs", {}, "*"),
    ("iam", "CreateUser", {"UserName": "bob"}, f"arn:aws:iam::{ACCOUNT}:user/bob"),
    ("ecs", "DescribeServices", {"services": 7}, "*"),     # the wrong type: not a crash
])
def test_the_resource_an_operation_is_authorized_against(service, operation, params,
                                                         resource):
    assert iam_resources.resource(service, operation, params, "us-east-1", ACCOUNT) == resource


ALICE = model.Principal("user", f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "AIDAX", ())


def _alice(*policies) -> model.Principal:
    return model.Principal(ALICE.kind, ALICE.arn, ACCOUNT, ALICE.user_id, tuple(policies))


def test_authorize_refuses_with_awss_message_per_protocol():
    with pytest.raises(errors.ServiceError) as info:
        authorize(_alice(), "ecs", "CreateService", {"serviceName": "web"}, "us-east-1",
                  ACCOUNT)
    assert (info.value.code, info.value.status) == ("AccessDeniedException", 403)
    assert info.value.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"ecs:CreateService on resource: arn:aws:ecs:us-east-1:{ACCOUNT}:service/default/web "
        "because no identity-based policy allows the ecs:CreateService action")
    with pytest.raises(errors.ServiceError) as info:
        authorize(_alice(policy(allow("*")), policy(deny("elasticloadbalancing:*"))), "elbv2",
                  "DescribeLoadBalancers", {}, "us-east-1", ACCOUNT)
    assert info.value.code == "AccessDenied"
    assert info.value.message.endswith(
        "elasticloadbalancing:DescribeLoadBalancers on resource: * with an explicit deny in "
        "an identity-based policy")
    with pytest.raises(errors.ServiceError) as info:
        authorize(_alice(), "ec2", "DescribeVpcs", {}, "us-east-1", ACCOUNT)
    assert info.value.code == "UnauthorizedOperation"


def test_authorize_lets_through_what_a_policy_allows_the_root_and_get_caller_identity():
    readonly = managed.document("arn:aws:iam::aws:policy/ReadOnlyAccess")
    authorize(_alice(readonly), "ecs", "DescribeClusters", {}, "us-east-1", ACCOUNT)
    authorize(model.root(ACCOUNT), "iam", "DeleteUser", {"UserName": "x"}, "us-east-1",
              ACCOUNT)
    authorize(_alice(), "sts", "GetCallerIdentity", {}, "us-east-1", ACCOUNT)
    with pytest.raises(errors.ServiceError):
        authorize(_alice(readonly), "ecs", "DeleteCluster", {}, "us-east-1", ACCOUNT)


def test_trust_policies_name_principals_accounts_and_services():
    by_account = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                         "Action": "sts:AssumeRole"})
    by_user = policy({"Effect": "Allow", "Principal": {"AWS": [ALICE.arn]},
                      "Action": "sts:AssumeRole"})
    by_service = policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                         "Action": "sts:AssumeRole"})
    bob = model.Principal("user", f"arn:aws:iam::{ACCOUNT}:user/bob", ACCOUNT, "AIDAB")
    stranger = model.Principal("user", "arn:aws:iam::111111111111:user/x", "111111111111", "A")
    assert trusts(by_account, ALICE) and trusts(by_account, bob)
    assert not trusts(by_account, stranger)
    assert trusts(by_user, ALICE) and not trusts(by_user, bob)
    assert not trusts(by_service, ALICE)
    assert trusts_service(by_service, "lambda.amazonaws.com")
    assert not trusts_service(by_service, "ecs-tasks.amazonaws.com")
    denied = policy(by_account["Statement"][0], {"Effect": "Deny", "Principal": "*",
                                                 "Action": "sts:*"})
    assert not trusts(denied, ALICE)



def test_service_principals_as_a_name_a_list_or_everyone():
    """What CreateFunction and RegisterTaskDefinition ask of a role's trust policy."""
    lam, tasks = "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"

    def trust(principal, action="sts:AssumeRole", effect="Allow") -> dict:
        return {"Effect": effect, "Principal": principal, "Action": action}

    both = policy(trust({"Service": [lam, tasks]}, ["sts:AssumeRole", "sts:TagSession"]))
    assert trusts_service(both, lam) and trusts_service(both, tasks)
    assert not trusts_service(both, "ec2.amazonaws.com")
    assert trusts_service(policy(trust("*")), tasks)
    assert trusts_service(policy(trust({"Service": "*"})), tasks)
    # The AWS key names IAM principals (accounts, users, roles), never a service.
    assert not trusts_service(policy(trust({"AWS": "*"})), lam)
    assert not trusts_service(policy(trust({"Service": lam}, "sts:AssumeRoleWithWebIdentity")),
                              lam)
    assert trusts_service(policy(trust({"Service": lam}, "sts:*")), lam)
    denied = policy(trust({"Service": lam}), trust({"Service": [lam]}, "sts:*", "Deny"))
    assert not trusts_service(denied, lam)
    assert not trusts_service(policy(), lam)

def test_key_ids_and_secrets_look_like_awss():
    key_id = model.new_id("AKIA")
    assert len(key_id) == 20 and key_id.startswith("AKIA")
    assert set(key_id[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert len(model.new_secret()) == 40
