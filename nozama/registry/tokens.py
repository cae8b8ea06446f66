"""The registry's bearer tokens: ES256 JWTs that Docker Distribution's `token` auth
accepts, signed by a key every `nozama registry` of one store shares.

The signer is a P-256 key with a self-signed certificate, kept in the store's server_keys
(made by whichever process needs it first), so that any registry process and any server
can mint tokens the others' registries accept. Distribution is given the certificate as
its `rootcertbundle`; each token carries it in its `x5c` header, which Distribution
checks against that bundle. The signature is JOSE's: the raw r||s of ECDSA, 32 bytes each,
not DER. Only `cryptography` is needed; no JWT library.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)
from cryptography.x509.oid import NameOID
from sqlalchemy import Connection

from nozama.model.certificates import key_pem, pem
from nozama.store import server_keys

# The server_keys entry of the signer (certificate PEM then key PEM, one text).
KEY_NAME = "ecr-token-signer"
ISSUER = "nozama"
# What the registry's tokens are good for: Docker asks for a new one per operation.
LIFETIME = timedelta(seconds=300)
SIGNER_LIFETIME = timedelta(days=20 * 365)
# The subject of the tokens Nozama mints for its own calls (deletes, re-tags, adoption).
ADMIN_SUBJECT = "nozama"
_END = "-----END CERTIFICATE-----\n"


@dataclass(frozen=True)
class Signer:
    certificate: str   # PEM
    private_key: str   # PEM (PKCS#8)

    def to_bytes(self) -> bytes:
        return (self.certificate + self.private_key).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Signer":
        text = data.decode()
        cut = text.index(_END) + len(_END)
        return cls(text[:cut], text[cut:])

    @cached_property
    def certificate_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.certificate.encode()).public_bytes(
            serialization.Encoding.DER)

    @cached_property
    def key(self) -> ec.EllipticCurvePrivateKey:
        return serialization.load_pem_private_key(self.private_key.encode(), password=None)


def new_signer(now: datetime) -> Signer:
    """A P-256 key and a self-signed CA certificate of it (Distribution wants a bundle of
    certificates to trust, and accepts a token whose x5c chain is that certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nozama"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Nozama registry token signer")])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + SIGNER_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return Signer(pem(cert), key_pem(key))


def signer(conn: Connection, now: datetime) -> Signer:
    """The store's signer, made on first use."""
    return Signer.from_bytes(server_keys.key(conn, KEY_NAME, lambda: new_signer(now).to_bytes()))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def subject(signer_: Signer, token: str) -> str | None:
    """The subject of a token `signer_` signed, or None for any other text. The expiry is
    not checked: Distribution checks the token of every request the gate forwards; the
    gate only needs to know whose push it is."""
    signing_input, _, signature = token.rpartition(".")
    try:
        raw = _unb64url(signature)
        if len(raw) != 64:
            return None
        signer_.key.public_key().verify(
            encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                 int.from_bytes(raw[32:], "big")),
            signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(_unb64url(signing_input.partition(".")[2]))
    except (ValueError, InvalidSignature):
        return None
    found = claims.get("sub") if isinstance(claims, dict) else None
    return found if isinstance(found, str) else None


def repository_access(name: str, actions: list[str]) -> dict:
    """One entry of a token's `access` claim: `actions` on the Distribution repository
    `name` ("<region>/<ecr name>")."""
    return {"type": "repository", "name": name, "actions": list(actions)}


CATALOG_ACCESS = {"type": "registry", "name": "catalog", "actions": ["*"]}


def mint(signer_: Signer, service: str, subject: str, access: list[dict],
         now: datetime, lifetime: timedelta = LIFETIME) -> str:
    """A JWT granting `access` to `subject`, for the registry whose `service` (audience)
    is given."""
    header = {"typ": "JWT", "alg": "ES256",
              "x5c": [base64.b64encode(signer_.certificate_der).decode()]}
    issued = int(now.timestamp())
    claims = {"iss": ISSUER, "sub": subject, "aud": service,
              "exp": issued + int(lifetime.total_seconds()), "nbf": issued - 1,
              "iat": issued, "jti": uuid.uuid4().hex, "access": access}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    r, s = decode_dss_signature(signer_.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
