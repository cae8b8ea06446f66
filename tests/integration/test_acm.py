"""ACM through boto3: imported certificates checked as ACM checks them, certificates
issued at once by Nozama's certificate authority, tags, paging; a refused request
stores nothing."""

from __future__ import annotations

import uuid

import pytest
import requests
from cryptography import x509

from support import certificates as make
from support.errors import refused

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix


def listed(acm) -> list[str]:
    everything = {"keyTypes": ["RSA_1024", "RSA_2048", "RSA_4096", "EC_prime256v1",
                               "EC_secp384r1"]}
    return [c["CertificateArn"] for c in acm.list_certificates(
        Includes=everything)["CertificateSummaryList"]]


def imported(acm, names=("www.example.com",), **extra) -> tuple[str, make.Pem]:
    pem = make.certificate(list(names))
    arn = acm.import_certificate(Certificate=pem.certificate, PrivateKey=pem.private_key,
                                 **extra)["CertificateArn"]
    return arn, pem


# ---------------------------------------------------------------- imports

def test_import_describe_get_list_and_delete(acm, region):
    root = make.authority()
    leaf = make.certificate(["www.example.com", "example.com"], issuer=root, serial=0x0a1b2c)
    arn = acm.import_certificate(Certificate=leaf.certificate, PrivateKey=leaf.private_key,
                                 CertificateChain=root.certificate,
                                 Tags=[{"Key": "team", "Value": "web"}])["CertificateArn"]
    assert arn.startswith(f"arn:aws:acm:{region}:000000000000:certificate/")
    uuid.UUID(arn.rsplit("/", 1)[1])
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert (detail["DomainName"], detail["SubjectAlternativeNames"]) == (
        "www.example.com", ["www.example.com", "example.com"])
    assert (detail["Type"], detail["Status"], detail["InUseBy"]) == ("IMPORTED", "ISSUED", [])
    assert (detail["Subject"], detail["Issuer"], detail["Serial"]) == (
        "CN=www.example.com", "Test Org", "0a:1b:2c")
    assert (detail["KeyAlgorithm"], detail["SignatureAlgorithm"]) == ("RSA_2048",
                                                                      "SHA256WITHECDSA")
    assert detail["NotAfter"] == leaf.cert.not_valid_after_utc
    assert detail["NotBefore"] == leaf.cert.not_valid_before_utc
    assert "ImportedAt" in detail and "IssuedAt" not in detail
    got = acm.get_certificate(CertificateArn=arn)
    assert got["Certificate"].encode() == leaf.certificate
    assert got["CertificateChain"].encode() == root.certificate
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "team", "Value": "web"}]
    summaries = acm.list_certificates()["CertificateSummaryList"]
    assert [(s["CertificateArn"], s["DomainName"], s["Type"], s["InUse"]) for s in summaries] \
        == [(arn, "www.example.com", "IMPORTED", False)]
    acm.delete_certificate(CertificateArn=arn)
    assert listed(acm) == []
    assert refused(acm.describe_certificate, CertificateArn=arn) == (
        "ResourceNotFoundException", f"Could not find certificate {arn}.")


def test_a_reimport_keeps_the_arn_and_takes_the_new_certificate(acm):
    arn, _ = imported(acm, ["old.example.com"])
    new = make.certificate(["new.example.com"], key=make.new_key("ec"))
    assert acm.import_certificate(CertificateArn=arn, Certificate=new.certificate,
                                  PrivateKey=new.private_key)["CertificateArn"] == arn
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert (detail["DomainName"], detail["KeyAlgorithm"]) == ("new.example.com",
                                                              "EC_prime256v1")
    assert acm.get_certificate(CertificateArn=arn)["Certificate"].encode() == new.certificate
    assert listed(acm) == [arn]
    # Tags cannot come with a reimport; nor can an ARN that names nothing.
    assert refused(acm.import_certificate, CertificateArn=arn, Certificate=new.certificate,
                   PrivateKey=new.private_key, Tags=[{"Key": "a", "Value": "b"}])[0] == \
        "InvalidParameterException"
    missing = arn[:-12] + "000000000000"
    assert refused(acm.import_certificate, CertificateArn=missing, Certificate=new.certificate,
                   PrivateKey=new.private_key)[0] == "ResourceNotFoundException"
    assert listed(acm) == [arn]
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == []


def _hostile(case: str) -> dict:
    good = make.certificate(["www.example.com"])
    params = {"Certificate": good.certificate, "PrivateKey": good.private_key}
    if case == "certificate not PEM":
        params["Certificate"] = b"not a certificate at all"
    elif case == "key not PEM":
        params["PrivateKey"] = b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"
    elif case == "encrypted key":
        params["PrivateKey"] = make.key_pem(good.key, password=b"secret")
    elif case == "mismatched key":
        params["PrivateKey"] = make.certificate(["www.example.com"]).private_key
    elif case == "expired":
        old = make.expired(["www.example.com"])
        params = {"Certificate": old.certificate, "PrivateKey": old.private_key}
    elif case == "not yet valid":
        later = make.not_yet_valid(["www.example.com"])
        params = {"Certificate": later.certificate, "PrivateKey": later.private_key}
    elif case == "chain not PEM":
        params["CertificateChain"] = b"garbage chain"
    elif case == "chain of another CA":
        params["CertificateChain"] = make.authority().certificate
    return params


