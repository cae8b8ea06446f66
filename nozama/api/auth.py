"""Reading SigV4 credential scopes: who signed the request, for which region and service.

Nozama trusts the local machine, so signatures are not verified; the scope is
what matters, because the region in it scopes every resource. A request must still
carry a signature (header or presigned query): a web page cannot add an
Authorization header to a cross-site request without a CORS preflight, which
Nozama never grants, so an unsigned request is refused (api/guard.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nozama.kernel.http import HttpRequest

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
