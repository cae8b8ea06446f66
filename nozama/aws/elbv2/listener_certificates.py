"""AddListenerCertificates, RemoveListenerCertificates and DescribeListenerCertificates:
an HTTPS listener's certificate list, which it chooses from by SNI. The default
certificate (set by Create/ModifyListener) is in the list with IsDefault true and
cannot be removed from it."""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.aws.elbv2 import handlers, tls
from nozama.aws.elbv2.common import listener, page_size
from nozama.store import listener_certificates
from nozama.store import load_balancers as lb_store
from nozama.store.pagination import decode_token, encode_token

# ALB's default quota: certificates per load balancer listener, besides the default.
MAX_CERTIFICATES = 25


def _https_listener(ctx: RequestContext, conn, arn: str):
    row = listener(ctx, conn, arn)
    if row.doc["Protocol"] != "HTTPS":
        raise ValidationError(f"Listener '{arn}' uses protocol {row.doc['Protocol']}: "
                              "certificates can be added to HTTPS listeners only")
    return row


@handlers.operation("AddListenerCertificates")
def add_listener_certificates(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = _https_listener(ctx, conn, params["ListenerArn"])
        arns = [tls.certificate(ctx, conn, c) for c in params["Certificates"]]
        present = listener_certificates.of_listener(conn, row.arn)
        listed = {r.certificate_arn for r in present if not r.is_default}
        default = {r.certificate_arn for r in present if r.is_default}
        if len(listed | (set(arns) - default)) > MAX_CERTIFICATES:
            raise errors.elbv2.TooManyCertificatesException(
                f"A listener can have at most {MAX_CERTIFICATES} certificates besides its "
                "default certificate")
        listener_certificates.add(conn, row.arn, row.load_balancer_arn, arns)
        lb_store.bump_generation(conn)
    return {"Certificates": [{"CertificateArn": arn, "IsDefault": arn in default}
                             for arn in dict.fromkeys(arns)]}


@handlers.operation("RemoveListenerCertificates")
def remove_listener_certificates(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = listener(ctx, conn, params["ListenerArn"])
        arns = [c.get("CertificateArn") or "" for c in params["Certificates"]]
        default = (row.doc.get("Certificates") or [{}])[0].get("CertificateArn")
        if default in arns:
            raise errors.elbv2.OperationNotPermittedException(
                f"The default certificate '{default}' cannot be removed from listener "
                f"'{row.arn}': replace it with ModifyListener")
        listener_certificates.remove(conn, row.arn, arns)
        lb_store.bump_generation(conn)
    return {}


@handlers.operation("DescribeListenerCertificates")
def describe_listener_certificates(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params)
    start = decode_token(params.get("Marker"), "DescribeListenerCertificates", int,
                         error=ValidationError) or 0
    with ctx.store.read() as conn:
        row = listener(ctx, conn, params["ListenerArn"])
        rows = listener_certificates.of_listener(conn, row.arn)
    page = rows[start:start + limit]
    result = {"Certificates": [{"CertificateArn": r.certificate_arn, "IsDefault": r.is_default}
                               for r in page]}
    if start + limit < len(rows):
        result["NextMarker"] = encode_token("DescribeListenerCertificates", start + limit)
    return result
