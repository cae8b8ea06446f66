"""Nozama's certificate authority seen from outside: GET /_nozama/ca.pem and `nozama ca`
hand out the root that signs RequestCertificate's certificates, the same one before and
after a restart; before the first request there is none."""

from __future__ import annotations

import subprocess
import sys

import requests
from cryptography import x509


def _ca(server) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nozama", "ca", "--endpoint", server.endpoint],
                          capture_output=True, text=True, timeout=60)


def test_the_root_is_served_once_made_and_kept(own_server, region):
    own_server.start()
    url = f"{own_server.endpoint}/_nozama/ca.pem"
    before = requests.get(url, timeout=5)
    assert before.status_code == 404 and "RequestCertificate" in before.json()["message"]
    printed = _ca(own_server)
    assert printed.returncode == 1 and "no root yet" in printed.stderr
    acm = own_server.client("acm", region)
    arn = acm.request_certificate(DomainName="svc.example.com")["CertificateArn"]
    root = requests.get(url, timeout=5)
    assert root.status_code == 200
    assert root.headers["content-type"] == "application/x-pem-file"
    assert "PRIVATE KEY" not in root.text
    leaf = x509.load_pem_x509_certificate(
        acm.get_certificate(CertificateArn=arn)["Certificate"].encode())
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(root.content))
    printed = _ca(own_server)
    assert printed.returncode == 0 and printed.stdout == root.text
    # The root is the store's: a restarted server signs with the same one.
    own_server.stop()
    own_server.start()
    assert requests.get(url, timeout=5).text == root.text
    acm = own_server.client("acm", region)
    later = acm.request_certificate(DomainName="other.example.com")["CertificateArn"]
    leaf = x509.load_pem_x509_certificate(
        acm.get_certificate(CertificateArn=later)["Certificate"].encode())
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(root.content))