@pytest.mark.parametrize("case, message", [
    ("certificate not PEM", "Unable to parse certificate. Please ensure the certificate is "
                            "in PEM format."),
    ("key not PEM", "Unable to parse private key. Please ensure the private key is in PEM "
                    "format."),
    ("encrypted key", "Unable to parse key; the body is encrypted."),
    ("mismatched key", "The private key does not match the public key in the certificate."),
    ("expired", "ACM does not import expired certificates."),
    ("not yet valid", "ACM imports only certificates in their validity period."),
    ("chain not PEM", "Unable to parse certificate chain. Please ensure the chain is in PEM "
                      "format."),
    ("chain of another CA", "Could not validate the certificate with the certificate chain."),
])
def test_hostile_imports_are_refused_and_store_nothing(acm, case, message):
    code, said = refused(acm.import_certificate, **_hostile(case),
                         Tags=[{"Key": "k", "Value": "v"}])
    assert code == "ValidationException"
    assert said.endswith(message)
    assert listed(acm) == []


def test_an_empty_certificate_is_refused_by_the_model(acm):
    good = make.certificate(["www.example.com"])
    code, message = refused(acm.import_certificate, Certificate=b"",
                            PrivateKey=good.private_key)
    assert code == "ValidationException" and "'Certificate'" in message
    assert listed(acm) == []


# ---------------------------------------------------------------- ARNs

@pytest.mark.parametrize("call", ["describe_certificate", "get_certificate",
                                  "delete_certificate", "list_tags_for_certificate"])
def test_arns_are_checked_as_acm_checks_them(acm, region, call):
    arn, _ = imported(acm)
    operation = getattr(acm, call)
    # Not an ACM ARN at all: the model's pattern.
    assert refused(operation, CertificateArn="arn:aws:s3:::my-bucket-name")[0] == \
        "ValidationException"
    bad = f"arn:aws:acm:{region}:000000000000:certificate/not-a-uuid"
    assert refused(operation, CertificateArn=bad) == (
        "InvalidArnException", f"String '{bad}' is not a valid ARN.")
    unknown = f"arn:aws:acm:{region}:000000000000:certificate/{uuid.uuid4()}"
    assert refused(operation, CertificateArn=unknown)[0] == "ResourceNotFoundException"
    # Another region's certificate is not here.
    elsewhere = arn.replace(f":{region}:", ":us-west-2:")
    assert refused(operation, CertificateArn=elsewhere)[0] == "ResourceNotFoundException"
    assert listed(acm) == [arn]


# ---------------------------------------------------------------- listing

def test_list_filters_by_status_and_key_type_and_pages(acm):
    rsa = sorted(imported(acm, [f"site{i}.example.com"])[0] for i in range(5))
    ec = make.certificate(["ec.example.com"], key=make.new_key("ec"))
    ec_arn = acm.import_certificate(Certificate=ec.certificate,
                                    PrivateKey=ec.private_key)["CertificateArn"]
    # Without keyTypes ACM lists RSA_1024 and RSA_2048 certificates only.
    assert [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]] \
        == rsa
    with_ec = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})
    assert [c["CertificateArn"] for c in with_ec["CertificateSummaryList"]] == [ec_arn]
    assert acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
    assert acm.list_certificates(
        CertificateStatuses=["PENDING_VALIDATION", "REVOKED"])["CertificateSummaryList"] == []
    pages, token = [], None
    while True:
        page = acm.list_certificates(MaxItems=2, **({"NextToken": token} if token else {}))
        pages.append([c["CertificateArn"] for c in page["CertificateSummaryList"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [rsa[:2], rsa[2:4], rsa[4:]]
    assert refused(acm.list_certificates, NextToken="bm9wZQ==")[0] == "InvalidArgsException"


# ---------------------------------------------------------------- tags

def test_tags_add_remove_and_their_limits(acm):
    arn, _ = imported(acm)
    acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "a", "Value": "1"},
                                                          {"Key": "b", "Value": "2"}])
    # A tag given with a value goes only if it has that value.
    acm.remove_tags_from_certificate(CertificateArn=arn, Tags=[{"Key": "a", "Value": "9"},
                                                               {"Key": "b"}])
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "a", "Value": "1"}]
    assert refused(acm.add_tags_to_certificate, CertificateArn=arn,
                   Tags=[{"Key": "aws:owner", "Value": "x"}])[0] == "InvalidTagException"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert refused(acm.add_tags_to_certificate, CertificateArn=arn,
                   Tags=many)[0] == "TooManyTagsException"
    assert refused(acm.import_certificate, **_hostile("none"),
                   Tags=[{"Key": "aws:x", "Value": "y"}])[0] == "InvalidTagException"
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "a", "Value": "1"}]
    assert listed(acm) == [arn]


