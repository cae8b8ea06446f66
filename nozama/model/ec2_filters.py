"""EC2's Filters: name=values pairs matched against a resource's fields.

A resource matches when every filter matches, and a filter matches when any of its
values does; values may hold EC2's wildcards (`*` any run, `?` one character).
`tag:<key>` matches the value of that tag, `tag-key` a tag's key, `tag-value` any
tag's value. Each Describe call says which names it knows; any other is refused.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from typing import Callable

# A field extractor: the resource's values for one filter name (a string, a list of
# strings, a bool, or None when it has none).
Field = Callable[[dict], object]


@functools.lru_cache(maxsize=1024)
def _pattern(value: str) -> re.Pattern:
    # fnmatch's `[...]` is not EC2's: escape brackets so they match themselves.
    return re.compile(fnmatch.translate(value.replace("[", "[[]")), re.S)


def _values(found) -> list[str]:
    if found is None:
        return []
    if isinstance(found, bool):
        return ["true" if found else "false"]
    if isinstance(found, (list, tuple, set)):
        return [str(v) for v in found]
    return [str(found)]


def unknown(filters: list[dict], known: set[str]) -> str | None:
    """The first filter name that is neither in `known` nor a tag filter."""
    for item in filters:
        name = item.get("Name", "")
        if name.startswith("tag:") and len(name) > 4:
            continue
        if name not in known and name not in ("tag-key", "tag-value"):
            return name
    return None


def matches(resource: dict, tags: dict[str, str], filters: list[dict],
            fields: dict[str, Field]) -> bool:
    for item in filters:
        name, wanted = item.get("Name", ""), item.get("Values") or []
        if name.startswith("tag:"):
            have = _values(tags.get(name[4:]))
        elif name == "tag-key":
            have = list(tags)
        elif name == "tag-value":
            have = list(tags.values())
        else:
            have = _values(fields[name](resource))
        if not any(_pattern(w).match(h) for w in wanted for h in have):
            return False
    return True
