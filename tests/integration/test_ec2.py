"""EC2's networking through boto3, as a user's setup script uses it before ECS and
ELBv2: zones, the default VPC, VPCs, subnets, security groups and their rules, tags
and filters, container instances as EC2 instances; and what is refused, with EC2's
codes, changing nothing."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from nozama.model import networks
from support.errors import refused
from support.networks import ACCOUNT, default_subnets, default_vpc

# VPCs, subnets and groups are rows of the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix


@pytest.fixture
def ec2(server, region):
    return server.client("ec2", region)


@pytest.fixture
def elbv2(server, region):
    return server.client("elbv2", region)


def make_vpc(ec2, cidr="10.0.0.0/16", **extra) -> str:
    return ec2.create_vpc(CidrBlock=cidr, **extra)["Vpc"]["VpcId"]


def make_subnet(ec2, vpc, cidr, zone, **extra) -> str:
    return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone,
                             **extra)["Subnet"]["SubnetId"]


def ids(items: list[dict], key: str) -> list[str]:
    return sorted(item[key] for item in items)


# ---------------------------------------------------------------- a user's setup script

def test_a_setup_script_builds_a_vpc_with_an_alb_in_it(ec2, elbv2, region):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "app"}]}])["Vpc"]
    assert (vpc["CidrBlock"], vpc["State"], vpc["IsDefault"]) == ("10.0.0.0/16", "available",
                                                                  False)
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21
    assert vpc["Tags"] == [{"Key": "Name", "Value": "app"}]
    a = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.1.0/24",
                          AvailabilityZone=f"{region}a")["Subnet"]
    b = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.2.0/24",
                          AvailabilityZone=f"{region}b")["Subnet"]
    assert (a["AvailabilityZone"], a["AvailableIpAddressCount"], a["DefaultForAz"],
            a["MapPublicIpOnLaunch"], a["VpcId"]) == (f"{region}a", 251, False, False,
                                                      vpc["VpcId"])
    group = ec2.create_security_group(GroupName="web", Description="web servers",
                                      VpcId=vpc["VpcId"])["GroupId"]
    authorized = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the world"}]}])
    assert authorized["Return"] is True
    [rule] = authorized["SecurityGroupRules"]
    assert (rule["GroupId"], rule["IsEgress"], rule["IpProtocol"], rule["FromPort"],
            rule["ToPort"], rule["CidrIpv4"]) == (group, False, "tcp", 80, 80, "0.0.0.0/0")
    assert rule["SecurityGroupRuleId"].startswith("sgr-")

    lb = elbv2.create_load_balancer(Name="app", Subnets=[a["SubnetId"], b["SubnetId"]],
                                    SecurityGroups=[group])["LoadBalancers"][0]
    assert lb["VpcId"] == vpc["VpcId"]
    assert lb["SecurityGroups"] == [group]
    assert sorted((z["ZoneName"], z["SubnetId"]) for z in lb["AvailabilityZones"]) == [
        (f"{region}a", a["SubnetId"]), (f"{region}b", b["SubnetId"])]
    tg = elbv2.create_target_group(Name="app", Protocol="HTTP", Port=8080,
                                   VpcId=vpc["VpcId"])["TargetGroups"][0]
    assert tg["VpcId"] == vpc["VpcId"]

    # Everything reads back as it was made.
    [described] = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"]
    assert described["CidrBlock"] == "10.0.0.0/16" and described["Tags"] == vpc["Tags"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    assert ids(subnets["Subnets"], "SubnetId") == sorted([a["SubnetId"], b["SubnetId"]])
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    by_name = {g["GroupName"]: g for g in groups}
    assert set(by_name) == {"default", "web"}     # a new VPC has its own default group
    web = by_name["web"]
    assert (web["GroupId"], web["Description"], web["VpcId"]) == (group, "web servers",
                                                                  vpc["VpcId"])
    assert web["IpPermissions"] == [{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the world"}],
        "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    assert [p["IpProtocol"] for p in web["IpPermissionsEgress"]] == ["-1"]
    assert elbv2.describe_load_balancers(Names=["app"])["LoadBalancers"][0]["VpcId"] == \
        vpc["VpcId"]

    # Taken down in the order AWS wants: load balancer, groups and subnets, VPC.
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    elbv2.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=a["SubnetId"])
    ec2.delete_subnet(SubnetId=b["SubnetId"])
    ec2.delete_vpc(VpcId=vpc["VpcId"])
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]] == [default_vpc(region)]


def test_a_load_balancer_without_security_groups_gets_its_vpcs_default_group(ec2, elbv2,
                                                                             region):
    lb = elbv2.create_load_balancer(Name="plain", Subnets=default_subnets(region))[
        "LoadBalancers"][0]
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert lb["SecurityGroups"] == [default["GroupId"]]
    assert lb["VpcId"] == default_vpc(region)
    # SetSubnets and SetSecurityGroups check as CreateLoadBalancer does.
    group = ec2.create_security_group(GroupName="lb", Description="lb")["GroupId"]
    assert elbv2.set_security_groups(LoadBalancerArn=lb["LoadBalancerArn"],
                                     SecurityGroups=[group])["SecurityGroupIds"] == [group]
    zones = elbv2.set_subnets(LoadBalancerArn=lb["LoadBalancerArn"],
                              Subnets=default_subnets(region, "bc"))["AvailabilityZones"]
    assert sorted(z["ZoneName"] for z in zones) == [f"{region}b", f"{region}c"]
    other = make_vpc(ec2)
    elsewhere = [make_subnet(ec2, other, f"10.0.{i}.0/24", f"{region}{z}")
                 for i, z in enumerate("ab")]
    assert refused(elbv2.set_subnets, LoadBalancerArn=lb["LoadBalancerArn"],
                   Subnets=elsewhere)[0] == "InvalidConfigurationRequest"
    [found] = elbv2.describe_load_balancers(Names=["plain"])["LoadBalancers"]
    assert found["SecurityGroups"] == [group]
    assert sorted(z["SubnetId"] for z in found["AvailabilityZones"]) == \
        sorted(default_subnets(region, "bc"))
    # A group a load balancer uses cannot go.
    assert refused(ec2.delete_security_group, GroupId=group)[0] == "DependencyViolation"


# ---------------------------------------------------------------- defaults and regions

def test_every_region_has_its_zones_and_a_default_vpc_of_its_own(server):
    regions = [f"zz-{uuid.uuid4().hex[:10]}-{n}" for n in (1, 2)]
    seen = {}
    for region in regions:
        ec2 = server.client("ec2", region)
        zones = ec2.describe_availability_zones()["AvailabilityZones"]
        assert [z["ZoneName"] for z in zones] == [f"{region}{z}" for z in "abc"]
        assert {(z["State"], z["RegionName"], z["ZoneType"], z["GroupName"],
                 z["NetworkBorderGroup"]) for z in zones} == {
            ("available", region, "availability-zone", region, region)}
        assert [z["ZoneId"].rsplit("-", 1)[1] for z in zones] == ["az1", "az2", "az3"]
        [vpc] = ec2.describe_vpcs()["Vpcs"]
        assert (vpc["VpcId"], vpc["CidrBlock"], vpc["IsDefault"]) == (
            networks.default_vpc_id(ACCOUNT, region), "172.31.0.0/16", True)
        subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
        assert [(s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"], s["DefaultForAz"],
                 s["MapPublicIpOnLaunch"], s["AvailableIpAddressCount"]) for s in subnets] == [
            (default_subnets(region, z)[0], f"172.31.{16 * i}.0/20", f"{region}{z}", True,
             True, 4091) for i, z in enumerate("abc")]
        [group] = ec2.describe_security_groups()["SecurityGroups"]
        assert (group["GroupName"], group["VpcId"]) == ("default", vpc["VpcId"])
        assert group["IpPermissions"][0]["UserIdGroupPairs"] == [
            {"GroupId": group["GroupId"], "UserId": ACCOUNT}]
        assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
        seen[region] = (vpc["VpcId"], group["GroupId"])
        make_vpc(ec2)   # a VPC of this region only
    assert len({v for v, _ in seen.values()}) == 2
    for region in regions:
        assert len(server.client("ec2", region).describe_vpcs()["Vpcs"]) == 2
    # One region's resources are unknown in the other.
    other = server.client("ec2", regions[1])
    assert refused(other.describe_vpcs, VpcIds=[seen[regions[0]][0]])[0] == \
        "InvalidVpcID.NotFound"
    assert refused(other.describe_security_groups, GroupIds=[seen[regions[0]][1]])[0] == \
        "InvalidGroup.NotFound"


def test_first_requests_at_once_make_one_default_vpc(server, region):
    answers, failures = [], []

    def ask():
        try:
            answers.append(server.client("ec2", region).describe_subnets()["Subnets"])
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    ec2 = server.client("ec2", region)
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1
    assert len(ec2.describe_subnets()["Subnets"]) == 3
    assert len(ec2.describe_security_groups()["SecurityGroups"]) == 1
    assert all(len(found) == 3 for found in answers)


def test_zones_are_named_by_name_id_or_filter(ec2, region):
    zone_id = ec2.describe_availability_zones(ZoneNames=[f"{region}b"])[
        "AvailabilityZones"][0]["ZoneId"]
    assert [z["ZoneName"] for z in ec2.describe_availability_zones(ZoneIds=[zone_id])[
        "AvailabilityZones"]] == [f"{region}b"]
    assert [z["ZoneName"] for z in ec2.describe_availability_zones(Filters=[
        {"Name": "zone-name", "Values": [f"{region}[ac]", f"{region}?"]},
        {"Name": "state", "Values": ["available"]}])["AvailabilityZones"]] == [
        f"{region}a", f"{region}b", f"{region}c"]
    assert ec2.describe_availability_zones(Filters=[
        {"Name": "region-name", "Values": ["us-east-1"]}])["AvailabilityZones"] == []
    assert refused(ec2.describe_availability_zones, ZoneNames=[f"{region}z"]) == (
        "InvalidParameterValue", f"Invalid availability zone: [{region}z]")
    assert refused(ec2.describe_availability_zones,
                   Filters=[{"Name": "zone", "Values": ["x"]}]) == (
        "InvalidParameterValue", "The filter 'zone' is invalid")


# ---------------------------------------------------------------- bad input

def test_bad_vpcs_are_refused_and_nothing_changes(ec2):
    vpc = make_vpc(ec2)
    cases = [
        (ec2.create_vpc, dict(CidrBlock="10.0.0.0/8"), "InvalidVpc.Range"),
        (ec2.create_vpc, dict(CidrBlock="10.0.0.0/29"), "InvalidVpc.Range"),
        (ec2.create_vpc, dict(CidrBlock="10.0.300.0/24"), "InvalidParameterValue"),
        (ec2.create_vpc, dict(CidrBlock="nonsense"), "InvalidParameterValue"),
        (ec2.create_vpc, dict(), "MissingParameter"),
        (ec2.describe_vpcs, dict(VpcIds=["vpc-0123456789abcdef0"]), "InvalidVpcID.NotFound"),
        (ec2.describe_vpcs, dict(VpcIds=["nonsense"]), "InvalidVpcID.Malformed"),
        (ec2.describe_vpcs, dict(Filters=[{"Name": "x", "Values": ["y"]}]),
         "InvalidParameterValue"),
        (ec2.delete_vpc, dict(VpcId="vpc-0123456789abcdef0"), "InvalidVpcID.NotFound"),
        (ec2.delete_vpc, dict(VpcId=default_vpc(ec2.meta.region_name)),
         "OperationNotPermitted"),
    ]
    for call, params, code in cases:
        assert refused(call, **params)[0] == code, (call, params)
    assert ids(ec2.describe_vpcs()["Vpcs"], "VpcId") == sorted(
        [vpc, default_vpc(ec2.meta.region_name)])
    assert refused(ec2.create_vpc, CidrBlock="10.0.0.0/8")[1] == "The CIDR '10.0.0.0/8' is invalid."
    assert refused(ec2.describe_vpcs, Filters=[{"Name": "x", "Values": ["y"]}])[1] == \
        "The filter 'x' is invalid"
    for _ in range(3):
        make_vpc(ec2)
    assert refused(ec2.create_vpc, CidrBlock="10.9.0.0/16")[0] == "VpcLimitExceeded"
    assert len(ec2.describe_vpcs()["Vpcs"]) == 5


def test_bad_subnets_are_refused_and_nothing_changes(ec2, region):
    vpc = make_vpc(ec2)
    taken = make_subnet(ec2, vpc, "10.0.1.0/24", f"{region}a")
    cases = [
        (dict(VpcId=vpc, CidrBlock="10.0.1.128/25"), "InvalidSubnet.Conflict"),   # overlaps
        (dict(VpcId=vpc, CidrBlock="10.0.0.0/16"), "InvalidSubnet.Conflict"),
        (dict(VpcId=vpc, CidrBlock="10.1.0.0/24"), "InvalidSubnet.Range"),        # outside
        (dict(VpcId=vpc, CidrBlock="10.0.2.0/29"), "InvalidSubnet.Range"),        # too small
        (dict(VpcId=vpc, CidrBlock="10.0.2.0/33"), "InvalidParameterValue"),
        (dict(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone=f"{region}z"),
         "InvalidParameterValue"),
        (dict(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZoneId="use1-az9"),
         "InvalidParameterValue"),
        (dict(VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.2.0/24"), "InvalidVpcID.NotFound"),
        (dict(VpcId=vpc), "MissingParameter"),
    ]
    for params, code in cases:
        assert refused(ec2.create_subnet, **params)[0] == code, params
    assert refused(ec2.create_subnet, VpcId=vpc, CidrBlock="10.0.1.0/25")[1] == \
        "The CIDR '10.0.1.0/25' conflicts with another subnet"
    assert refused(ec2.create_subnet, VpcId=vpc, CidrBlock="10.0.2.0/24",
                   AvailabilityZone=f"{region}z")[1] == (
        f"Value ({region}z) for parameter availabilityZone is invalid. Subnets can currently "
        f"only be created in the following availability zones: {region}a, {region}b, "
        f"{region}c.")
    assert refused(ec2.delete_subnet, SubnetId="subnet-0123456789abcdef0") == (
        "InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123456789abcdef0' does not exist")
    assert refused(ec2.delete_vpc, VpcId=vpc) == (
        "DependencyViolation", f"The vpc '{vpc}' has dependencies and cannot be deleted.")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert [s["SubnetId"] for s in subnets] == [taken]
    # No zone asked for: one is chosen, not the one already taken.
    chosen = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]
    assert chosen["AvailabilityZone"] in (f"{region}b", f"{region}c")


def test_bad_security_groups_and_rules_are_refused_and_nothing_changes(ec2):
    vpc = make_vpc(ec2)
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    other_vpc_group = ec2.create_security_group(GroupName="web", Description="web in default")[
        "GroupId"]     # the same name in another VPC is fine
    ec2.authorize_security_group_ingress(GroupId=web, IpProtocol="tcp", FromPort=443,
                                         ToPort=443, CidrIp="10.0.0.0/8")

    def permission(**fields):
        return dict(GroupId=web, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}], **fields}])
    cases = [
        (ec2.create_security_group, dict(GroupName="web", Description="again", VpcId=vpc),
         "InvalidGroup.Duplicate"),
        (ec2.create_security_group, dict(GroupName="default", Description="x", VpcId=vpc),
         "InvalidGroup.Reserved"),
        (ec2.create_security_group, dict(GroupName="x", Description="x",
                                         VpcId="vpc-0123456789abcdef0"), "InvalidVpcID.NotFound"),
        (ec2.authorize_security_group_ingress, permission(FromPort=90, ToPort=80),
         "InvalidParameterValue"),
        (ec2.authorize_security_group_ingress, permission(FromPort=80, ToPort=70000),
         "InvalidParameterValue"),
        (ec2.authorize_security_group_ingress, permission(IpProtocol="carrier-pigeon"),
         "InvalidParameterValue"),
        (ec2.authorize_security_group_ingress,
         permission(IpRanges=[{"CidrIp": "10.0.0.0/40"}]), "InvalidParameterValue"),
        (ec2.authorize_security_group_ingress, dict(GroupId=web, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]), "InvalidPermission.Duplicate"),
        (ec2.authorize_security_group_ingress, dict(GroupId=web, IpPermissions=[{
            "IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other_vpc_group}]}]),
         "InvalidGroup.NotFound"),
        (ec2.authorize_security_group_ingress, dict(
            GroupId="sg-0123456789abcdef0", IpProtocol="-1", CidrIp="10.0.0.0/8"),
         "InvalidGroup.NotFound"),
        (ec2.revoke_security_group_ingress, permission(), "InvalidPermission.NotFound"),
        (ec2.delete_security_group, dict(GroupId="sg-0123456789abcdef0"),
         "InvalidGroup.NotFound"),
    ]
    for call, params, code in cases:
        assert refused(call, **params)[0] == code, (call, params)
    [group] = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    assert [(p["IpProtocol"], p["FromPort"], p["IpRanges"]) for p in group["IpPermissions"]] == [
        ("tcp", 443, [{"CidrIp": "10.0.0.0/8"}])]
    names = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert sorted(g["GroupName"] for g in names["SecurityGroups"]) == ["default", "web"]

    # The default group cannot go; a group another group's rule names cannot either.
    default = next(g["GroupId"] for g in names["SecurityGroups"] if g["GroupName"] == "default")
    assert refused(ec2.delete_security_group, GroupId=default)[0] == "CannotDelete"
    ec2.authorize_security_group_ingress(GroupId=default, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "UserIdGroupPairs": [{"GroupId": web}]}])
    assert refused(ec2.delete_security_group, GroupId=web)[0] == "DependencyViolation"
    assert refused(ec2.delete_vpc, VpcId=vpc)[0] == "DependencyViolation"
    revoked = ec2.revoke_security_group_ingress(GroupId=default, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "UserIdGroupPairs": [{"GroupId": web}]}])
    assert revoked["Return"] is True and len(revoked["RevokedSecurityGroupRules"]) == 1
    assert ec2.delete_security_group(GroupId=web)["GroupId"] == web
    ec2.delete_vpc(VpcId=vpc)   # its default group goes with it
    assert refused(ec2.describe_security_groups, GroupIds=[default])[0] == \
        "InvalidGroup.NotFound"


def test_load_balancers_are_refused_subnets_and_groups_that_do_not_fit(ec2, elbv2, region):
    vpc = make_vpc(ec2)
    a = make_subnet(ec2, vpc, "10.0.1.0/24", f"{region}a")
    a2 = make_subnet(ec2, vpc, "10.0.2.0/24", f"{region}a")
    b = make_subnet(ec2, vpc, "10.0.3.0/24", f"{region}b")
    default_a, _ = default_subnets(region)
    cases = [
        (dict(Subnets=[a, "subnet-0123456789abcdef0"]), "SubnetNotFound",
         "The subnet ID 'subnet-0123456789abcdef0' is not valid"),
        (dict(Subnets=[a, default_a]), "InvalidConfigurationRequest", None),   # two VPCs
        (dict(Subnets=[a, a2]), "InvalidConfigurationRequest",
         "A load balancer cannot be attached to multiple subnets in the same Availability Zone"),
        (dict(Subnets=[a]), "ValidationError",
         "At least two subnets in two different Availability Zones must be specified"),
        (dict(Subnets=[a, b], SecurityGroups=["sg-0123456789abcdef0"]), "InvalidSecurityGroup",
         None),
        (dict(SubnetMappings=[{"SubnetId": a}, {"SubnetId": b}],
              SecurityGroups=[ec2.describe_security_groups(GroupNames=["default"])[
                  "SecurityGroups"][0]["GroupId"]]), "InvalidSecurityGroup", None),
    ]
    for params, code, message in cases:
        found = refused(elbv2.create_load_balancer, Name="web", **params)
        assert found[0] == code, params
        assert message is None or found[1] == message
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert refused(elbv2.create_target_group, Name="web", Protocol="HTTP", Port=80,
                   VpcId="vpc-0123456789abcdef0") == (
        "ValidationError", "The VPC ID 'vpc-0123456789abcdef0' is not found")
    # SubnetMappings work as Subnets do.
    lb = elbv2.create_load_balancer(Name="web", SubnetMappings=[{"SubnetId": a},
                                                                 {"SubnetId": b}])
    assert lb["LoadBalancers"][0]["VpcId"] == vpc
    assert refused(ec2.delete_subnet, SubnetId=a)[0] == "DependencyViolation"


# ---------------------------------------------------------------- filters, tags, pages

def test_filters_and_tags(ec2, region):
    vpc = make_vpc(ec2, TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}]}])
    subnet = make_subnet(ec2, vpc, "10.0.1.0/24", f"{region}c", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "web"}]}])
    group = ec2.create_security_group(GroupName="api-servers", Description="api", VpcId=vpc)[
        "GroupId"]
    ec2.create_tags(Resources=[vpc, group], Tags=[{"Key": "owner", "Value": "ana"}])

    def vpcs(*filters):
        return ids(ec2.describe_vpcs(Filters=list(filters))["Vpcs"], "VpcId")
    assert vpcs({"Name": "tag:team", "Values": ["pay*"]}) == [vpc]
    assert vpcs({"Name": "tag:team", "Values": ["pay"]}) == []
    assert vpcs({"Name": "tag-key", "Values": ["env"]}) == [vpc]
    assert vpcs({"Name": "is-default", "Values": ["true"]}) == [default_vpc(region)]
    assert vpcs({"Name": "cidr", "Values": ["10.0.0.0/1?"]}) == [vpc]
    assert vpcs({"Name": "state", "Values": ["available"]},
                {"Name": "tag:owner", "Values": ["ana", "bo"]}) == [vpc]

    def subnets(*filters):
        return ids(ec2.describe_subnets(Filters=list(filters))["Subnets"], "SubnetId")
    assert subnets({"Name": "availability-zone", "Values": [f"{region}c"]},
                   {"Name": "default-for-az", "Values": ["false"]}) == [subnet]
    assert subnets({"Name": "default-for-az", "Values": ["true"]}) == \
        sorted(default_subnets(region, "abc"))
    assert subnets({"Name": "subnet-id", "Values": [subnet]},
                   {"Name": "tag:tier", "Values": ["web"]}) == [subnet]
    assert subnets({"Name": "cidr-block", "Values": ["10.0.*"]}) == [subnet]

    groups = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["api-*"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in groups] == [group]
    assert groups[0]["Tags"] == [{"Key": "owner", "Value": "ana"}]
    assert ids(ec2.describe_security_groups(Filters=[
        {"Name": "group-id", "Values": [group]}])["SecurityGroups"], "GroupId") == [group]

    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc]}])["Tags"]
    assert sorted((t["Key"], t["Value"], t["ResourceType"]) for t in tags) == [
        ("env", "prod", "vpc"), ("owner", "ana", "vpc"), ("team", "payments", "vpc")]
    owned = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["owner"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in owned) == sorted(
        [(vpc, "vpc"), (group, "security-group")])
    ec2.delete_tags(Resources=[vpc], Tags=[{"Key": "team", "Value": "other"}, {"Key": "env"}])
    assert [t["Key"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]] == [
        "owner", "team"]
    assert refused(ec2.create_tags, Resources=["vpc-0123456789abcdef0"],
                   Tags=[{"Key": "a", "Value": "b"}])[0] == "InvalidVpcID.NotFound"
    assert refused(ec2.create_tags, Resources=["ami-12345678"],
                   Tags=[{"Key": "a", "Value": "b"}])[0] == "InvalidID"
    assert refused(ec2.create_tags, Resources=[vpc],
                   Tags=[{"Key": "aws:x", "Value": "b"}])[0] == "InvalidParameterValue"
    assert refused(ec2.create_vpc, CidrBlock="10.1.0.0/16", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "a", "Value": "b"}]}])[0] == \
        "InvalidParameterValue"
    assert refused(ec2.describe_subnets, Filters=[{"Name": "zone", "Values": ["x"]}])[0] == \
        "InvalidParameterValue"


def test_describe_calls_page(ec2, region):
    vpcs = [make_vpc(ec2, f"10.{i}.0.0/16") for i in range(4)]
    seen, token = [], None
    while True:
        page = ec2.describe_vpcs(MaxResults=5 if token is None else 5,
                                 **({"NextToken": token} if token else {}))
        seen += [v["VpcId"] for v in page["Vpcs"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(vpcs + [default_vpc(region)])
    subnets = [make_subnet(ec2, vpcs[0], f"10.0.{i}.0/24", f"{region}a") for i in range(4)]
    first = ec2.describe_subnets(MaxResults=5)
    assert len(first["Subnets"]) == 5 and first["NextToken"]
    rest = ec2.describe_subnets(MaxResults=5, NextToken=first["NextToken"])
    assert "NextToken" not in rest
    assert sorted(s["SubnetId"] for s in first["Subnets"] + rest["Subnets"]) == sorted(
        subnets + default_subnets(region, "abc"))
    assert refused(ec2.describe_subnets, NextToken="garbage")[0] == "InvalidNextToken"
    assert refused(ec2.describe_vpcs, VpcIds=vpcs[:1], MaxResults=5)[0] == \
        "InvalidParameterCombination"


# ---------------------------------------------------------------- instances

def test_container_instances_are_ec2_instances(server, ec2, region):
    ecs = server.client("ecs", region)
    ecs.create_cluster(clusterName="fleet")
    registered = {}
    for zone, kind in (("a", "t3.micro"), ("b", "m5.large")):
        instance_id = f"i-{uuid.uuid4().hex[:17]}"
        ecs.register_container_instance(cluster="fleet", instanceIdentityDocument=json.dumps({
            "instanceId": instance_id, "availabilityZone": f"{region}{zone}",
            "instanceType": kind, "region": region}), totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048}])
        registered[instance_id] = (zone, kind)
    reservations = ec2.describe_instances()["Reservations"]
    instances = {i["InstanceId"]: i for r in reservations for i in r["Instances"]}
    assert set(instances) == set(registered)
    for instance_id, (zone, kind) in registered.items():
        found = instances[instance_id]
        assert found["InstanceType"] == kind
        assert found["Placement"]["AvailabilityZone"] == f"{region}{zone}"
        assert found["SubnetId"] == default_subnets(region, zone)[0]
        assert found["VpcId"] == default_vpc(region)
        # Registered with no agent polling: the instance is not reachable.
        assert found["State"]["Name"] in ("running", "stopped")
        assert found["LaunchTime"]
    first = sorted(registered)[0]
    assert [i["InstanceId"] for r in ec2.describe_instances(Filters=[
        {"Name": "availability-zone", "Values": [f"{region}{registered[first][0]}"]}])[
        "Reservations"] for i in r["Instances"]] == [first]
    ec2.create_tags(Resources=[first], Tags=[{"Key": "role", "Value": "web"}])
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:role", "Values": ["web"]}])
    assert [i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]] == [first]
    assert refused(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"]) == (
        "InvalidInstanceID.NotFound", "The instance ID 'i-0123456789abcdef0' does not exist")
    assert refused(ec2.describe_instances, InstanceIds=["web-1"])[0] == \
        "InvalidInstanceID.Malformed"


def test_a_tasks_subnets_and_groups_must_exist(server, ec2, region):
    ecs = server.client("ecs", region)
    ecs.create_cluster(clusterName="web")
    ecs.register_task_definition(family="web", networkMode="awsvpc", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 64}])
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    other = ec2.create_security_group(GroupName="x", Description="x",
                                      VpcId=make_vpc(ec2))["GroupId"]

    def run(subnets, groups):
        return refused(ecs.run_task, cluster="web", taskDefinition="web", networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups}})
    assert run(["subnet-0123456789abcdef0"], [group]) == (
        "InvalidParameterException", "Error retrieving subnet information for "
        "[subnet-0123456789abcdef0]: The subnet ID 'subnet-0123456789abcdef0' does not exist")
    assert run(default_subnets(region), ["sg-0123456789abcdef0"]) == (
        "InvalidParameterException", "Error retrieving security group information for "
        "[sg-0123456789abcdef0]: The security group 'sg-0123456789abcdef0' does not exist")
    assert run(default_subnets(region), [other])[0] == "InvalidParameterException"
    assert ecs.list_tasks(cluster="web")["taskArns"] == []
