"""HTTPS listeners through boto3: ACM certificates as default and SNI certificates, the
security policies, HTTPS target groups, and the ties to ACM (InUseBy, ResourceInUse);
a refused request changes nothing."""

from __future__ import annotations

import pytest

from support import certificates as make
from support.errors import refused
from support.networks import subnets_of, vpc_of

pytestmark = pytest.mark.store_matrix



@pytest.fixture
def elb(server, region):
    return server.client("elbv2", region)


def certificate(acm, name="www.example.com") -> str:
    pem = make.certificate([name])
    return acm.import_certificate(Certificate=pem.certificate,
                                  PrivateKey=pem.private_key)["CertificateArn"]


@pytest.fixture
def setup(elb):
    lb = elb.create_load_balancer(Name="web", Subnets=subnets_of(elb))["LoadBalancers"][0]
    tg = elb.create_target_group(Name="blue", Protocol="HTTP", Port=8080,
                                 VpcId=vpc_of(elb))["TargetGroups"][0]
    return lb["LoadBalancerArn"], tg["TargetGroupArn"]


def forward(tg: str) -> list[dict]:
    return [{"Type": "forward", "TargetGroupArn": tg}]


def listeners(elb, lb: str) -> list[dict]:
    return elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]


def https(elb, lb, tg, cert, port=443, **extra) -> dict:
    return elb.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=port,
                               Certificates=[{"CertificateArn": cert}],
                               DefaultActions=forward(tg), **extra)["Listeners"][0]


def test_an_https_listener_with_its_default_and_sni_certificates(elb, acm, setup):
    lb, tg = setup
    default, other, third = certificate(acm), certificate(acm, "api.example.com"), \
        certificate(acm, "admin.example.com")
    listener = https(elb, lb, tg, default)
    assert (listener["Protocol"], listener["SslPolicy"]) == ("HTTPS", "ELBSecurityPolicy-2016-08")
    assert listener["Certificates"] == [{"CertificateArn": default}]
    assert listeners(elb, lb) == [listener]
    arn = listener["ListenerArn"]
    added = elb.add_listener_certificates(ListenerArn=arn, Certificates=[
        {"CertificateArn": other}, {"CertificateArn": third}])["Certificates"]
    assert sorted(c["CertificateArn"] for c in added) == sorted([other, third])
    described = elb.describe_listener_certificates(ListenerArn=arn)["Certificates"]
    assert described[0] == {"CertificateArn": default, "IsDefault": True}
    assert sorted((c["CertificateArn"], c["IsDefault"]) for c in described[1:]) == sorted(
        [(other, False), (third, False)])
    page = elb.describe_listener_certificates(ListenerArn=arn, PageSize=2)
    rest = elb.describe_listener_certificates(ListenerArn=arn, Marker=page["NextMarker"])
    assert page["Certificates"] + rest["Certificates"] == described
    # ACM sees who uses its certificates.
    for cert in (default, other):
        assert acm.describe_certificate(CertificateArn=cert)["Certificate"]["InUseBy"] == [lb]
    assert {c["CertificateArn"]: c["InUse"] for c in acm.list_certificates()[
        "CertificateSummaryList"]} == {default: True, other: True, third: True}
    code, message = refused(acm.delete_certificate, CertificateArn=other)
    assert code == "ResourceInUseException" and other in message
    # The default certificate stays; the others come off.
    assert refused(elb.remove_listener_certificates, ListenerArn=arn,
                   Certificates=[{"CertificateArn": default}])[0] == "OperationNotPermitted"
    elb.remove_listener_certificates(ListenerArn=arn, Certificates=[{"CertificateArn": other}])
    assert [c["CertificateArn"] for c in elb.describe_listener_certificates(
        ListenerArn=arn)["Certificates"]] == [default, third]
    assert acm.describe_certificate(CertificateArn=other)["Certificate"]["InUseBy"] == []
    acm.delete_certificate(CertificateArn=other)
    # A listener deleted frees its certificates.
    elb.delete_listener(ListenerArn=arn)
    acm.delete_certificate(CertificateArn=default)
    acm.delete_certificate(CertificateArn=third)


