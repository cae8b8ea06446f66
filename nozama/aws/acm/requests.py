"""RequestCertificate, answered by Nozama's certificate authority at once.

ACM validates that the requester controls each name (by DNS or email), then issues.
Nozama has nobody to ask: every name validates at once (ValidationStatus SUCCESS) and
the certificate is ISSUED in the same call, signed by the store's root
(model/certificate_authority.py), which `GET /_nozama/ca.pem` hands out for clients
to trust. The root is made by the first RequestCertificate of the store.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

from cryptography import x509

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import certificate_authority as ca
from nozama.model import certificates as x509_rules
from nozama.aws.acm import handlers
from nozama.aws.acm.common import add_tags, checked_tags, new_arn
from nozama.store import certificates as cert_store

# ACM's default quota of names on one certificate (DomainName and SANs together).
MAX_NAMES = 10
IDEMPOTENCY_WINDOW = timedelta(hours=1)
# The addresses ACM mails for EMAIL validation, at the name without its wildcard.
_EMAIL_BOXES = ("admin", "administrator", "hostmaster", "postmaster", "webmaster")


def _names(params: dict) -> list[str]:
    names = list(dict.fromkeys([params["DomainName"], *params.get("SubjectAlternativeNames",
                                                                  [])]))
    if len(params["DomainName"]) > ca.MAX_COMMON_NAME:
        raise errors.acm.ValidationException(
            f"The DomainName '{params['DomainName']}' is longer than {ca.MAX_COMMON_NAME} "
            "characters: put a longer name in SubjectAlternativeNames.")
    if len(names) > MAX_NAMES:
        raise errors.acm.LimitExceededException(
            f"A certificate may have at most {MAX_NAMES} domain names; this request has "
            f"{len(names)}.")
    return names


def _validation_domains(params: dict, names: list[str]) -> dict[str, str]:
    """The domain each name is validated at: itself, unless DomainValidationOptions
    names a superdomain of it."""
    chosen = {}
    for option in params.get("DomainValidationOptions") or []:
        name, domain = option["DomainName"], option["ValidationDomain"]
        if name not in names:
            raise errors.acm.InvalidDomainValidationOptionsException(
                f"DomainValidationOptions names '{name}', which is not a domain name of "
                "the certificate.")
        bare = name[2:] if name.startswith("*.") else name
        if domain != bare and not bare.endswith("." + domain):
            raise errors.acm.InvalidDomainValidationOptionsException(
                f"The ValidationDomain '{domain}' of '{name}' must be the domain name "
                "itself or a superdomain of it.")
        chosen[name] = domain
    return {name: chosen.get(name, name[2:] if name.startswith("*.") else name)
            for name in names}


def _validation(name: str, domain: str, method: str) -> dict:
    option = {"DomainName": name, "ValidationDomain": domain, "ValidationStatus": "SUCCESS",
              "ValidationMethod": method}
    if method == "DNS":
        token = hashlib.sha256(name.encode()).hexdigest()
        option["ResourceRecord"] = {"Name": f"_{token[:32]}.{domain}.", "Type": "CNAME",
                                    "Value": f"_{token[32:]}.acm-validations.aws."}
    else:
        option["ValidationEmails"] = [f"{box}@{domain}" for box in _EMAIL_BOXES]
    return option


@handlers.operation("RequestCertificate")
async def request_certificate(ctx: RequestContext, params: dict) -> dict:
    if params.get("CertificateAuthorityArn"):
        raise errors.acm.ValidationException(
            "Nozama has no AWS Private CA: leave out CertificateAuthorityArn, and its own "
            "certificate authority issues the certificate.")
    algorithm = params.get("KeyAlgorithm", "RSA_2048")
    if algorithm not in ca.REQUESTABLE:
        raise errors.acm.ValidationException(
            f"KeyAlgorithm {algorithm} is for imported certificates only: request one of "
            f"{', '.join(ca.REQUESTABLE)}.")
    names = _names(params)
    domains = _validation_domains(params, names)
    tags = checked_tags(params.get("Tags"))
    token = params.get("IdempotencyToken")
    now = ctx.clock.now()
    if token:
        with ctx.store.read() as conn:
            earlier = cert_store.by_token(conn, ctx.region, ctx.account_id, token,
                                          now - IDEMPOTENCY_WINDOW)
        if earlier is not None:
            return {"CertificateArn": earlier.arn}
    # Making an RSA key takes a while: not on the event loop that serves everyone.
    key = await asyncio.to_thread(ca.new_key, algorithm)
    method = params.get("ValidationMethod", "EMAIL")
    with ctx.store.write() as conn:
        root = ca.Root.from_bytes(cert_store.authority(conn, lambda: ca.new_root(now).to_bytes()))
        certificate = ca.issue(root, names, key, now)
        fields = x509_rules.fields_of(x509.load_pem_x509_certificate(certificate.encode()))
        doc = {**fields, "DomainName": names[0], "SubjectAlternativeNames": names,
               "Type": "AMAZON_ISSUED", "CreatedAt": now.timestamp(),
               "IssuedAt": now.timestamp(), "RenewalEligibility": "INELIGIBLE",
               "DomainValidationOptions": [_validation(n, domains[n], method) for n in names],
               "Options": {"CertificateTransparencyLoggingPreference": (
                   params.get("Options") or {}).get("CertificateTransparencyLoggingPreference",
                                                    "ENABLED")}}
        arn = new_arn(ctx)
        cert_store.create(conn, ctx.region, ctx.account_id, arn, "ISSUED", algorithm, now,
                          token, certificate, root.certificate, x509_rules.key_pem(key), doc)
        add_tags(conn, arn, tags)
    return {"CertificateArn": arn}
