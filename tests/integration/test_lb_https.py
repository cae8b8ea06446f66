"""HTTPS listeners on the load balancer's data plane: TLS ends at HAProxy with a
certificate Nozama's certificate authority issued (verified by a real TLS client against
the exported root), SNI picks among a listener's certificates, the security policy sets
the TLS versions, targets are reached over TLS and checked over HTTPS, and the common
HTTP-to-HTTPS redirect works."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading

import pytest
import requests

from support import certificates
from support.networks import vpc_of
from support.traffic import PORT, get, load_balancer, wait_serving
from support.waiting import wait_for

TLS_PORT = 8443


class TlsBackend:
    """A target that speaks HTTPS with a self-signed certificate (ALB does not verify
    targets' certificates) and says who it is and how the client came in."""

    def __init__(self, name: str, tmp_path):
        pem = certificates.certificate([f"{name}.internal"])
        (tmp_path / f"{name}.pem").write_bytes(pem.certificate + pem.private_key)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = f"{name} {self.headers.get('X-Forwarded-Proto')} " \
                       f"{self.headers.get('X-Forwarded-Port')}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / f"{name}.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_backend(tmp_path):
    backend = TlsBackend("secure", tmp_path)
    yield backend
    backend.close()


def _tls_version(address: str, port: int, name: str, cafile: str,
                 version: ssl.TLSVersion) -> str | None:
    """The version a client limited to `version` negotiates, or None if refused."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = context.maximum_version = version
    try:
        with socket.create_connection((address, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=name) as tls:
            return tls.version()
    except (ssl.SSLError, OSError):
        return None


def _peer_name(address: str, port: int, sni: str) -> str:
    """The common name of the certificate the listener shows for an SNI name."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_https_listener_end_to_end(server, region, elb, tls_backend, tmp_path):
    acm = server.client("acm", region)
    lb_arn, address = load_balancer(elb, "secure")
    dns = elb.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"][0]["DNSName"]
    issued = acm.request_certificate(DomainName=dns)["CertificateArn"]
    root = requests.get(f"{server.endpoint}/_nozama/ca.pem", timeout=5)
    assert root.status_code == 200 and b"BEGIN CERTIFICATE" in root.content
    cafile = tmp_path / "root.pem"
    cafile.write_bytes(root.content)

    # An HTTPS target group: TLS to the target, HTTPS health checks.
    tg = elb.create_target_group(
        Name="secure", Protocol="HTTPS", Port=tls_backend.port, VpcId=vpc_of(elb),
        TargetType="ip", HealthCheckProtocol="HTTPS", HealthCheckPath="/",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2)["TargetGroups"][0][
        "TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1"}])
    listener = elb.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTPS", Port=TLS_PORT,
        Certificates=[{"CertificateArn": issued}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0][
        "ListenerArn"]
    # The redirect users write on port 80's listener (8080 here).
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT, DefaultActions=[
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": str(TLS_PORT),
                                                "StatusCode": "HTTP_301"}}])
    wait_for(lambda: elb.describe_target_health(TargetGroupArn=tg)[
        "TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy", timeout=30)

    def answer():
        try:
            return requests.get(f"https://{dns}:{TLS_PORT}/hello", verify=str(cafile),
                                timeout=5)
        except requests.ConnectionError:
            return None
    response = wait_for(answer)
    assert response.status_code == 200
    assert response.text == f"secure https {TLS_PORT}"   # X-Forwarded-Proto/-Port

    status, headers, _ = get(address, "/page?x=1", headers={"Host": dns})
    assert status == 301 and headers["location"] == f"https://{dns}:{TLS_PORT}/page?x=1"

    # The policy's versions: TLS 1.2 and 1.3, not 1.1.
    assert _tls_version(address, TLS_PORT, dns, str(cafile),
                        ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    assert _tls_version(address, TLS_PORT, dns, str(cafile),
                        ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _tls_version(address, TLS_PORT, dns, str(cafile), ssl.TLSVersion.TLSv1_1) is None
    elb.modify_listener(ListenerArn=listener, SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06")
    wait_for(lambda: _tls_version(address, TLS_PORT, dns, str(cafile),
                                  ssl.TLSVersion.TLSv1_2) is None)
    assert _tls_version(address, TLS_PORT, dns, str(cafile),
                        ssl.TLSVersion.TLSv1_3) == "TLSv1.3"

    # SNI: a second, imported certificate answers for its own name; the default for others.
    other = certificates.certificate(["other.example"])
    imported = acm.import_certificate(Certificate=other.certificate,
                                      PrivateKey=other.private_key)["CertificateArn"]
    elb.add_listener_certificates(ListenerArn=listener,
                                  Certificates=[{"CertificateArn": imported}])
    wait_for(lambda: _peer_name(address, TLS_PORT, "other.example") == "CN=other.example")
    assert _peer_name(address, TLS_PORT, "unknown.example") == f"CN={dns}"
    elb.remove_listener_certificates(ListenerArn=listener,
                                     Certificates=[{"CertificateArn": imported}])
    wait_for(lambda: _peer_name(address, TLS_PORT, "other.example") == f"CN={dns}")


def test_a_configuration_haproxy_refuses_never_reaches_it(server, region, elb):
    """ACM takes a 1024-bit RSA certificate; OpenSSL 3 (at its default security level)
    refuses it. The data plane checks first: the listener HAProxy refuses is left out, its
    load balancer says why (active_impaired), its other listener and every other load
    balancer go on changing and serving."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    acm = server.client("acm", region)
    lb_arn, address = load_balancer(elb, "refused")
    elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
    wait_serving(address)
    weak = certificates.certificate(["weak.example"], key=rsa.generate_private_key(
        public_exponent=65537, key_size=1024))
    arn = acm.import_certificate(Certificate=weak.certificate,
                                 PrivateKey=weak.private_key)["CertificateArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTPS", Port=TLS_PORT,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "200"}}])["Listeners"][0]["ListenerArn"]

    def state():
        return elb.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"][0][
            "State"]
    wait_for(lambda: state()["Code"] == "active_impaired", timeout=30)
    assert state()["Reason"].startswith(f"The listener on port {TLS_PORT} cannot be served; "
                                         "HAProxy refuses its configuration: ")
    assert get(address)[0] == 200   # its other listener serves on
    with pytest.raises(OSError):
        socket.create_connection((address, TLS_PORT), timeout=1).close()
    # Another load balancer's changes go on meanwhile.
    other_arn, other = load_balancer(elb, "unaffected")
    elb.create_listener(LoadBalancerArn=other_arn, Protocol="HTTP", Port=PORT, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "204"}}])
    wait_serving(other, 204)
    # A certificate HAProxy takes mends it.
    good = certificates.certificate(["good.example"])
    fixed = acm.import_certificate(Certificate=good.certificate,
                                   PrivateKey=good.private_key)["CertificateArn"]
    elb.modify_listener(ListenerArn=listener, Certificates=[{"CertificateArn": fixed}])
    wait_for(lambda: state() == {"Code": "active"}, timeout=30)
    assert _peer_name(address, TLS_PORT, "good.example") == "CN=good.example"
