"""X.509 certificates as ACM reads them: what ImportCertificate accepts, and the fields
DescribeCertificate and ListCertificates show, taken from the certificate itself.

ACM refuses, before it stores anything: a certificate field that is not one PEM
certificate, a key that is not an unencrypted PEM private key of a supported
algorithm, a key that does not belong to the certificate, a certificate outside its
validity period, and a chain that is not PEM certificates. `Invalid` carries the
message the caller sees (as ValidationException).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.S)

# The key algorithms ACM takes, as its KeyAlgorithm enum names them.
_CURVES = {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1",
           "secp521r1": "EC_secp521r1"}
_RSA_SIZES = (1024, 2048, 3072, 4096)

_KEY_USAGES = (("digital_signature", "DIGITAL_SIGNATURE"),
               ("content_commitment", "NON_REPUDIATION"),
               ("key_encipherment", "KEY_ENCIPHERMENT"),
               ("data_encipherment", "DATA_ENCIPHERMENT"),
               ("key_agreement", "KEY_AGREEMENT"), ("key_cert_sign", "CERTIFICATE_SIGNING"),
               ("crl_sign", "CRL_SIGNING"))
_EXTENDED_KEY_USAGES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS_WEB_SERVER_AUTHENTICATION",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS_WEB_CLIENT_AUTHENTICATION",
    ExtendedKeyUsageOID.CODE_SIGNING: "CODE_SIGNING",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "EMAIL_PROTECTION",
    ExtendedKeyUsageOID.TIME_STAMPING: "TIME_STAMPING",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP_SIGNING",
}
# RFC 4514 short names, in the order a DN is written (C first), as ACM shows Subject.
_SHORT_NAMES = {NameOID.COUNTRY_NAME: "C", NameOID.STATE_OR_PROVINCE_NAME: "ST",
                NameOID.LOCALITY_NAME: "L", NameOID.ORGANIZATION_NAME: "O",
                NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.COMMON_NAME: "CN",
                NameOID.EMAIL_ADDRESS: "EMAILADDRESS", NameOID.SERIAL_NUMBER: "SERIALNUMBER"}


class Invalid(ValueError):
    """A certificate, key or chain ACM refuses; the message is the caller's."""


@dataclass(frozen=True)
class Bundle:
    """What ImportCertificate stores: the three PEM texts, normalized, and the fields."""
    certificate: str
    private_key: str
    chain: str | None
    fields: dict


def load_certificate(data: bytes) -> x509.Certificate:
    """The one PEM certificate in `data`."""
    found = _PEM_CERTIFICATE.findall(data)
    if len(found) > 1:
        raise Invalid("The certificate field contains more than one certificate. You can "
                      "specify only one certificate in this field.")
    try:
        return x509.load_pem_x509_certificate(found[0] if found else data)
    except (ValueError, IndexError):
        raise Invalid("Unable to parse certificate. Please ensure the certificate is in PEM "
                      "format.") from None


def load_chain(data: bytes) -> list[x509.Certificate]:
    """The PEM certificates of a chain, in order; anything else in it is refused."""
    found = _PEM_CERTIFICATE.findall(data)
    rest = _PEM_CERTIFICATE.sub(b"", data).strip()
    try:
        if not found or rest:
            raise ValueError
        return [x509.load_pem_x509_certificate(pem) for pem in found]
    except ValueError:
        raise Invalid("Unable to parse certificate chain. Please ensure the chain is in PEM "
                      "format.") from None


def load_private_key(data: bytes):
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        # A passphrase protects it: ACM takes keys it can use as they are.
        raise Invalid("Unable to parse key; the body is encrypted.") from None
    except (ValueError, UnsupportedAlgorithm):
        raise Invalid("Unable to parse private key. Please ensure the private key is in "
                      "PEM format.") from None
    key_algorithm(key.public_key())   # refuses what ACM does not support
    return key


def key_algorithm(public_key) -> str:
    """ACM's name of a key's algorithm: RSA_2048, EC_prime256v1, ..."""
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size in _RSA_SIZES:
        return f"RSA_{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and \
            public_key.curve.name in _CURVES:
        return _CURVES[public_key.curve.name]
    raise Invalid("The private key is not supported. ACM supports RSA keys of 1024, 2048, "
                  "3072 and 4096 bits and EC keys on the P-256, P-384 and P-521 curves.")


