"""What the services' tagging operations share: the tag limit, the reserved
prefix, the two wire forms of a tag set, and adding tags under the limit.

Tags of every service live in one table, keyed by ARN (store/tags.py). Which
resources take tags, and the error and message for each broken rule, stay with
each service: they differ from service to service in AWS, and clients see them.
"""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.kernel.errors import ServiceError
from nozama.store import tags as tag_store

# Tags a resource may carry, in every service Nozama serves.
MAX_TAGS = 50


def reserved(key: str) -> bool:
    """Keys beginning with aws: are AWS's own; no request may set them."""
    return key.lower().startswith("aws:")


def from_pairs(pairs: list[dict], key: str = "Key", value: str = "Value") -> dict[str, str]:
    """A tag list ([{"Key": k, "Value": v}], ECS: key/value) as a dict."""
    return {pair[key]: pair.get(value, "") for pair in pairs}


def as_pairs(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    """A dict of tags in the list form ELBv2, CloudWatch and ECS (key/value) answer with."""
    return [{key: k, value: v} for k, v in tags.items()]


def add(conn: Connection, arn: str, new: dict[str, str], too_many: ServiceError) -> None:
    """Merge `new` into the resource's tags; raise the service's `too_many` if the
    merge would leave more than MAX_TAGS."""
    if tag_store.count_after_merge(conn, arn, set(new)) > MAX_TAGS:
        raise too_many
    tag_store.put(conn, arn, new)
