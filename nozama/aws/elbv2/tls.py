"""What HTTPS listeners take beyond HTTP ones: a default certificate from ACM and a
security policy (SslPolicy), checked as ALB checks them.

A listener's doc keeps `Protocol`, `SslPolicy` (HTTPS only) and `Certificates`
([{"CertificateArn": default}], HTTPS only), as DescribeListeners shows them; the
default and the SNI certificates are also rows of listener_certificates, which the data
plane and ACM (InUseBy, ResourceInUse) read.
"""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import arns, ssl_policies
from nozama.store import certificates as cert_store

# The protocols of an application load balancer's listeners.
ALB_PROTOCOLS = ("HTTP", "HTTPS")


def check_protocol(protocol: str) -> None:
    if protocol not in ALB_PROTOCOLS:
        raise ValidationError(f"Listener protocol '{protocol}' must be one of "
                              f"'{', '.join(ALB_PROTOCOLS)}'")


def certificate(ctx: RequestContext, conn: Connection, entry: dict) -> str:
    """The ARN of a certificate a request names, which must be an ACM certificate of the
    caller's region and account (Nozama has no IAM server certificates)."""
    arn = entry.get("CertificateArn")
    if not arn:
        raise ValidationError("A certificate ARN must be specified")
    parsed = arns.parse(arn)
    row = cert_store.get(conn, arn) if parsed and parsed.service == "acm" else None
    if row is None or (row.region, row.account) != (ctx.region, ctx.account_id):
        raise errors.elbv2.CertificateNotFoundException(f"Certificate '{arn}' not found")
    return arn


def policy(name: str) -> str:
    if ssl_policies.get(name) is None:
        raise errors.elbv2.SSLPolicyNotFoundException(f"SSL policy '{name}' not found")
    return name


def settings(ctx: RequestContext, conn: Connection, protocol: str, params: dict,
             doc: dict) -> str | None:
    """Set `doc`'s SslPolicy and Certificates for `protocol` from a Create/ModifyListener
    request (`doc` holds what the listener had); the default certificate's ARN, or None
    for an HTTP listener."""
    requested = params.get("Certificates")
    if protocol == "HTTP":
        if requested:
            raise ValidationError("A certificate cannot be specified for HTTP listeners")
        if params.get("SslPolicy"):
            raise ValidationError("An SSL policy cannot be specifed for HTTP listeners")
        doc.pop("Certificates", None)
        doc.pop("SslPolicy", None)
        return None
    if requested:
        if len(requested) > 1:
            raise ValidationError("A listener can have only one default certificate: add "
                                  "more with AddListenerCertificates")
        doc["Certificates"] = [{"CertificateArn": certificate(ctx, conn, requested[0])}]
    elif not doc.get("Certificates"):
        raise ValidationError("A certificate must be specified for HTTPS listeners")
    doc["SslPolicy"] = policy(params.get("SslPolicy") or doc.get("SslPolicy")
                              or ssl_policies.DEFAULT_POLICY)
    return doc["Certificates"][0]["CertificateArn"]
