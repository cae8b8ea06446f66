"""AddTagsToCertificate, RemoveTagsFromCertificate and ListTagsForCertificate."""

from __future__ import annotations

from nozama.kernel.context import RequestContext
from nozama.aws.acm import handlers
from nozama.aws.acm.common import add_tags, checked_tags, find, tag_list
from nozama.store import tags as tag_store


@handlers.operation("AddTagsToCertificate")
def add_tags_to_certificate(ctx: RequestContext, params: dict) -> dict:
    tags = checked_tags(params["Tags"])
    with ctx.store.write() as conn:
        row = find(ctx, conn, params["CertificateArn"])
        add_tags(conn, row.arn, tags)
    return {}


@handlers.operation("RemoveTagsFromCertificate")
def remove_tags_from_certificate(ctx: RequestContext, params: dict) -> dict:
    checked_tags(params["Tags"])
    with ctx.store.write() as conn:
        row = find(ctx, conn, params["CertificateArn"])
        present = tag_store.get(conn, row.arn)
        # A tag given with a value goes only if it has that value, as in ACM.
        keys = [t["Key"] for t in params["Tags"] if t["Key"] in present
                and ("Value" not in t or t["Value"] == present[t["Key"]])]
        tag_store.remove(conn, row.arn, keys)
    return {}


@handlers.operation("ListTagsForCertificate")
def list_tags_for_certificate(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        row = find(ctx, conn, params["CertificateArn"])
        return {"Tags": tag_list(conn, row.arn)}
