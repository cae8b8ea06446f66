"""AWS Certificate Manager (JSON 1.1 protocol): imported certificates, certificates
issued at once by Nozama's certificate authority, their tags. HTTPS listeners of
ELBv2 use them (aws/elbv2/listener_certificates.py)."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("acm", validation_error=errors.acm.ValidationException)

# Importing the operation modules registers their handlers.
from nozama.aws.acm import certificates, requests, tagging  # noqa: E402,F401
