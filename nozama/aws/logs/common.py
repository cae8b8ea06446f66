"""What the CloudWatch Logs operations share: ARNs, times, finding groups and streams."""

from __future__ import annotations

from sqlalchemy import Connection, Row

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.aws import tagging
from nozama.store import log_groups as group_store
from nozama.store import log_streams as stream_store

DAY_MS = 86_400_000
# What AWS answers when a PutLogEvents batch (or a response) is full.
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26


def now_ms(ctx: RequestContext) -> int:
    return int(ctx.clock.now().timestamp() * 1000)


def log_group_arn(ctx: RequestContext, name: str) -> str:
    """The log group's ARN as logGroupArn and the tagging APIs have it (no trailing :*)."""
    return arns.arn("logs", ctx.region, ctx.account_id, f"log-group:{name}")


def log_stream_arn(ctx: RequestContext, group: str, stream: str) -> str:
    return arns.arn("logs", ctx.region, ctx.account_id, f"log-group:{group}:log-stream:{stream}")


def name_in_arn(ctx: RequestContext, text: str) -> str | None:
    """The log group name in a log group ARN of this region and account, else None."""
    parsed = arns.parse(text)
    if parsed is None or parsed.service != "logs" or parsed.region != ctx.region \
            or parsed.account != ctx.account_id or not parsed.resource.startswith("log-group:"):
        return None
    name = parsed.resource[len("log-group:"):]
    name = name[:-2] if name.endswith(":*") else name
    return name if name and ":" not in name else None


def group_name(ctx: RequestContext, params: dict) -> str:
    """The log group a request names by logGroupName or logGroupIdentifier (name or ARN)."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise errors.logs.InvalidParameterException(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if not name and not identifier:
        raise errors.logs.InvalidParameterException(
            "Either logGroupName or logGroupIdentifier must be specified.")
    if name:
        return name
    if not arns.is_arn(identifier):
        return identifier
    found = name_in_arn(ctx, identifier)
    if found is None:
        raise errors.logs.ResourceNotFoundException("The specified log group does not exist.")
    return found


def find_group(ctx: RequestContext, conn: Connection, name: str) -> Row:
    row = group_store.get(conn, ctx.region, ctx.account_id, name)
    if row is None:
        raise errors.logs.ResourceNotFoundException("The specified log group does not exist.")
    return row


def find_stream(conn: Connection, group: Row, name: str) -> Row:
    row = stream_store.get(conn, group.id, name)
    if row is None:
        raise errors.logs.ResourceNotFoundException("The specified log stream does not exist.")
    return row


def retention_cutoff(group: Row, now: int) -> int | None:
    """The oldest timestamp the group's retention policy keeps, or None (kept forever)."""
    if group.retention_in_days is None:
        return None
    return now - group.retention_in_days * DAY_MS


def earliest(start: int | None, cutoff: int | None) -> int | None:
    """The later of a requested start time and the retention cutoff."""
    if cutoff is None:
        return start
    return cutoff if start is None else max(start, cutoff)


def event_size(message: str) -> int:
    return len(message.encode()) + EVENT_OVERHEAD


def check_tags(tags: dict[str, str] | None) -> dict[str, str]:
    for key in tags or {}:
        if tagging.reserved(key):
            raise errors.logs.InvalidParameterException(
                "Tag keys that begin with 'aws:' are reserved for AWS use.")
    return dict(tags or {})
