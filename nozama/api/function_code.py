"""GET /_nozama/v1/function-code/<digest>?Expires=..&Signature=..: a deployment package.

The URL GetFunction hands out as Code.Location (aws/lambda_/code_urls.py signs it).
Refusals are shaped as S3's answers to a bad presigned URL (403 AccessDenied, XML),
since that is what a client of Lambda's real Location expects.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from nozama.aws.lambda_ import code_urls
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.store import functions as function_store

PREFIX = code_urls.PREFIX


def handle(store, clock, request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _error(405, "MethodNotAllowed",
                      "The specified method is not allowed against this resource.")
    try:
        digest = code_urls.verified(store, clock, request.path, request.query)
    except code_urls.Refused as refused:
        return _error(403, "AccessDenied", str(refused))
    with store.read() as conn:
        package = function_store.get_code(conn, digest)
    if package is None:  # the function (and its package) was deleted since
        return _error(404, "NoSuchKey", "The specified key does not exist.")
    return HttpResponse(200, bytes(package), {"content-type": "application/zip"})


def _error(status: int, code: str, message: str) -> HttpResponse:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error>").encode()
    return HttpResponse(status, body, {"content-type": "application/xml"})
