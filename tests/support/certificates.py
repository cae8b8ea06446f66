"""Certificates and keys for tests, made with `cryptography`: self-signed, expired, not
yet valid, signed by a CA of the test's own, RSA or EC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass
class Pem:
    certificate: bytes
    private_key: bytes
    cert: x509.Certificate
    key: object


def new_key(kind: str = "rsa"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return ec.generate_private_key({"ec": ec.SECP256R1(), "ec384": ec.SECP384R1()}[kind])


def key_pem(key, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password \
        else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


def certificate(names: list[str], key=None, issuer: Pem | None = None, days: int = 90,
                starts: timedelta = timedelta(days=-1), serial: int = 0x0a1b2c,
                organization: str | None = None, ca: bool = False) -> Pem:
    """A certificate for `names` (the first is the common name), self-signed unless an
    issuer is given; valid from now + `starts` for `days`."""
    key = key or new_key()
    now = datetime.now(timezone.utc)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, names[0])]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    subject = x509.Name(attributes)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(now + starts).not_valid_after(now + starts + timedelta(days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Pem(cert.public_bytes(serialization.Encoding.PEM), key_pem(key), cert, key)


def expired(names: list[str]) -> Pem:
    return certificate(names, days=10, starts=timedelta(days=-30))


def not_yet_valid(names: list[str]) -> Pem:
    return certificate(names, starts=timedelta(days=2))


def authority(name: str = "Test Root CA") -> Pem:
    return certificate([name], key=new_key("ec"), days=365, ca=True, organization="Test Org")
