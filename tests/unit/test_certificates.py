"""Certificates as ACM reads them (model/certificates.py), Nozama's certificate authority
(model/certificate_authority.py) and the ALB security policy table (model/ssl_policies.py)."""

from __future__ import annotations

import ssl
import subprocess
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from nozama.model import certificate_authority as ca
from nozama.model import certificates as rules
from nozama.model import ssl_policies
from support import certificates as make

NOW = datetime.now(timezone.utc).replace(microsecond=0)


# ---------------------------------------------------------------- imports

def test_an_import_yields_the_fields_acm_describes():
    pem = make.certificate(["www.example.com", "example.com"], serial=0x0a1b2c,
                           organization="Example")
    bundle = rules.check_import(pem.certificate, pem.private_key, None, NOW)
    fields = bundle.fields
    assert fields["DomainName"] == "www.example.com"
    assert fields["SubjectAlternativeNames"] == ["www.example.com", "example.com"]
    assert fields["Serial"] == "0a:1b:2c"
    assert fields["Subject"] == "O=Example,CN=www.example.com"
    assert fields["Issuer"] == "Example"
    assert (fields["KeyAlgorithm"], fields["SignatureAlgorithm"]) == ("RSA_2048",
                                                                      "SHA256WITHRSA")
    assert fields["NotBefore"] == pem.cert.not_valid_before_utc.timestamp()
    assert fields["NotAfter"] == pem.cert.not_valid_after_utc.timestamp()
    assert bundle.chain is None and bundle.certificate.startswith("-----BEGIN CERTIFICATE")
    # The key is kept as unencrypted PKCS#8, whatever form it came in.
    assert bundle.private_key.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize("kind, algorithm, signature", [
    ("ec", "EC_prime256v1", "SHA256WITHECDSA"), ("ec384", "EC_secp384r1", "SHA256WITHECDSA"),
    ("rsa4096", "RSA_4096", "SHA256WITHRSA")])
def test_key_algorithms_are_named_as_acm_names_them(kind, algorithm, signature):
    pem = make.certificate(["ec.example.com"], key=make.new_key(kind))
    fields = rules.check_import(pem.certificate, pem.private_key, None, NOW).fields
    assert (fields["KeyAlgorithm"], fields["SignatureAlgorithm"]) == (algorithm, signature)


def test_a_chain_must_have_signed_the_certificate():
    root = make.authority()
    leaf = make.certificate(["api.example.com"], issuer=root)
    bundle = rules.check_import(leaf.certificate, leaf.private_key, root.certificate, NOW)
    assert bundle.chain == root.certificate.decode()
    assert bundle.fields["Issuer"] == "Test Org"
    other = make.authority("Another Root")
    with pytest.raises(rules.Invalid, match="Could not validate the certificate with the "
                                            "certificate chain"):
        rules.check_import(leaf.certificate, leaf.private_key, other.certificate, NOW)


@pytest.mark.parametrize("case, message", [
    ("certificate not PEM", "Unable to parse certificate"),
    ("two certificates", "contains more than one certificate"),
    ("key not PEM", "Unable to parse private key"),
    ("encrypted key", "the body is encrypted"),
    ("key of another certificate", "does not match the public key"),
    ("expired", "expired on"),
    ("not yet valid", "is not valid before"),
    ("chain not PEM", "Unable to parse certificate chain"),
    ("chain with junk", "Unable to parse certificate chain"),
])
def test_hostile_imports_are_refused_with_acms_reason(case, message):
    good = make.certificate(["www.example.com"])
    certificate, key, chain = good.certificate, good.private_key, None
    if case == "certificate not PEM":
        certificate = b"hello, not a certificate"
    elif case == "two certificates":
        certificate = good.certificate + make.certificate(["b.example.com"]).certificate
    elif case == "key not PEM":
        key = b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    elif case == "encrypted key":
        key = make.key_pem(good.key, password=b"secret")
    elif case == "key of another certificate":
        key = make.certificate(["www.example.com"]).private_key
    elif case == "expired":
        expired = make.expired(["old.example.com"])
        certificate, key = expired.certificate, expired.private_key
    elif case == "not yet valid":
        later = make.not_yet_valid(["soon.example.com"])
        certificate, key = later.certificate, later.private_key
    elif case == "chain not PEM":
        chain = b"not a chain"
    elif case == "chain with junk":
        chain = make.authority().certificate + b"junk"
    with pytest.raises(rules.Invalid, match=message):
        rules.check_import(certificate, key, chain, NOW)


def test_unsupported_keys_are_refused():
    small = ec.generate_private_key(ec.SECP224R1())
    pem = make.certificate(["small.example.com"], key=small)
    with pytest.raises(rules.Invalid, match="private key is not supported"):
        rules.check_import(pem.certificate, pem.private_key, None, NOW)


