"""ImportCertificate, DescribeCertificate, GetCertificate, ListCertificates and
DeleteCertificate.

An import is checked whole (model/certificates.py) before anything is stored; a
reimport keeps the ARN, and the load balancers that use the certificate pick up the
new one (their data plane is told).
"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import certificates as x509_rules
from nozama.aws.acm import handlers
from nozama.aws.acm.common import add_tags, checked_tags, describe, find, new_arn
from nozama.store import certificates as cert_store
from nozama.store import listener_certificates
from nozama.store import load_balancers as lb_store
from nozama.store.pagination import decode_token, encode_token

# ListCertificates without Includes.keyTypes lists RSA_1024 and RSA_2048 certificates
# only, as ACM does (an EC certificate needs keyTypes to be listed).
DEFAULT_KEY_TYPES = ["RSA_1024", "RSA_2048"]
MAX_ITEMS = 1000


@handlers.operation("ImportCertificate")
def import_certificate(ctx: RequestContext, params: dict) -> dict:
    tags = checked_tags(params.get("Tags"))
    arn = params.get("CertificateArn")
    if arn and tags:
        raise errors.acm.InvalidParameterException(
            "You cannot apply tags when reimporting a certificate.")
    now = ctx.clock.now()
    try:
        bundle = x509_rules.check_import(params["Certificate"], params["PrivateKey"],
                                         params.get("CertificateChain"), now)
    except x509_rules.Invalid as invalid:
        raise errors.acm.ValidationException(str(invalid)) from None
    doc = {**bundle.fields, "Type": "IMPORTED", "ImportedAt": now.timestamp(),
           "RenewalEligibility": "INELIGIBLE"}
    with ctx.store.write() as conn:
        if arn:
            row = find(ctx, conn, arn)
            if row.doc["Type"] != "IMPORTED":
                raise errors.acm.ValidationException(
                    f"Certificate {arn} was issued by ACM: only imported certificates can "
                    "be reimported.")
            cert_store.replace(conn, arn, doc["KeyAlgorithm"], bundle.certificate,
                               bundle.chain, bundle.private_key, doc)
            if listener_certificates.in_use(conn, arn):
                lb_store.bump_generation(conn)   # listeners serve the new certificate
            return {"CertificateArn": arn}
        arn = new_arn(ctx)
        cert_store.create(conn, ctx.region, ctx.account_id, arn, "ISSUED", doc["KeyAlgorithm"],
                          now, None, bundle.certificate, bundle.chain, bundle.private_key, doc)
        add_tags(conn, arn, tags)
    return {"CertificateArn": arn}


@handlers.operation("DescribeCertificate")
def describe_certificate(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return {"Certificate": describe(conn, find(ctx, conn, params["CertificateArn"]))}


@handlers.operation("GetCertificate")
def get_certificate(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        row = find(ctx, conn, params["CertificateArn"])
    result = {"Certificate": row.certificate}
    if row.chain:
        result["CertificateChain"] = row.chain
    return result


@handlers.operation("ListCertificates")
def list_certificates(ctx: RequestContext, params: dict) -> dict:
    limit = params.get("MaxItems") or MAX_ITEMS
    after = decode_token(params.get("NextToken"), "ListCertificates", str,
                         error=errors.acm.InvalidArgsException) or ""
    key_types = (params.get("Includes") or {}).get("keyTypes") or DEFAULT_KEY_TYPES
    with ctx.store.read() as conn:
        rows = cert_store.page(conn, ctx.region, ctx.account_id, after, limit + 1,
                               params.get("CertificateStatuses") or [], key_types)
        more = len(rows) > limit
        rows = rows[:limit]
        used = listener_certificates.in_use_among(conn, [r.arn for r in rows])
    result = {"CertificateSummaryList": [_summary(r, r.arn in used) for r in rows]}
    if more:
        result["NextToken"] = encode_token("ListCertificates", rows[-1].arn)
    return result


def _summary(row, in_use: bool) -> dict:
    doc = row.doc
    names = doc["SubjectAlternativeNames"]
    summary = {"CertificateArn": row.arn, "DomainName": doc["DomainName"],
               "SubjectAlternativeNameSummaries": names[:100],
               "HasAdditionalSubjectAlternativeNames": len(names) > 100,
               "Status": row.status, "Type": doc["Type"], "KeyAlgorithm": row.key_algorithm,
               "KeyUsages": [u["Name"] for u in doc.get("KeyUsages", [])],
               "ExtendedKeyUsages": [u["Name"] for u in doc.get("ExtendedKeyUsages", [])],
               "InUse": in_use, "RenewalEligibility": doc["RenewalEligibility"],
               "NotBefore": doc["NotBefore"], "NotAfter": doc["NotAfter"]}
    for key in ("CreatedAt", "IssuedAt", "ImportedAt"):
        if key in doc:
            summary[key] = doc[key]
    return summary


@handlers.operation("DeleteCertificate")
def delete_certificate(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = find(ctx, conn, params["CertificateArn"])
        if listener_certificates.in_use(conn, row.arn):
            raise errors.acm.ResourceInUseException(
                f"Certificate {row.arn} in account {ctx.account_id} is in use.")
        cert_store.delete(conn, row.arn)
    return {}
