"""PublishVersion and ListVersionsByFunction.

A version is $LATEST frozen: the same configuration document with its own number,
qualified ARN and RevisionId, and the same package. Publishing when $LATEST has
not changed since the last version returns that version, as Lambda does.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.functions import notify
from nozama.aws.lambda_ import handlers
from nozama.functions.lookup import (LATEST, find_function, function_arn, listed,
                                     new_revision_id, renew_latest_revision, version_out)
from nozama.aws.lambda_.common import after_marker, function_of, listed_page, page_limit
from nozama.store import functions as function_store
from nozama.store.pagination import page
# What differs between a version and the $LATEST it froze (LastModified does not: a
# version keeps the LastModified of the $LATEST it was published from).
_OWN = ("FunctionArn", "Version", "RevisionId", "Description")


def _unchanged(version: dict, latest: dict) -> bool:
    def frozen(doc: dict) -> dict:
        return {k: v for k, v in doc.items() if k not in _OWN}
    return frozen(version) == frozen(latest)


def publish(ctx: RequestContext, conn: Connection, name: str,
            description: str | None = None) -> tuple[Row, bool]:
    """The version that freezes $LATEST now, and whether it is new (else the last one)."""
    function = find_function(ctx, conn, name)
    last = function_store.get_version(conn, function.id, function.last_version)
    if last is not None and last.code_sha256 == function.code_sha256 \
            and _unchanged(last.doc, function.doc):
        return last, False

    def doc_for(number: int) -> dict:
        doc = {**function.doc, "FunctionArn": function_arn(ctx, name, str(number)),
               "Version": str(number), "RevisionId": new_revision_id()}
        if description is not None:
            doc["Description"] = description
        return doc
    return function_store.publish(conn, function.id, function.code_sha256, doc_for), True


@handlers.operation("PublishVersion")
def publish_version(ctx: RequestContext, params: dict) -> dict:
    with function_of(ctx, params, write=True, revision=True) as (conn, function):
        name = function.name
        expected, actual = params.get("CodeSha256"), function.doc["CodeSha256"]
        if expected and expected != actual:
            raise errors.lambda_.InvalidParameterValueException(
                f"CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST "
                f"({actual}). Please try again with the CodeSHA256 in $LATEST.")
        version, created = publish(ctx, conn, name, params.get("Description"))
        if created:
            renew_latest_revision(conn, function)
    if created:
        notify.function_changed(ctx, name)
    return version_out(version.doc)


@handlers.operation("ListVersionsByFunction")
def list_versions_by_function(ctx: RequestContext, params: dict) -> dict:
    limit = page_limit(params)
    # The marker is the last number listed, $LATEST counting as 0.
    after = after_marker(params, "ListVersionsByFunction", int)
    with function_of(ctx, params) as (conn, function):
        items = []
        if after is None:
            items.append((0, {**function.doc,
                              "FunctionArn": function_arn(ctx, function.name, LATEST)}))
        rows = function_store.versions(conn, function.id, after, limit + 1 - len(items))
        items += [(row.version, version_out(row.doc)) for row in rows]
    items, marker = page(items, limit, "ListVersionsByFunction", key=lambda item: item[0])
    return listed_page("Versions", [listed(doc) for _, doc in items], marker)