# ---------------------------------------------------------------- requests

def test_a_requested_certificate_is_issued_at_once_by_nozama_s_ca(acm, server):
    arn = acm.request_certificate(
        DomainName="app.example.com", SubjectAlternativeNames=["*.app.example.com"],
        ValidationMethod="DNS", KeyAlgorithm="EC_prime256v1",
        Tags=[{"Key": "env", "Value": "test"}])["CertificateArn"]
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert (detail["Status"], detail["Type"], detail["Issuer"]) == ("ISSUED",
                                                                    "AMAZON_ISSUED", "Nozama")
    assert detail["SubjectAlternativeNames"] == ["app.example.com", "*.app.example.com"]
    assert detail["KeyAlgorithm"] == "EC_prime256v1"
    assert [(o["DomainName"], o["ValidationDomain"], o["ValidationStatus"],
             o["ResourceRecord"]["Type"]) for o in detail["DomainValidationOptions"]] == [
        ("app.example.com", "app.example.com", "SUCCESS", "CNAME"),
        ("*.app.example.com", "app.example.com", "SUCCESS", "CNAME")]
    assert detail["CreatedAt"] == detail["IssuedAt"]
    got = acm.get_certificate(CertificateArn=arn)
    root = requests.get(f"{server.endpoint}/_nozama/ca.pem", timeout=5)
    assert root.status_code == 200 and got["CertificateChain"] == root.text
    leaf = x509.load_pem_x509_certificate(got["Certificate"].encode())
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(root.content))
    # RSA_2048 by default, as in ACM.
    rsa = acm.request_certificate(DomainName="rsa.example.com")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=rsa)["Certificate"]["KeyAlgorithm"] == \
        "RSA_2048"
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "env", "Value": "test"}]


def test_an_idempotency_token_gives_the_same_certificate(acm):
    first = acm.request_certificate(DomainName="once.example.com", IdempotencyToken="tok1")
    second = acm.request_certificate(DomainName="once.example.com", IdempotencyToken="tok1")
    third = acm.request_certificate(DomainName="once.example.com", IdempotencyToken="tok2")
    assert first["CertificateArn"] == second["CertificateArn"] != third["CertificateArn"]
    assert len(listed(acm)) == 2


@pytest.mark.parametrize("params, code", [
    ({"DomainName": "bad_name.example.com"}, "ValidationException"),
    ({"DomainName": "a.*.example.com"}, "ValidationException"),
    ({"DomainName": "-lead.example.com"}, "ValidationException"),
    ({"DomainName": "example"}, "ValidationException"),
    ({"DomainName": "a" * 60 + ".example.com"}, "ValidationException"),
    ({"DomainName": "x.example.com",
      "SubjectAlternativeNames": [f"n{i}.example.com" for i in range(10)]},
     "LimitExceededException"),
    ({"DomainName": "x.example.com", "DomainValidationOptions": [
        {"DomainName": "other.example.com", "ValidationDomain": "example.com"}]},
     "InvalidDomainValidationOptionsException"),
    ({"DomainName": "x.example.com", "DomainValidationOptions": [
        {"DomainName": "x.example.com", "ValidationDomain": "example.org"}]},
     "InvalidDomainValidationOptionsException"),
    ({"DomainName": "x.example.com", "KeyAlgorithm": "RSA_4096"}, "ValidationException"),
    ({"DomainName": "x.example.com", "Tags": [{"Key": "aws:x", "Value": "y"}]},
     "InvalidTagException"),
], ids=["underscore", "inner-wildcard", "leading-hyphen", "one-label", "cn-over-64",
        "eleven-names", "option-for-another-name", "option-not-a-superdomain",
        "rsa-4096", "aws-tag"])
def test_bad_requests_are_refused_and_store_nothing(acm, params, code):
    assert refused(acm.request_certificate, **params)[0] == code
    assert listed(acm) == []


def test_a_validation_domain_may_be_a_superdomain(acm):
    arn = acm.request_certificate(DomainName="deep.x.example.com", DomainValidationOptions=[
        {"DomainName": "deep.x.example.com", "ValidationDomain": "example.com"}])
    detail = acm.describe_certificate(CertificateArn=arn["CertificateArn"])["Certificate"]
    [option] = detail["DomainValidationOptions"]
    assert (option["ValidationDomain"], option["ValidationMethod"]) == ("example.com", "EMAIL")
    assert "admin@example.com" in option["ValidationEmails"]