# ---------------------------------------------------------------- the CA

def test_the_ca_issues_certificates_that_verify_against_its_root(tmp_path):
    root = ca.new_root(NOW)
    assert ca.Root.from_bytes(root.to_bytes()) == root
    key = ca.new_key("EC_prime256v1")
    leaf = ca.issue(root, ["app.example.com", "*.app.example.com"], key, NOW)
    cert = x509.load_pem_x509_certificate(leaf.encode())
    fields = rules.fields_of(cert)
    assert fields["DomainName"] == "app.example.com"
    assert fields["SubjectAlternativeNames"] == ["app.example.com", "*.app.example.com"]
    assert fields["Issuer"] == "Nozama"
    assert fields["KeyAlgorithm"] == "EC_prime256v1"
    assert fields["SignatureAlgorithm"] == "SHA256WITHECDSA"
    assert [u["Name"] for u in fields["ExtendedKeyUsages"]] == [
        "TLS_WEB_SERVER_AUTHENTICATION", "TLS_WEB_CLIENT_AUTHENTICATION"]
    assert cert.not_valid_after_utc - NOW == ca.LEAF_LIFETIME
    # OpenSSL itself accepts the leaf for a TLS server name under the root.
    (tmp_path / "root.pem").write_text(root.certificate)
    (tmp_path / "leaf.pem").write_text(leaf)
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"),
                               "-purpose", "sslserver", str(tmp_path / "leaf.pem")],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    # And a TLS client loads the root as a trust anchor.
    ssl.create_default_context(cadata=root.certificate)


def test_each_root_is_its_own():
    first, second = ca.new_root(NOW), ca.new_root(NOW)
    assert first.certificate != second.certificate
    names = {x509.load_pem_x509_certificate(r.certificate.encode()).subject.rfc4514_string()
             for r in (first, second)}
    assert len(names) == 2
    root = x509.load_pem_x509_certificate(first.certificate.encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.not_valid_after_utc - NOW == ca.ROOT_LIFETIME


def test_a_name_longer_than_a_common_name_is_only_a_san():
    long_name = "a" * 60 + ".example.com"
    leaf = ca.issue(ca.new_root(NOW), [long_name], ca.new_key("RSA_2048"), NOW)
    cert = x509.load_pem_x509_certificate(leaf.encode())
    assert list(cert.subject) == []
    assert rules.domain_names(cert) == [long_name]


# ---------------------------------------------------------------- security policies

def test_the_default_policy_is_alb_s_2016_08_in_aws_priority_order():
    policy = ssl_policies.get(ssl_policies.DEFAULT_POLICY)
    described = policy.describe()
    assert described["SslProtocols"] == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    assert [c["Name"] for c in described["Ciphers"]][10:13] == [
        "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256"]
    assert [c["Priority"] for c in described["Ciphers"]] == list(range(1, 19))
    assert policy.tls_versions() == ("TLSv1.0", "TLSv1.2")
    assert policy.openssl_ciphersuites() == ""
    assert ssl_policies.get("ELBSecurityPolicy-2015-05").ciphers == policy.ciphers


def test_tls13_policies_split_ciphers_and_ciphersuites_for_openssl():
    policy = ssl_policies.get("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
    assert policy.tls_versions() == ("TLSv1.2", "TLSv1.3")
    assert policy.openssl_ciphersuites() == \
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    assert policy.openssl_ciphers() == ("ECDHE-ECDSA-AES128-GCM-SHA256:"
                                        "ECDHE-RSA-AES128-GCM-SHA256:"
                                        "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                        "ECDHE-RSA-AES256-GCM-SHA384")
    only13 = ssl_policies.get("ELBSecurityPolicy-TLS13-1-3-2021-06")
    assert only13.tls_versions() == ("TLSv1.3", "TLSv1.3") and only13.openssl_ciphers() == ""


@pytest.mark.parametrize("name", sorted(ssl_policies.POLICIES))
def test_every_policy_s_ciphers_are_ones_openssl_knows(name):
    policy = ssl_policies.POLICIES[name]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if policy.openssl_ciphers():
        # DES-CBC3-SHA is gone from modern OpenSSL builds: the others must all be known.
        known = [c for c in policy.openssl_ciphers().split(":") if c != "DES-CBC3-SHA"]
        context.set_ciphers("@SECLEVEL=0:" + ":".join(known))
        assert set(known) <= {c["name"] for c in context.get_ciphers()}
    assert len({c.name for c in policy.ciphers}) == len(policy.ciphers)
    assert set(policy.protocols) <= set(ssl_policies.TLS_VERSIONS)
