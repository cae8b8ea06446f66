"""The error documents of the XML protocols of services Nozama does not serve.

A client of S3 (`rest-xml`) that reaches Nozama must read why it was refused, not
fail to parse a JSON body: this protocol only serializes errors, in the shape
botocore's RestXMLParser reads. (EC2's protocol, which Nozama serves, is ec2.py.)
"""

from __future__ import annotations

from botocore.model import OperationModel

from nozama.api.catalog import Service
from nozama.api.protocols.base import Protocol
from nozama.api.protocols.query import escape
from nozama.kernel.errors import ServiceError
from nozama.kernel.http import HttpRequest, HttpResponse

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class _ErrorsOnly(Protocol):
    def operation_name(self, service: Service, request: HttpRequest) -> str | None:
        return None


class RestXmlProtocol(_ErrorsOnly):
    """S3's errors (and other REST-XML services'): a bare <Error> document."""
    name = "rest-xml"

    def serialize_error(self, service: Service, operation: OperationModel | None,
                        error: ServiceError, request_id: str) -> HttpResponse:
        body = (f"{_DECLARATION}<Error><Code>{escape(error.code)}</Code>"
                f"<Message>{escape(error.message)}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>")
        return HttpResponse(error.status, body.encode(),
                            {"content-type": "application/xml",
                             "x-amz-request-id": request_id})