def check_import(certificate: bytes, private_key: bytes, chain: bytes | None,
                 now: datetime) -> Bundle:
    """Everything ImportCertificate checks, in ACM's order; the bundle to store."""
    cert = load_certificate(certificate)
    key = load_private_key(private_key)
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        raise Invalid("The private key does not match the public key in the certificate.")
    if now < cert.not_valid_before_utc:
        raise Invalid(f"The certificate is not valid before "
                      f"{cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}: ACM imports only "
                      "certificates in their validity period.")
    if now > cert.not_valid_after_utc:
        raise Invalid(f"The certificate expired on {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}:"
                      " ACM does not import expired certificates.")
    chain_certs = load_chain(chain) if chain is not None else []
    if chain_certs and not _issued_by(cert, chain_certs[0]):
        raise Invalid("Could not validate the certificate with the certificate chain.")
    return Bundle(certificate=pem(cert), private_key=key_pem(key),
                  chain="".join(pem(c) for c in chain_certs) or None, fields=fields_of(cert))


def fields_of(cert: x509.Certificate) -> dict:
    """DescribeCertificate's members that come from the certificate."""
    names = domain_names(cert)
    return {
        "DomainName": names[0] if names else "",
        "SubjectAlternativeNames": names,
        "Serial": ":".join(f"{b:02x}" for b in _serial_bytes(cert.serial_number)),
        "Subject": distinguished_name(cert.subject),
        "Issuer": _issuer(cert.issuer),
        "NotBefore": cert.not_valid_before_utc.timestamp(),
        "NotAfter": cert.not_valid_after_utc.timestamp(),
        "KeyAlgorithm": key_algorithm(cert.public_key()),
        "SignatureAlgorithm": signature_algorithm(cert),
        "KeyUsages": [{"Name": name} for name in key_usages(cert)],
        "ExtendedKeyUsages": extended_key_usages(cert),
    }


def domain_names(cert: x509.Certificate) -> list[str]:
    """The certificate's names: its common name first, then its DNS SANs (ACM's
    DomainName and SubjectAlternativeNames)."""
    common = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = sans.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    return list(dict.fromkeys([str(n) for n in common[:1]] + dns))


def distinguished_name(name: x509.Name) -> str:
    """A DN as ACM writes Subject: "C=US,O=Example,CN=www.example.com"."""
    parts = []
    for attribute in name:
        label = _SHORT_NAMES.get(attribute.oid, attribute.oid.dotted_string)
        parts.append(f"{label}={attribute.value}")
    return ",".join(parts)


def signature_algorithm(cert: x509.Certificate) -> str:
    """"SHA256WITHRSA", "SHA384WITHECDSA", ... as ACM names them."""
    digest = cert.signature_hash_algorithm
    parameters = cert.signature_algorithm_parameters
    family = "ECDSA" if isinstance(parameters, ec.ECDSA) else \
        "RSAPSS" if isinstance(parameters, padding.PSS) else "RSA"
    return f"{digest.name.upper().replace('-', '') if digest else 'NONE'}WITH{family}"


def key_usages(cert: x509.Certificate) -> list[str]:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return [name for attribute, name in _KEY_USAGES if getattr(usage, attribute)]


def extended_key_usages(cert: x509.Certificate) -> list[dict]:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return [{"Name": _EXTENDED_KEY_USAGES.get(oid, "CUSTOM"), "OID": oid.dotted_string}
            for oid in usages]


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key) -> str:
    """A private key as unencrypted PKCS#8 PEM (what HAProxy and OpenSSL read)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_bytes(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` (the chain's first certificate) signed `cert`."""
    if cert.issuer != issuer.subject:
        return False
    public_key = issuer.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                              cert.signature_hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes,
                              ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _issuer(name: x509.Name) -> str:
    """The issuer as ACM shows it: its organization ("Amazon"), else its common name."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = name.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return distinguished_name(name)


def _serial_bytes(serial: int) -> bytes:
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")
