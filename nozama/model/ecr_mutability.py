"""Whether a push may move an existing tag: ECR's image tag mutability.

A repository is MUTABLE (any tag may be moved), IMMUTABLE (no tag may), or one of the two
with exclusions: IMMUTABLE_WITH_EXCLUSION leaves the tags that match one of its wildcard
filters mutable, MUTABLE_WITH_EXCLUSION makes them immutable. A filter is a WILDCARD
pattern over the whole tag where `*` stands for any run of characters (possibly empty).

Pure: the registry's gate (registry/gate.py) and PutImage ask it with what the store
holds."""

from __future__ import annotations

import re
from functools import lru_cache

MUTABLE = "MUTABLE"
IMMUTABLE = "IMMUTABLE"
IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"


@lru_cache(maxsize=1024)
def _pattern(wildcard: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in wildcard.split("*")))


def matches(wildcard: str, tag: str) -> bool:
    """Whether a WILDCARD filter matches the whole tag."""
    return _pattern(wildcard).fullmatch(tag) is not None


def _filters(filters) -> list[str]:
    """The wildcard texts of imageTagMutabilityExclusionFilters (their `filter` fields)."""
    return [f["filter"] for f in filters or () if isinstance(f, dict)
            and f.get("filterType", "WILDCARD") == "WILDCARD" and f.get("filter")]


def is_immutable(mutability: str, filters, tag: str) -> bool:
    """Whether `tag`, once it names an image, may not be moved to another."""
    excluded = any(matches(f, tag) for f in _filters(filters))
    if mutability == IMMUTABLE:
        return True
    if mutability == IMMUTABLE_WITH_EXCLUSION:
        return not excluded
    if mutability == MUTABLE_WITH_EXCLUSION:
        return excluded
    return False


def may_tag(mutability: str, filters, tag: str, current_digest: str | None,
            digest: str) -> bool:
    """Whether a push of `digest` under `tag` may go ahead, when the tag names
    `current_digest` now (None: the tag is new). Pushing the same image again is allowed
    on any repository, as ECR allows it."""
    return current_digest is None or current_digest == digest or \
        not is_immutable(mutability, filters, tag)


def refusal(tag: str, repository_name: str) -> str:
    """ECR's text for an overwrite of an immutable tag (Docker prints it after
    `tag invalid: `)."""
    return (f"The image tag '{tag}' already exists in the '{repository_name}' repository "
            "and cannot be overwritten because the repository is immutable.")
