"""Reading SigV4 credential scopes, and answering a refused signature as the service would.

The region in the scope scopes every resource. A request must carry a signature
(header or presigned query): a web page cannot add an Authorization header to a
cross-site request without a CORS preflight, which Nozama never grants, so an
unsigned request is refused (api/guard.py). When the gateway verifies signatures
(api/sigv4.py), a refusal is answered with the error code of the service's protocol
family (`signature_error`); when it does not, only the scope is read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from nozama.api.sigv4 import Reason, SignatureError
from nozama.kernel import errors
from nozama.kernel.http import HttpRequest

log = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_SCOPE = re.compile(r"([^/]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@dataclass(frozen=True)
class CredentialScope:
    access_key: str
    region: str
    service: str


def credential_scope(request: HttpRequest) -> CredentialScope | None:
    """The scope of a SigV4 Authorization header or presigned query; None when the
    request carries neither (it is then unsigned)."""
    match = _CREDENTIAL.search(request.headers.get("authorization", ""))
    if match is None and request.query_string and request.query.get("X-Amz-Signature"):
        presigned = request.query.get("X-Amz-Credential")
        match = _SCOPE.fullmatch(presigned) if presigned else None
    if match is None:
        return None
    return CredentialScope(match.group(1), match.group(3), match.group(4))


# Operations a presigned URL may run (see presigned_may_run).
_READS = ("Describe", "List", "Get")


def presigned_may_run(request: HttpRequest, operation: str) -> bool:
    """Whether a request may run `operation` on the strength of its signature.

    Until signatures are verified, a presigned query is only a shape: a web page can
    write one into a link or a form (an <img> GET, a text/plain POST) that a browser
    sends without asking. So a request signed only in its query may read (Describe,
    List, Get operations) and change nothing; an Authorization header, which no page
    can add cross-site without a CORS preflight, is needed for everything else."""
    if "authorization" in request.headers:
        return True
    return operation.startswith(_READS)


# The error code of each refusal, per protocol family. JSON, REST-JSON and CBOR services
# answer as AWS's JSON services do (ECS, Lambda, Logs: UnrecognizedClientException,
# InvalidSignatureException, IncompleteSignatureException, ExpiredTokenException); query
# services (ELBv2, IAM, STS) with the query codes (InvalidClientTokenId,
# SignatureDoesNotMatch, IncompleteSignature, ExpiredToken); EC2 with AuthFailure and
# RequestExpired (its API reference's common errors). An expired signature is
# InvalidSignatureException / SignatureDoesNotMatch with "Signature expired: ...".
_JSON = {Reason.INCOMPLETE: errors.IncompleteSignatureException,
         Reason.UNKNOWN_KEY: errors.UnrecognizedClientException,
         Reason.MISMATCH: errors.InvalidSignatureException,
         Reason.EXPIRED: errors.InvalidSignatureException,
         Reason.EXPIRED_TOKEN: errors.ExpiredTokenException}
_QUERY = {Reason.INCOMPLETE: errors.IncompleteSignature,
          Reason.UNKNOWN_KEY: errors.InvalidClientTokenId,
          Reason.MISMATCH: errors.SignatureDoesNotMatch,
          Reason.EXPIRED: errors.SignatureDoesNotMatch,
          Reason.EXPIRED_TOKEN: errors.ExpiredToken}
_EC2 = {Reason.INCOMPLETE: errors.IncompleteSignature,
        Reason.UNKNOWN_KEY: errors.ec2.AuthFailure,
        Reason.MISMATCH: errors.ec2.AuthFailure,
        Reason.EXPIRED: errors.ec2.RequestExpired,
        Reason.EXPIRED_TOKEN: errors.ExpiredToken}
# EC2 says the same of an unknown key and a wrong signature, and this of a stale one.
_EC2_MESSAGES = {Reason.UNKNOWN_KEY: "AWS was not able to validate the provided access "
                                     "credentials",
                 Reason.MISMATCH: "AWS was not able to validate the provided access credentials",
                 Reason.EXPIRED: "Request has expired."}
_FAMILIES = {"query": _QUERY, "rest-xml": _QUERY, "ec2": _EC2}


def signature_error(failure: SignatureError, protocol: str) -> errors.ServiceError:
    """The AWS error a refused signature gets from a service speaking `protocol`."""
    if failure.reason == Reason.MISSING:
        return errors.MissingAuthenticationToken(failure.message)
    family = _FAMILIES.get(protocol, _JSON)
    message = failure.message
    if family is _EC2:
        message = _EC2_MESSAGES.get(failure.reason, message)
    # Only the key id (checked to be word characters) and the reason, never the
    # header or the message, which echo what the client sent.
    log.info("refused a signature (%s) by key %s", failure.reason, failure.access_key or "-")
    return family[failure.reason](message)


def wrong_service(service: str, access_key: str) -> SignatureError:
    """A signature scoped to another service than `service`, the one the request is for."""
    return SignatureError(Reason.MISMATCH,
                          f"Credential should be scoped to correct service: '{service}'. ",
                          access_key)
