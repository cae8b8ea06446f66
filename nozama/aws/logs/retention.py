"""PutRetentionPolicy, DeleteRetentionPolicy, and applying retention.

Retention is applied twice over: reads never return events older than the
policy keeps, and expired events are deleted (with their storedBytes) when
the policy is set and whenever the group is written to.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.aws.logs import handlers
from nozama.aws.logs.common import find_group, now_ms, retention_cutoff
from nozama.store import log_events as event_store
from nozama.store import log_groups as group_store
from nozama.store import log_streams as stream_store

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)


def purge_expired(conn: Connection, group: Row, now: int) -> None:
    """Delete the group's events its retention policy no longer keeps."""
    cutoff = retention_cutoff(group, now)
    if cutoff is None:
        return
    purged = event_store.purge(conn, group.id, cutoff)
    if purged:
        firsts = event_store.first_timestamps(conn, list(purged))
        stream_store.forget_expired(conn, purged, firsts)


@handlers.operation("PutRetentionPolicy")
def put_retention_policy(ctx: RequestContext, params: dict) -> dict:
    days = params["retentionInDays"]
    if days not in RETENTION_DAYS:
        raise errors.logs.InvalidParameterException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(map(str, RETENTION_DAYS))}]")
    with ctx.store.write() as conn:
        group = find_group(ctx, conn, params["logGroupName"])
        group_store.set_retention(conn, group.id, days)
        purge_expired(conn, find_group(ctx, conn, group.name), now_ms(ctx))
    return {}


@handlers.operation("DeleteRetentionPolicy")
def delete_retention_policy(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        group = find_group(ctx, conn, params["logGroupName"])
        group_store.set_retention(conn, group.id, None)
    return {}
