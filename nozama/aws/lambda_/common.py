"""What the Lambda handlers share: the function a request names, found in its
transaction, and Lambda's pages (MaxItems, Marker, NextMarker)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.functions.lookup import check_revision, find_function, function_ref
from nozama.store.pagination import decode_token

# Lambda answers at most 50 items a page, whatever MaxItems says.
MAX_ITEMS = 50


@contextmanager
def function_of(ctx: RequestContext, params: dict, *, write: bool = False,
                revision: bool = False) -> Iterator[tuple[Connection, Row]]:
    """The function the request's FunctionName names (a qualifier in it is ignored), in a
    read or, with `write`, a write transaction; with `revision`, the request's RevisionId
    checked against $LATEST's.

    The function runtime is not told here: a handler calls notify.function_changed
    after the block, and only when it changed something (a warm worker retires on it).
    """
    name = function_ref(ctx, params["FunctionName"]).name
    with (ctx.store.write() if write else ctx.store.read()) as conn:
        function = find_function(ctx, conn, name)
        if revision:
            check_revision(params.get("RevisionId"), function.doc["RevisionId"])
        yield conn, function


def page_limit(params: dict) -> int:
    return min(params.get("MaxItems") or MAX_ITEMS, MAX_ITEMS)


def after_marker(params: dict, listing: str, *key_types: type):
    """The key the request's Marker stands for in `listing`, None on the first page."""
    return decode_token(params.get("Marker"), listing, *key_types,
                        error=errors.lambda_.InvalidParameterValueException)


def listed_page(key: str, items: list, marker: str | None) -> dict:
    """A List* answer: the items, and NextMarker when there are more."""
    return {key: items, "NextMarker": marker} if marker else {key: items}
