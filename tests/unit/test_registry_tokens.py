"""The registry's JWTs, read back as Distribution reads them: ES256 over the first two
parts, a raw r||s signature, the signer's certificate in x5c, and the claims it checks."""

import base64
import json
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from nozama.registry import tokens
from nozama.store import Store
from nozama.store.db import sqlite_url

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_token_is_an_es256_jwt_signed_by_the_certificate_it_carries():
    signer = tokens.new_signer(NOW)
    access = [tokens.repository_access("us-east-1/web", ["pull", "push"])]
    jwt = tokens.mint(signer, "ecr.127.0.0.1:5000", "arn:aws:iam::000000000000:user/a",
                      access, NOW)
    head, body, signature = jwt.split(".")
    header, claims = json.loads(unb64(head)), json.loads(unb64(body))
    assert header["typ"] == "JWT" and header["alg"] == "ES256"
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert cert == x509.load_pem_x509_certificate(signer.certificate.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    raw = unb64(signature)
    assert len(raw) == 64      # JOSE's r||s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    cert.public_key().verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    assert claims["iss"] == "nozama" and claims["aud"] == "ecr.127.0.0.1:5000"
    assert claims["sub"] == "arn:aws:iam::000000000000:user/a"
    assert claims["exp"] == int(NOW.timestamp()) + 300
    assert claims["nbf"] <= int(NOW.timestamp()) and claims["access"] == [
        {"type": "repository", "name": "us-east-1/web", "actions": ["pull", "push"]}]


def test_every_process_of_one_store_signs_with_the_same_key(tmp_path):
    store = Store.open(sqlite_url(tmp_path / "data"))
    try:
        with store.write() as conn:
            first = tokens.signer(conn, NOW)
        with store.write() as conn:
            again = tokens.signer(conn, NOW)
    finally:
        store.close()
    assert first == again
    assert tokens.Signer.from_bytes(first.to_bytes()) == first
