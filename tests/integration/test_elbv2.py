"""The ELBv2 API through boto3: load balancers, target groups, targets, listeners, rules,
attributes and tags, with AWS's defaults and errors; a refused request changes nothing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from support.networks import subnets_of, vpc_of

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix



@pytest.fixture
def elb(server, region):
    return server.client("elbv2", region)


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return info.value.response["Error"]["Code"]


def make_lb(elb, name="web") -> dict:
    return elb.create_load_balancer(Name=name, Subnets=subnets_of(elb))["LoadBalancers"][0]


def make_tg(elb, name="blue", **extra) -> dict:
    params = {"Name": name, "Protocol": "HTTP", "Port": 8080, "VpcId": vpc_of(elb), **extra}
    return elb.create_target_group(**params)["TargetGroups"][0]


def forward(tg_arn: str) -> list[dict]:
    return [{"Type": "forward", "TargetGroupArn": tg_arn}]


def make_listener(elb, lb, tg, port=80) -> dict:
    return elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                               DefaultActions=forward(tg["TargetGroupArn"]))["Listeners"][0]


# ---------------------------------------------------------------- load balancers

def test_create_describe_and_delete_a_load_balancer(elb, region):
    lb = make_lb(elb)
    assert lb["LoadBalancerArn"].startswith(
        f"arn:aws:elasticloadbalancing:{region}:000000000000:loadbalancer/app/web/")
    assert lb["Type"] == "application" and lb["Scheme"] == "internet-facing"
    # No data plane has served it yet (test_lb_dataplane.py sees it become active).
    assert lb["State"]["Code"] == "provisioning" and "nozama lb" in lb["State"]["Reason"]
    assert lb["DNSName"].startswith("web-") and lb["DNSName"].endswith(
        f".{region}.elb.localhost")
    assert [z["ZoneName"] for z in lb["AvailabilityZones"]] == [f"{region}a", f"{region}b"]
    assert [z["SubnetId"] for z in lb["AvailabilityZones"]] == subnets_of(elb)
    # Idempotent: the same request again returns the same load balancer.
    assert make_lb(elb)["LoadBalancerArn"] == lb["LoadBalancerArn"]
    described = elb.describe_load_balancers(Names=["web"])["LoadBalancers"]
    assert [d["LoadBalancerArn"] for d in described] == [lb["LoadBalancerArn"]]
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert code_of(elb.describe_load_balancers, Names=["web"]) == "LoadBalancerNotFound"


def test_internal_load_balancers_have_internal_dns_names(elb):
    lb = elb.create_load_balancer(Name="inside", Subnets=subnets_of(elb),
                                  Scheme="internal")["LoadBalancers"][0]
    assert lb["DNSName"].startswith("internal-inside-")


@pytest.mark.parametrize("name", ["-web", "web-", "a" * 33, "web_1", "internal-web"])
def test_bad_load_balancer_names_are_refused(elb, name):
    assert code_of(elb.create_load_balancer, Name=name,
                   Subnets=subnets_of(elb)) == "ValidationError"
    assert elb.describe_load_balancers()["LoadBalancers"] == []


def test_a_load_balancer_needs_two_subnets(elb):
    assert code_of(elb.create_load_balancer, Name="web",
                   Subnets=subnets_of(elb)[:1]) == "ValidationError"
    assert code_of(elb.create_load_balancer, Name="web", Type="network",
                   Subnets=subnets_of(elb)) == "ValidationError"


def test_same_name_with_other_settings_is_a_duplicate(elb):
    make_lb(elb)
    assert code_of(elb.create_load_balancer, Name="web", Subnets=subnets_of(elb),
                   Scheme="internal") == "DuplicateLoadBalancerName"


def test_load_balancers_page_with_markers(elb):
    arns = sorted(make_lb(elb, f"lb{i}")["LoadBalancerArn"] for i in range(5))
    seen, marker = [], None
    while True:
        page = elb.describe_load_balancers(PageSize=2, **({"Marker": marker} if marker else {}))
        seen += [lb["LoadBalancerArn"] for lb in page["LoadBalancers"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == arns
    assert code_of(elb.describe_load_balancers, Marker="garbage") == "ValidationError"


def test_load_balancer_attributes(elb):
    lb = make_lb(elb)
    arn = lb["LoadBalancerArn"]
    attributes = {a["Key"]: a["Value"] for a in
                  elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == "60"
    assert attributes["deletion_protection.enabled"] == "false"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "120"},
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    assert code_of(elb.modify_load_balancer_attributes, LoadBalancerArn=arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "0"}]) == "ValidationError"
    assert code_of(elb.modify_load_balancer_attributes, LoadBalancerArn=arn, Attributes=[
        {"Key": "no.such.key", "Value": "1"}]) == "ValidationError"
    attributes = {a["Key"]: a["Value"] for a in
                  elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == "120"
    assert code_of(elb.delete_load_balancer, LoadBalancerArn=arn) == "OperationNotPermitted"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    elb.delete_load_balancer(LoadBalancerArn=arn)


# ---------------------------------------------------------------- target groups

def test_target_group_defaults(elb, region):
    tg = make_tg(elb)
    assert tg["TargetGroupArn"].startswith(
        f"arn:aws:elasticloadbalancing:{region}:000000000000:targetgroup/blue/")
    assert (tg["Protocol"], tg["Port"], tg["VpcId"], tg["TargetType"]) == (
        "HTTP", 8080, vpc_of(elb), "instance")
    assert (tg["HealthCheckProtocol"], tg["HealthCheckPort"], tg["HealthCheckPath"]) == (
        "HTTP", "traffic-port", "/")
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"],
            tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (30, 5, 5, 2)
    assert tg["Matcher"] == {"HttpCode": "200"} and tg["LoadBalancerArns"] == []
    assert make_tg(elb)["TargetGroupArn"] == tg["TargetGroupArn"]  # idempotent
    assert code_of(make_tg, elb, Port=9090) == "DuplicateTargetGroupName"
    attributes = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "300"
    assert attributes["load_balancing.algorithm.type"] == "round_robin"
    assert attributes["stickiness.enabled"] == "false"


@pytest.mark.parametrize("extra", [
    {"HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 10},
    {"HealthCheckPort": "abc"},
    {"HealthyThresholdCount": 11},
    {"Matcher": {"HttpCode": "600"}},
    {"Matcher": {"HttpCode": "abc"}},
    {"HealthCheckPath": "health"},
    {"HealthCheckPort": "70000"},
])
def test_bad_health_checks_are_refused(elb, extra):
    assert code_of(make_tg, elb, **extra) == "ValidationError"
    assert elb.describe_target_groups()["TargetGroups"] == []


def test_target_group_needs_protocol_port_and_vpc(elb):
    assert code_of(elb.create_target_group, Name="x", Port=80,
                   VpcId=vpc_of(elb)) == "ValidationError"
    assert code_of(elb.create_target_group, Name="x", Protocol="TCP", Port=80,
                   VpcId=vpc_of(elb)) == "UnsupportedProtocol"
    # A VPC that is not there (EC2's VPCs: test_ec2.py).
    assert code_of(elb.create_target_group, Name="x", Protocol="HTTP", Port=80,
                   VpcId="vpc-0123456789abcdef0") == "ValidationError"
    assert elb.describe_target_groups()["TargetGroups"] == []


def test_modify_target_group_and_its_attributes(elb):
    tg = make_tg(elb)
    arn = tg["TargetGroupArn"]
    modified = elb.modify_target_group(TargetGroupArn=arn, HealthCheckPath="/health",
                                       HealthCheckIntervalSeconds=10,
                                       Matcher={"HttpCode": "200-299"})["TargetGroups"][0]
    assert (modified["HealthCheckPath"], modified["HealthCheckIntervalSeconds"]) == (
        "/health", 10)
    assert code_of(elb.modify_target_group, TargetGroupArn=arn,
                   HealthCheckTimeoutSeconds=20) == "ValidationError"
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
        {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
        {"Key": "stickiness.enabled", "Value": "true"},
        {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "60"},
        {"Key": "slow_start.duration_seconds", "Value": "30"}])
    for bad in [("slow_start.duration_seconds", "10"),
                ("deregistration_delay.timeout_seconds", "3601"),
                ("load_balancing.algorithm.type", "fastest")]:
        assert code_of(elb.modify_target_group_attributes, TargetGroupArn=arn, Attributes=[
            {"Key": bad[0], "Value": bad[1]}]) == "ValidationError"
    attributes = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=arn)["Attributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "5"
    assert attributes["slow_start.duration_seconds"] == "30"


def test_a_target_group_in_use_cannot_be_deleted(elb):
    lb, tg = make_lb(elb), make_tg(elb)
    listener = make_listener(elb, lb, tg)
    assert code_of(elb.delete_target_group,
                   TargetGroupArn=tg["TargetGroupArn"]) == "ResourceInUse"
    described = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])
    assert [t["TargetGroupArn"] for t in described["TargetGroups"]] == [tg["TargetGroupArn"]]
    assert described["TargetGroups"][0]["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    assert code_of(elb.describe_target_groups, Names=["blue"]) == "TargetGroupNotFound"


# ---------------------------------------------------------------- targets

def test_ip_targets_register_drain_and_leave(elb):
    lb, tg = make_lb(elb), make_tg(elb, TargetType="ip")
    arn = tg["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "60"}])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 9001},
                                                      {"Id": "127.0.0.2"}])

    def health():
        return {(d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"] for d in
                elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}
    # No listener forwards to the group yet.
    assert health()[("127.0.0.1", 9001)] == {
        "State": "unused", "Reason": "Target.NotInUse",
        "Description": "Target group is not configured to receive traffic from the load "
                       "balancer"}
    assert ("127.0.0.2", 8080) in health()
    make_listener(elb, lb, tg)
    assert health()[("127.0.0.1", 9001)]["State"] == "initial"
    assert health()[("127.0.0.1", 9001)]["Reason"] == "Elb.RegistrationInProgress"
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 9001}])
    assert health()[("127.0.0.1", 9001)] == {
        "State": "draining", "Reason": "Target.DeregistrationInProgress",
        "Description": "Target deregistration is in progress"}
    asked = elb.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": "10.9.9.9"}])
    assert asked["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == \
        "Target.NotRegistered"
    assert code_of(elb.deregister_targets, TargetGroupArn=arn,
                   Targets=[{"Id": "10.9.9.9"}]) == "InvalidTarget"
    assert code_of(elb.register_targets, TargetGroupArn=arn,
                   Targets=[{"Id": "not-an-ip"}]) == "ValidationError"


def test_instance_targets_must_be_registered_container_instances(elb, ecs, region):
    tg = make_tg(elb)
    assert code_of(elb.register_targets, TargetGroupArn=tg["TargetGroupArn"],
                   Targets=[{"Id": "i-0123456789abcdef0"}]) == "InvalidTarget"
    ecs.create_cluster(clusterName="default")
    document = json.dumps({"instanceId": "i-0123456789abcdef0",
                           "availabilityZone": f"{region}a"})
    ecs.register_container_instance(instanceIdentityDocument=document, totalResources=[
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024}])
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                         Targets=[{"Id": "i-0123456789abcdef0", "Port": 32768}])
    described = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
    assert [d["Target"] for d in described["TargetHealthDescriptions"]] == [
        {"Id": "i-0123456789abcdef0", "Port": 32768}]


# ---------------------------------------------------------------- listeners

def test_listener_with_its_default_rule(elb):
    lb, tg = make_lb(elb), make_tg(elb)
    listener = make_listener(elb, lb, tg)
    assert listener["ListenerArn"].startswith(
        lb["LoadBalancerArn"].replace(":loadbalancer/", ":listener/"))
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    assert listener["DefaultActions"] == [{
        "Type": "forward", "TargetGroupArn": tg["TargetGroupArn"],
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg["TargetGroupArn"],
                                            "Weight": 1}],
                          "TargetGroupStickinessConfig": {"Enabled": False}}}]
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [(r["Priority"], r["IsDefault"], r["Conditions"]) for r in rules] == [
        ("default", True, [])]
    assert rules[0]["Actions"] == listener["DefaultActions"]
    assert [l["ListenerArn"] for l in elb.describe_listeners(
        LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]] == [listener["ListenerArn"]]
    assert code_of(elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                   Port=80, DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                       "StatusCode": "404"}}]) == "DuplicateListener"
    assert code_of(elb.describe_listeners) == "ValidationError"


def test_weighted_forward_and_the_blue_green_swap(elb):
    lb, blue, green = make_lb(elb), make_tg(elb, "blue"), make_tg(elb, "green")
    weighted = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue["TargetGroupArn"], "Weight": 90},
        {"TargetGroupArn": green["TargetGroupArn"], "Weight": 10}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300}}}]
    production = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                     Port=80, DefaultActions=weighted)["Listeners"][0]
    assert "TargetGroupArn" not in production["DefaultActions"][0]
    assert production["DefaultActions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"] == \
        {"Enabled": True, "DurationSeconds": 300}
    test = make_listener(elb, lb, green, port=8080)
    # The seed's swap: production to green, test to blue.
    elb.modify_listener(ListenerArn=production["ListenerArn"],
                        DefaultActions=forward(green["TargetGroupArn"]))
    elb.modify_listener(ListenerArn=test["ListenerArn"],
                        DefaultActions=forward(blue["TargetGroupArn"]))
    listeners = {l["Port"]: l for l in elb.describe_listeners(
        LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[80]["DefaultActions"][0]["TargetGroupArn"] == green["TargetGroupArn"]
    assert listeners[8080]["DefaultActions"][0]["TargetGroupArn"] == blue["TargetGroupArn"]
    default_rule = elb.describe_rules(ListenerArn=production["ListenerArn"])["Rules"][-1]
    assert default_rule["Actions"][0]["TargetGroupArn"] == green["TargetGroupArn"]


@pytest.mark.parametrize("actions", [
    [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "TG", "Weight": 1000}]}}],
    [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "TG"}, {"TargetGroupArn": "TG"}]}}],
    [{"Type": "forward"}],
    [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "301"}}],
    [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200",
                                                        "ContentType": "image/png"}}],
    [{"Type": "redirect", "RedirectConfig": {"Port": "99999", "StatusCode": "HTTP_301"}}],
    [{"Type": "redirect", "RedirectConfig": {"Path": "no-slash", "StatusCode": "HTTP_302"}}],
    [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}},
     {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
])
def test_bad_actions_are_refused(elb, actions):
    lb, tg = make_lb(elb), make_tg(elb)
    for action in actions:
        for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
            group["TargetGroupArn"] = tg["TargetGroupArn"]
    assert code_of(elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                   Port=80, DefaultActions=actions) == "ValidationError"
    assert elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] == []


def test_more_than_five_target_groups_in_a_forward_action(elb):
    lb = make_lb(elb)
    groups = [{"TargetGroupArn": make_tg(elb, f"tg{i}")["TargetGroupArn"]} for i in range(6)]
    assert code_of(elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                   Port=80, DefaultActions=[{"Type": "forward", "ForwardConfig": {
                       "TargetGroups": groups}}]) == "ValidationError"
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "ForwardConfig": {
                            "TargetGroups": groups[:5]}}])


def test_a_target_group_belongs_to_one_load_balancer(elb):
    first, second, tg = make_lb(elb, "first"), make_lb(elb, "second"), make_tg(elb)
    make_listener(elb, first, tg)
    assert code_of(make_listener, elb, second, tg) == "TargetGroupAssociationLimit"
    assert code_of(elb.create_listener, LoadBalancerArn=second["LoadBalancerArn"],
                   Protocol="HTTP", Port=80, DefaultActions=forward(
                       tg["TargetGroupArn"].replace("blue", "nope"))) == "TargetGroupNotFound"
    # An application load balancer listens on HTTP and HTTPS only (test_elbv2_https.py).
    assert code_of(elb.create_listener, LoadBalancerArn=second["LoadBalancerArn"],
                   Protocol="TCP", Port=443,
                   DefaultActions=forward(tg["TargetGroupArn"])) == "ValidationError"


def test_a_load_balancer_forwards_within_one_vpc(server, region, elb):
    lb = make_lb(elb)
    assert lb["VpcId"] == vpc_of(elb)   # its subnets' VPC: the region's default VPC
    ec2 = server.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24",
                                 AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    blue, other = make_tg(elb, "blue"), make_tg(elb, "other", VpcId=vpc)
    listener = make_listener(elb, lb, blue)
    refusals = [
        (elb.create_listener, dict(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                   Port=8080, DefaultActions=forward(other["TargetGroupArn"]))),
        (elb.modify_listener, dict(ListenerArn=listener["ListenerArn"],
                                   DefaultActions=forward(other["TargetGroupArn"]))),
        (elb.create_rule, dict(ListenerArn=listener["ListenerArn"], Priority=5,
                               Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
                               Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                                   {"TargetGroupArn": blue["TargetGroupArn"], "Weight": 50},
                                   {"TargetGroupArn": other["TargetGroupArn"], "Weight": 50},
                               ]}}])),
    ]
    for call, params in refusals:
        with pytest.raises(ClientError) as info:
            call(**params)
        assert info.value.response["Error"]["Code"] == "InvalidConfigurationRequest"
        assert info.value.response["Error"]["Message"] == (
            f"Target group '{other['TargetGroupArn']}' is in a different VPC than load "
            f"balancer '{lb['LoadBalancerArn']}'")
    # Nothing changed: one listener, forwarding to blue, with its default rule alone.
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert [(x["Port"], x["DefaultActions"][0]["TargetGroupArn"]) for x in listeners] == [
        (80, blue["TargetGroupArn"])]
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [r["Priority"] for r in rules] == ["default"]
    # The other VPC's group still works with a load balancer of its own.
    second = elb.create_load_balancer(Name="second", Subnets=subnets)["LoadBalancers"][0]
    make_listener(elb, second, other)
    assert elb.describe_load_balancers(Names=["second"])["LoadBalancers"][0]["VpcId"] == vpc


def test_fixed_response_and_redirect_defaults(elb):
    lb = make_lb(elb)
    fixed = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                                    "StatusCode": "503", "ContentType": "text/plain",
                                    "MessageBody": "down"}}])["Listeners"][0]
    assert fixed["DefaultActions"][0]["FixedResponseConfig"] == {
        "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down"}
    redirect = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                   Port=81, DefaultActions=[{"Type": "redirect", "RedirectConfig": {
                                       "Port": "80", "StatusCode": "HTTP_301"}}])["Listeners"][0]
    assert redirect["DefaultActions"][0]["RedirectConfig"] == {
        "Protocol": "#{protocol}", "Port": "80", "Host": "#{host}", "Path": "/#{path}",
        "Query": "#{query}", "StatusCode": "HTTP_301"}


# ---------------------------------------------------------------- rules

def test_rules_with_every_condition_and_priorities(elb):
    lb, blue, green = make_lb(elb), make_tg(elb, "blue"), make_tg(elb, "green")
    listener = make_listener(elb, lb, blue)
    arn = listener["ListenerArn"]
    api = elb.create_rule(ListenerArn=arn, Priority=10, Actions=forward(green["TargetGroupArn"]),
                          Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]},
                                      {"Field": "http-request-method",
                                       "HttpRequestMethodConfig": {"Values": ["GET", "POST"]}}]
                          )["Rules"][0]
    assert api["Priority"] == "10" and api["IsDefault"] is False
    assert api["Conditions"][0] == {"Field": "path-pattern", "Values": ["/api/*"],
                                    "PathPatternConfig": {"Values": ["/api/*"]}}
    canary = elb.create_rule(ListenerArn=arn, Priority=5, Actions=forward(green["TargetGroupArn"]),
                             Conditions=[
                                 {"Field": "host-header", "HostHeaderConfig": {
                                     "Values": ["canary.example.com"]}},
                                 {"Field": "http-header", "HttpHeaderConfig": {
                                     "HttpHeaderName": "X-Canary", "Values": ["1"]}},
                                 {"Field": "query-string", "QueryStringConfig": {
                                     "Values": [{"Key": "v", "Value": "2"}]}},
                                 {"Field": "source-ip", "SourceIpConfig": {
                                     "Values": ["127.0.0.0/8"]}}])["Rules"][0]
    assert code_of(elb.create_rule, ListenerArn=arn, Priority=5,
                   Actions=forward(green["TargetGroupArn"]),
                   Conditions=[{"Field": "path-pattern", "Values": ["/x"]}]) == "PriorityInUse"
    rules = elb.describe_rules(ListenerArn=arn)["Rules"]
    assert [r["Priority"] for r in rules] == ["5", "10", "default"]
    # Swap them in one call.
    elb.set_rule_priorities(RulePriorities=[{"RuleArn": api["RuleArn"], "Priority": 5},
                                            {"RuleArn": canary["RuleArn"], "Priority": 10}])
    rules = elb.describe_rules(ListenerArn=arn)["Rules"]
    assert [r["RuleArn"] for r in rules[:2]] == [api["RuleArn"], canary["RuleArn"]]
    default = rules[-1]["RuleArn"]
    assert code_of(elb.set_rule_priorities, RulePriorities=[
        {"RuleArn": default, "Priority": 1}]) == "OperationNotPermitted"
    assert code_of(elb.delete_rule, RuleArn=default) == "OperationNotPermitted"
    assert code_of(elb.set_rule_priorities, RulePriorities=[
        {"RuleArn": api["RuleArn"], "Priority": 7},
        {"RuleArn": canary["RuleArn"], "Priority": 7}]) == "ValidationError"
    elb.modify_rule(RuleArn=api["RuleArn"], Conditions=[{"Field": "path-pattern",
                                                          "Values": ["/v2/*"]}])
    page = elb.describe_rules(ListenerArn=arn, PageSize=2)
    assert len(page["Rules"]) == 2 and page["NextMarker"]
    rest = elb.describe_rules(ListenerArn=arn, PageSize=2, Marker=page["NextMarker"])
    assert [r["Priority"] for r in rest["Rules"]] == ["default"] and "NextMarker" not in rest
    elb.delete_rule(RuleArn=canary["RuleArn"])
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=arn)["Rules"]] == [
        "5", "default"]
    assert code_of(elb.describe_rules, RuleArns=[canary["RuleArn"]]) == "RuleNotFound"


@pytest.mark.parametrize("conditions", [
    [{"Field": "cookie", "Values": ["a"]}],
    [{"Field": "path-pattern", "Values": ["/a", "/b", "/c"]},
     {"Field": "host-header", "Values": ["a", "b", "c"]}],
    [{"Field": "path-pattern", "Values": ["/a"]}, {"Field": "path-pattern", "Values": ["/b"]}],
    [{"Field": "source-ip", "SourceIpConfig": {"Values": ["300.1.1.1/8"]}}],
    [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["get"]}}],
    [{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "Bad Name",
                                                   "Values": ["x"]}}],
    [{"Field": "path-pattern", "Values": ["/" + "a" * 200]}],
    [],
])
def test_bad_conditions_are_refused(elb, conditions):
    lb, tg = make_lb(elb), make_tg(elb)
    listener = make_listener(elb, lb, tg)
    assert code_of(elb.create_rule, ListenerArn=listener["ListenerArn"], Priority=1,
                   Actions=forward(tg["TargetGroupArn"]),
                   Conditions=conditions) == "ValidationError"
    assert len(elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]) == 1


def test_deleting_a_load_balancer_deletes_its_listeners_and_rules(elb):
    lb, tg = make_lb(elb), make_tg(elb)
    listener = make_listener(elb, lb, tg)
    elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1,
                    Actions=forward(tg["TargetGroupArn"]),
                    Conditions=[{"Field": "path-pattern", "Values": ["/a"]}])
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert code_of(elb.describe_listeners,
                   ListenerArns=[listener["ListenerArn"]]) == "ListenerNotFound"
    # The target group is free again.
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])


# ---------------------------------------------------------------- tags

def test_tags_on_every_kind_of_resource(elb):
    lb, tg = make_lb(elb), make_tg(elb)
    listener = make_listener(elb, lb, tg)
    rule = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"][0]
    arns = [lb["LoadBalancerArn"], tg["TargetGroupArn"], listener["ListenerArn"],
            rule["RuleArn"]]
    elb.add_tags(ResourceArns=arns, Tags=[{"Key": "team", "Value": "web"}])
    elb.remove_tags(ResourceArns=arns[:1], TagKeys=["team"])
    described = {d["ResourceArn"]: d["Tags"] for d in
                 elb.describe_tags(ResourceArns=arns)["TagDescriptions"]}
    assert described[arns[0]] == []
    assert all(described[a] == [{"Key": "team", "Value": "web"}] for a in arns[1:])
    assert code_of(elb.add_tags, ResourceArns=arns[:1], Tags=[
        {"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]) == "DuplicateTagKeys"
    assert code_of(elb.add_tags, ResourceArns=[arns[0] + "0"],
                   Tags=[{"Key": "a", "Value": "1"}]) == "LoadBalancerNotFound"
    assert code_of(elb.describe_tags, ResourceArns=[tg["TargetGroupArn"] + "0"]) == \
        "TargetGroupNotFound"
    assert code_of(elb.add_tags, ResourceArns=arns[:1], Tags=[
        {"Key": f"k{i}", "Value": "v"} for i in range(51)]) == "TooManyTags"
    created = elb.create_target_group(Name="tagged", Protocol="HTTP", Port=80, VpcId=vpc_of(elb),
                                      Tags=[{"Key": "env", "Value": "prod"}])["TargetGroups"][0]
    assert elb.describe_tags(ResourceArns=[created["TargetGroupArn"]])["TagDescriptions"][0][
        "Tags"] == [{"Key": "env", "Value": "prod"}]


def test_regions_do_not_see_each_other(elb, server, region):
    lb = make_lb(elb)
    other = server.client("elbv2", "eu-central-1")
    assert code_of(other.describe_load_balancer_attributes,
                   LoadBalancerArn=lb["LoadBalancerArn"]) == "LoadBalancerNotFound"
