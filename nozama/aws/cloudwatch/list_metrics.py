"""ListMetrics: the metrics written to in the last two weeks (or three hours with
RecentlyActive), filtered by namespace, name and dimensions, 500 a page."""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.cloudwatch import handlers
from nozama.aws.cloudwatch.common import epoch
from nozama.store import metrics as metric_store
from nozama.store.pagination import decode_token, encode_token

PAGE = 500
LISTED_FOR = 14 * 86_400
RECENTLY_ACTIVE = 3 * 3_600


@handlers.operation("ListMetrics")
def list_metrics(ctx: RequestContext, params: dict) -> dict:
    after = decode_token(params.get("NextToken"), "ListMetrics", int,
                         error=errors.cloudwatch.InvalidParameterValueException)
    wanted = params.get("Dimensions") or []
    since = epoch(ctx.clock.now()) - (RECENTLY_ACTIVE if params.get("RecentlyActive")
                                      else LISTED_FOR)
    found, last_id = [], after
    with ctx.store.read() as conn:
        # Dimension filters are applied here, so read on until a page is full.
        while len(found) <= PAGE:
            rows = metric_store.search(conn, ctx.region, ctx.account_id,
                                       namespace=params.get("Namespace"),
                                       name=params.get("MetricName"), active_since=since,
                                       after_id=last_id, limit=PAGE + 1)
            found += [row for row in rows if _has_dimensions(row.dimensions, wanted)]
            if len(rows) <= PAGE:
                break
            last_id = rows[-1].id
    page, more = found[:PAGE], len(found) > PAGE
    response = {"Metrics": [{"Namespace": row.namespace, "MetricName": row.metric_name,
                             "Dimensions": row.dimensions} for row in page]}
    if more:
        response["NextToken"] = encode_token("ListMetrics", page[-1].id)
    return response


def _has_dimensions(dimensions: list[dict], wanted: list[dict]) -> bool:
    have = {d["Name"]: d["Value"] for d in dimensions}
    return all(f["Name"] in have and ("Value" not in f or have[f["Name"]] == f["Value"])
               for f in wanted)