def test_security_policies_are_chosen_and_checked(elb, acm, setup):
    lb, tg = setup
    cert = certificate(acm)
    listener = https(elb, lb, tg, cert, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    code, message = refused(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTPS",
                            Port=8443, Certificates=[{"CertificateArn": cert}],
                            DefaultActions=forward(tg), SslPolicy="ELBSecurityPolicy-Nope")
    assert (code, message) == ("SSLPolicyNotFound", "SSL policy 'ELBSecurityPolicy-Nope' "
                                                    "not found")
    assert refused(elb.modify_listener, ListenerArn=listener["ListenerArn"],
                   SslPolicy="ELBSecurityPolicy-Nope")[0] == "SSLPolicyNotFound"
    modified = elb.modify_listener(ListenerArn=listener["ListenerArn"],
                                   SslPolicy="ELBSecurityPolicy-FS-1-2-Res-2020-10")
    assert modified["Listeners"][0]["SslPolicy"] == "ELBSecurityPolicy-FS-1-2-Res-2020-10"
    assert [x["SslPolicy"] for x in listeners(elb, lb)] == [
        "ELBSecurityPolicy-FS-1-2-Res-2020-10"]


def test_describe_ssl_policies_lists_alb_policies_with_their_ciphers(elb):
    policies = elb.describe_ssl_policies()["SslPolicies"]
    names = [p["Name"] for p in policies]
    assert names[0] == "ELBSecurityPolicy-2016-08"
    assert {"ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06",
            "ELBSecurityPolicy-FS-1-2-Res-2020-10", "ELBSecurityPolicy-TLS-1-0-2015-04",
            "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06"} <= set(names)
    [tls13] = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS13-1-3-2021-06"])[
        "SslPolicies"]
    assert tls13["SslProtocols"] == ["TLSv1.3"]
    assert tls13["Ciphers"] == [{"Name": "TLS_AES_128_GCM_SHA256", "Priority": 1},
                                {"Name": "TLS_AES_256_GCM_SHA384", "Priority": 2},
                                {"Name": "TLS_CHACHA20_POLY1305_SHA256", "Priority": 3}]
    assert refused(elb.describe_ssl_policies, Names=["ELBSecurityPolicy-Nope"])[0] == \
        "SSLPolicyNotFound"
    page = elb.describe_ssl_policies(PageSize=5)
    assert len(page["SslPolicies"]) == 5 and page["NextMarker"]
    assert elb.describe_ssl_policies(LoadBalancerType="gateway")["SslPolicies"] == []


@pytest.mark.parametrize("extra, code, message", [
    ({}, "ValidationError", "A certificate must be specified for HTTPS listeners"),
    ({"Certificates": [{"CertificateArn": "arn:aws:acm:{region}:000000000000:certificate/"
                                          "00000000-0000-0000-0000-000000000000"}]},
     "CertificateNotFound", None),
    ({"Certificates": [{"CertificateArn": "arn:aws:iam::000000000000:server-certificate/x"}]},
     "CertificateNotFound", None),
])
def test_https_listeners_need_a_certificate_from_acm(elb, setup, region, extra, code,
                                                     message):
    lb, tg = setup
    for cert in extra.get("Certificates", []):
        cert["CertificateArn"] = cert["CertificateArn"].format(region=region)
    got_code, got_message = refused(elb.create_listener, LoadBalancerArn=lb,
                                    Protocol="HTTPS", Port=443,
                                    DefaultActions=forward(tg), **extra)
    assert got_code == code
    assert message is None or got_message == message
    assert listeners(elb, lb) == []


@pytest.mark.parametrize("protocol", ["TCP", "UDP", "TCP_UDP", "TLS", "GENEVE"])
def test_protocols_an_application_load_balancer_does_not_take(elb, setup, protocol):
    lb, tg = setup
    assert refused(elb.create_listener, LoadBalancerArn=lb, Protocol=protocol, Port=443,
                   DefaultActions=forward(tg)) == (
        "ValidationError", f"Listener protocol '{protocol}' must be one of 'HTTP, HTTPS'")
    assert listeners(elb, lb) == []


def test_an_http_listener_takes_no_certificate_nor_policy(elb, acm, setup):
    lb, tg = setup
    cert = certificate(acm)
    assert refused(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                   Certificates=[{"CertificateArn": cert}], DefaultActions=forward(tg)) == (
        "ValidationError", "A certificate cannot be specified for HTTP listeners")
    assert refused(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                   SslPolicy="ELBSecurityPolicy-2016-08", DefaultActions=forward(tg))[0] == \
        "ValidationError"
    assert listeners(elb, lb) == []
    http = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                               DefaultActions=forward(tg))["Listeners"][0]
    assert refused(elb.add_listener_certificates, ListenerArn=http["ListenerArn"],
                   Certificates=[{"CertificateArn": cert}])[0] == "ValidationError"
    assert elb.describe_listener_certificates(ListenerArn=http["ListenerArn"])[
        "Certificates"] == []


def test_modify_listener_between_http_and_https(elb, acm, setup):
    lb, tg = setup
    first, second = certificate(acm), certificate(acm, "two.example.com")
    http = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                               DefaultActions=forward(tg))["Listeners"][0]
    arn = http["ListenerArn"]
    assert refused(elb.modify_listener, ListenerArn=arn, Protocol="HTTPS")[0] == \
        "ValidationError"
    assert listeners(elb, lb)[0]["Protocol"] == "HTTP"
    up = elb.modify_listener(ListenerArn=arn, Protocol="HTTPS", Port=443,
                             Certificates=[{"CertificateArn": first}])["Listeners"][0]
    assert (up["Protocol"], up["SslPolicy"], up["Certificates"]) == (
        "HTTPS", "ELBSecurityPolicy-2016-08", [{"CertificateArn": first}])
    # A new default certificate replaces the former one.
    elb.modify_listener(ListenerArn=arn, Certificates=[{"CertificateArn": second}])
    assert elb.describe_listener_certificates(ListenerArn=arn)["Certificates"] == [
        {"CertificateArn": second, "IsDefault": True}]
    assert acm.describe_certificate(CertificateArn=first)["Certificate"]["InUseBy"] == []
    assert refused(elb.modify_listener, ListenerArn=arn, Certificates=[
        {"CertificateArn": first.replace(first[-12:], "0" * 12)}])[0] == "CertificateNotFound"
    down = elb.modify_listener(ListenerArn=arn, Protocol="HTTP", Port=80)["Listeners"][0]
    assert "Certificates" not in down and "SslPolicy" not in down
    assert elb.describe_listener_certificates(ListenerArn=arn)["Certificates"] == []
    acm.delete_certificate(CertificateArn=second)


