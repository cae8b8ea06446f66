"""Who may call Nozama's own routes (under /_nozama/, and /metrics) once keys are checked.

With auth on, these routes take signed requests only, as the AWS API does, and the
key's policies must allow the AWS action each route stands for:

- the agents' channel (SigV4 for "ecs"): register, poll, state and usage are the
  ECS agent's own actions (ecs:RegisterContainerInstance, ecs:Poll,
  ecs:SubmitTaskStateChange, ecs:StartTelemetrySession), which the managed policy
  AmazonEC2ContainerServiceforEC2Role allows;
- function deployments (SigV4 for "lambda"): reading one is lambda:GetAlias on the
  function, starting or stopping one is lambda:UpdateAlias, what the deployment does;
- /metrics (SigV4 for "monitoring", or HTTP Basic with an access key id and its secret
  for Prometheus, which cannot sign): cloudwatch:GetMetricData.

Open to all: the health check, the certificate authority's root (public, as a root is,
and needed before a client can check anything), and function code, whose URLs carry a
signature of their own (api/function_code.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from nozama.api import sigv4
from nozama.api.auth import signature_error, wrong_service
from nozama.kernel import errors
from nozama.kernel.http import HttpRequest
from nozama.model.iam_authorize import authorize

# Access key ids as IAM makes them; anything else is refused before the key store sees it.
_KEY_ID = re.compile(r"[A-Za-z0-9_]{16,128}")
AGENT_OPERATIONS = {"register": "RegisterContainerInstance", "poll": "Poll",
                    "state": "SubmitTaskStateChange", "usage": "StartTelemetrySession"}


class Refused(Exception):
    def __init__(self, error: errors.ServiceError):
        super().__init__(error.message)
        self.error = error


def signed_caller(gateway, request: HttpRequest, signing_name: str) -> sigv4.Verified:
    """The verified signer of a request to one of Nozama's own routes, for the service
    `signing_name`; Refused (with the JSON family's error) when it is not signed right."""
    try:
        verified = sigv4.verify(request, gateway.credentials_lookup, gateway.clock.now())
    except sigv4.SignatureError as failure:
        raise Refused(signature_error(failure, "json")) from None
    if verified.service != signing_name:
        raise Refused(signature_error(wrong_service(signing_name, verified.access_key),
                                      "json"))
    return verified


def authorized(gateway, verified: sigv4.Verified, service: str, operation: str,
               params: dict) -> None:
    """Nothing if the signer's policies allow the action, else Refused (AccessDenied)."""
    try:
        authorize(verified.principal, service, operation, params, verified.region,
                  gateway.account_id)
    except errors.ServiceError as error:
        raise Refused(error) from None


def metrics_reader(gateway, request: HttpRequest) -> None:
    """Let a scraper in by SigV4 or by HTTP Basic (key id, secret), if its key may read
    CloudWatch metrics; Refused otherwise."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        verified = signed_caller(gateway, request, "monitoring")
    else:
        verified = _basic(gateway, header[6:])
    authorized(gateway, verified, "cloudwatch", "GetMetricData", {})


def _basic(gateway, encoded: str) -> sigv4.Verified:
    try:
        key_id, _, secret = base64.b64decode(encoded.strip(), validate=True) \
            .decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        key_id, secret = "", ""
    credentials = gateway.credentials_lookup(key_id, None) \
        if _KEY_ID.fullmatch(key_id) else None
    expires = getattr(credentials, "expires_at", None)
    if credentials is None or not hmac.compare_digest(
            credentials.secret_access_key.encode(), secret.encode()) \
            or (expires is not None and expires <= gateway.clock.now()):
        raise Refused(errors.UnrecognizedClientException(sigv4.INVALID_TOKEN_MESSAGE))
    return sigv4.Verified(key_id, "us-east-1", "monitoring", credentials.principal)
