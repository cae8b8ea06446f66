"""Nozama's certificate authority: what answers RequestCertificate.

AWS validates that you own a domain, then Amazon's public CAs sign the certificate.
Nozama cannot do either, so one root of its own signs every requested certificate at
once (Status ISSUED); clients that should trust Nozama's load balancers install that
root (`GET /_nozama/ca.pem`, `nozama ca`). The root is an ECDSA P-256 key, valid for
twenty years; a leaf is valid for 395 days, as ACM's are, and carries the names asked
for, each as a DNS subject alternative name.

Pure functions of their inputs (PEM texts, names, the time): the store keeps the root,
so every server of one store signs with the same one.
"""

from __future__ import annotations

import ipaddress

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nozama.model.certificates import key_pem, pem

ROOT_LIFETIME = timedelta(days=20 * 365)
LEAF_LIFETIME = timedelta(days=395)
ORGANIZATION = "Nozama"
# A certificate's common name is at most 64 characters (RFC 5280's ub-common-name):
# a longer DomainName is only in the SANs, as ACM does.
MAX_COMMON_NAME = 64
# Clocks of clients and servers differ: a new certificate is valid from a little before.
_BACKDATE = timedelta(minutes=5)

# The key algorithms RequestCertificate offers (the others are for imports only).
REQUESTABLE = ("RSA_2048", "EC_prime256v1", "EC_secp384r1")


@dataclass(frozen=True)
class Root:
    certificate: str   # PEM
    private_key: str   # PEM (PKCS#8)

    def to_bytes(self) -> bytes:
        return (self.certificate + self.private_key).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Root":
        text = data.decode()
        cut = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
        return cls(text[:cut], text[cut:])


def new_root(now: datetime) -> Root:
    """A self-signed root, named with a random suffix so that the roots of two Nozama
    installations never pass for each other in a trust store."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Nozama Root CA {secrets.token_hex(4)}")])
    public = key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + ROOT_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    return Root(pem(cert), key_pem(key))


def new_key(algorithm: str):
    """A private key for a leaf, by ACM's KeyAlgorithm name."""
    if algorithm == "RSA_2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curves = {"EC_prime256v1": ec.SECP256R1(), "EC_secp384r1": ec.SECP384R1()}
    return ec.generate_private_key(curves[algorithm])


def _general_name(name: str) -> x509.GeneralName:
    """An IP address SAN for an address (a server reached by its IP), a DNS name else."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue(root: Root, names: list[str], key, now: datetime) -> str:
    """A leaf certificate (PEM) for `names` (the DomainName first) with `key`'s public
    key, signed by the root; usable by TLS servers and clients, as ACM's are."""
    ca_cert = x509.load_pem_x509_certificate(root.certificate.encode())
    ca_key = serialization.load_pem_private_key(root.private_key.encode(), password=None)
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, names[0])] \
        if len(names[0]) <= MAX_COMMON_NAME else []
    public = key.public_key()
    is_rsa = isinstance(public, rsa.RSAPublicKey)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name(subject)).issuer_name(ca_cert.subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + LEAF_LIFETIME)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                           critical=not subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return pem(cert)