def test_https_target_groups_and_the_http_to_https_redirect(elb, acm, setup):
    lb, _ = setup
    secure = elb.create_target_group(Name="secure", Protocol="HTTPS", Port=8443, VpcId=vpc_of(elb),
                                     HealthCheckPath="/health")["TargetGroups"][0]
    assert (secure["Protocol"], secure["HealthCheckProtocol"]) == ("HTTPS", "HTTPS")
    checked = elb.create_target_group(Name="mixed", Protocol="HTTPS", Port=8443, VpcId=vpc_of(elb),
                                      HealthCheckProtocol="HTTP")["TargetGroups"][0]
    assert checked["HealthCheckProtocol"] == "HTTP"
    assert refused(elb.create_target_group, Name="tcp-check", Protocol="HTTPS", Port=8443,
                   VpcId=vpc_of(elb), HealthCheckProtocol="TCP")[0] == "UnsupportedProtocol"
    listener = https(elb, lb, secure["TargetGroupArn"], certificate(acm))
    redirect = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "redirect", "RedirectConfig": {
                                       "Protocol": "HTTPS", "Port": "443",
                                       "StatusCode": "HTTP_301"}}])["Listeners"][0]
    assert redirect["DefaultActions"][0]["RedirectConfig"] == {
        "Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}",
        "Query": "#{query}", "StatusCode": "HTTP_301"}
    # An HTTP listener forwards to an HTTPS target group too.
    elb.modify_listener(ListenerArn=redirect["ListenerArn"],
                        DefaultActions=forward(checked["TargetGroupArn"]))
    assert {x["Port"]: x["Protocol"] for x in listeners(elb, lb)} == {443: "HTTPS", 80: "HTTP"}
    assert listener["DefaultActions"][0]["TargetGroupArn"] == secure["TargetGroupArn"]


def test_listener_certificate_errors_change_nothing(elb, acm, setup, region):
    lb, tg = setup
    cert = certificate(acm)
    arn = https(elb, lb, tg, cert)["ListenerArn"]
    missing = f"arn:aws:acm:{region}:000000000000:certificate/" \
              "00000000-0000-0000-0000-000000000000"
    assert refused(elb.add_listener_certificates, ListenerArn=arn, Certificates=[
        {"CertificateArn": certificate(acm, "ok.example.com")},
        {"CertificateArn": missing}])[0] == "CertificateNotFound"
    many = [{"CertificateArn": certificate(acm, f"n{i}.example.com")} for i in range(26)]
    assert refused(elb.add_listener_certificates, ListenerArn=arn,
                   Certificates=many)[0] == "TooManyCertificates"
    assert elb.describe_listener_certificates(ListenerArn=arn)["Certificates"] == [
        {"CertificateArn": cert, "IsDefault": True}]
    gone = arn[:-4] + "0000"
    assert refused(elb.describe_listener_certificates, ListenerArn=gone)[0] == \
        "ListenerNotFound"


def _generation(server) -> int:
    from nozama.store import Store
    from nozama.store import load_balancers as lb_store
    from nozama.store.db import sqlite_url
    args = server.store_args
    url = args[args.index("--database-url") + 1] if "--database-url" in args else \
        sqlite_url(args[args.index("--data-dir") + 1])
    store = Store.open(url, migrate=False)
    try:
        with store.read() as conn:
            return lb_store.generation(conn)
    finally:
        store.close()


def test_every_change_the_data_plane_must_see_bumps_the_generation(server, elb, acm, setup):
    lb, tg = setup
    cert, other = certificate(acm), certificate(acm, "sni.example.com")
    arn = https(elb, lb, tg, cert)["ListenerArn"]
    renewed = make.certificate(["www.example.com"])
    changes = [
        lambda: elb.add_listener_certificates(ListenerArn=arn,
                                              Certificates=[{"CertificateArn": other}]),
        lambda: elb.remove_listener_certificates(ListenerArn=arn,
                                                 Certificates=[{"CertificateArn": other}]),
        lambda: elb.modify_listener(ListenerArn=arn,
                                    SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06"),
        lambda: elb.modify_listener(ListenerArn=arn, Certificates=[{"CertificateArn": other}]),
        # A reimport of a certificate in use: the listener must serve the new one.
        lambda: acm.import_certificate(CertificateArn=other, Certificate=renewed.certificate,
                                       PrivateKey=renewed.private_key),
    ]
    for change in changes:
        before = _generation(server)
        change()
        assert _generation(server) > before
