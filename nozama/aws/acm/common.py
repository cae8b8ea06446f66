"""What the ACM operations share: ARNs, finding a certificate, its description, tags."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import Connection

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws import tagging
from nozama.store import certificates as cert_store
from nozama.store import listener_certificates
from nozama.store import tags as tag_store

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_arn(ctx: RequestContext) -> str:
    return arns.arn("acm", ctx.region, ctx.account_id, f"certificate/{uuid.uuid4()}")


def find(ctx: RequestContext, conn: Connection, arn: str):
    """The certificate `arn` names in the caller's region and account.

    The model's pattern has already refused what is not an ACM ARN at all
    (ValidationException); an ACM ARN that names no certificate is InvalidArnException.
    """
    parsed = arns.parse(arn)
    if parsed is None or parsed.service != "acm" or parsed.resource_type != "certificate" \
            or not _ID.fullmatch(parsed.resource_path):
        raise errors.acm.InvalidArnException(f"String '{arn}' is not a valid ARN.")
    row = cert_store.get(conn, arn)
    if row is None or (row.region, row.account) != (ctx.region, ctx.account_id):
        raise errors.acm.ResourceNotFoundException(f"Could not find certificate {arn}.")
    return row


def describe(conn: Connection, row) -> dict:
    """DescribeCertificate's CertificateDetail of a stored certificate."""
    return {"CertificateArn": row.arn, **row.doc, "Status": row.status,
            "InUseBy": listener_certificates.load_balancers_using(conn, row.arn)}


# ---------------------------------------------------------------- tags

def checked_tags(tags: list[dict] | None) -> dict[str, str]:
    """A request's tags as a dict; ACM refuses the keys AWS keeps for itself."""
    for tag in tags or []:
        if tagging.reserved(tag["Key"]):
            raise errors.acm.InvalidTagException(
                f"Tag key '{tag['Key']}' is not valid: keys beginning with 'aws:' are "
                "reserved for AWS use.")
    return tagging.from_pairs(tags or [])


def add_tags(conn: Connection, arn: str, tags: dict[str, str]) -> None:
    tagging.add(conn, arn, tags, errors.acm.TooManyTagsException(
        f"The certificate {arn} would have more than {tagging.MAX_TAGS} tags."))


def tag_list(conn: Connection, arn: str) -> list[dict]:
    return tagging.as_pairs(tag_store.get(conn, arn))
