"""ECR lifecycle policies: checking one as ECR does, and which images it expires.

A policy is `{"rules": [{"rulePriority", "description"?, "selection": {"tagStatus",
"tagPrefixList"? | "tagPatternList"?, "countType", "countUnit"?, "countNumber"},
"action": {"type": "expire"}}]}`. How ECR evaluates it (its user guide, "Lifecycle
policies"):

- rules run by rulePriority, lowest first; a rule with tagStatus `any` must come last;
- a rule *selects* the images its tag criteria match: `tagged` with tagPrefixList (every
  prefix is the start of one of the image's tags) or tagPatternList (every pattern, with
  `*` wildcards, matches one of its tags), `untagged` (no tag), `any`;
- among the images it selects, `imageCountMoreThan` N expires all but the N most recently
  pushed, and `sinceImagePushed` N `days` expires those pushed more than N days ago,
  oldest first;
- an image selected by a higher-priority rule is never expired by a lower one, though a
  lower rule still counts it ("identifies it as if it had not been expired"), so an image
  is expired by one rule at most.

Pure: times come in as arguments."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed")
# ECR allows at most this many wildcards in one tagPatternList entry.
MAX_WILDCARDS = 4


class PolicyError(ValueError):
    """Why a policy text is not a valid lifecycle policy (ECR's validation failure)."""


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    count_type: str
    count_number: int
    description: str = ""

    def selects(self, tags: tuple[str, ...] | list[str]) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        if not tags:
            return False
        if self.prefixes:
            return all(any(tag.startswith(p) for tag in tags) for p in self.prefixes)
        return all(any(_pattern(p).fullmatch(tag) for tag in tags) for p in self.patterns)


@dataclass(frozen=True)
class Image:
    """What a policy looks at of an image."""
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


def _pattern(text: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")))


def _strings(selection: dict, key: str, index: int) -> tuple[str, ...]:
    value = selection.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not value or \
            not all(isinstance(item, str) and item for item in value):
        raise PolicyError(f"rule {index}: {key} must be a non-empty list of non-empty strings.")
    return tuple(value)


def _integer(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyError(f"{what} must be an integer.")
    return value


def _rule(index: int, raw) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"rule {index} must be an object.")
    for key in ("rulePriority", "selection", "action"):
        if key not in raw:
            raise PolicyError(f"rule {index} has no {key}.")
    priority = _integer(raw["rulePriority"], f"rule {index}: rulePriority")
    if priority < 1:
        raise PolicyError(f"rule {index}: rulePriority must be at least 1.")
    action, selection = raw["action"], raw["selection"]
    if not isinstance(action, dict) or action.get("type") != "expire":
        raise PolicyError(f"rule {index}: action.type must be expire.")
    if not isinstance(selection, dict):
        raise PolicyError(f"rule {index}: selection must be an object.")
    status = selection.get("tagStatus")
    if status not in TAG_STATUSES:
        raise PolicyError(f"rule {index}: tagStatus must be one of tagged, untagged, any.")
    prefixes = _strings(selection, "tagPrefixList", index)
    patterns = _strings(selection, "tagPatternList", index)
    if status == "tagged" and not (prefixes or patterns):
        raise PolicyError(f"rule {index}: a rule with tagStatus tagged needs a tagPrefixList "
                          "or a tagPatternList.")
    if prefixes and patterns:
        raise PolicyError(f"rule {index}: tagPrefixList and tagPatternList cannot both be "
                          "specified.")
    if status != "tagged" and (prefixes or patterns):
        raise PolicyError(f"rule {index}: tagPrefixList and tagPatternList can only be used "
                          "with tagStatus tagged.")
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise PolicyError(f"rule {index}: tagPatternList entry '{pattern}' has more than "
                              f"{MAX_WILDCARDS} wildcards.")
    count_type = selection.get("countType")
    if count_type not in COUNT_TYPES:
        raise PolicyError(f"rule {index}: countType must be imageCountMoreThan or "
                          "sinceImagePushed.")
    if count_type == "sinceImagePushed" and selection.get("countUnit") != "days":
        raise PolicyError(f"rule {index}: countUnit must be days with countType "
                          "sinceImagePushed.")
    if count_type == "imageCountMoreThan" and "countUnit" in selection:
        raise PolicyError(f"rule {index}: countUnit cannot be used with countType "
                          "imageCountMoreThan.")
    count = _integer(selection.get("countNumber"), f"rule {index}: countNumber")
    if count < 1:
        raise PolicyError(f"rule {index}: countNumber must be at least 1.")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise PolicyError(f"rule {index}: description must be a string.")
    return Rule(priority, status, prefixes, patterns, count_type, count, description)


def parse(text: str) -> list[Rule]:
    """The rules of a policy text, by priority; PolicyError says why it is not valid."""
    try:
        document = json.loads(text)
    except ValueError:
        raise PolicyError("Could not map policyString into LifecyclePolicy.") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list) \
            or not document["rules"]:
        raise PolicyError("A lifecycle policy needs a non-empty list of rules.")
    rules = [_rule(index, raw) for index, raw in enumerate(document["rules"], 1)]
    priorities = [rule.priority for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise PolicyError("rulePriority must be unique.")
    rules.sort(key=lambda rule: rule.priority)
    if any(rule.tag_status == "any" for rule in rules[:-1]):
        raise PolicyError("A rule with tagStatus any must have the highest rulePriority.")
    if sum(rule.tag_status == "untagged" for rule in rules) > 1:
        raise PolicyError("Only one rule can select untagged images.")
    seen: set[tuple] = set()
    for rule in rules:
        if rule.tag_status == "tagged":
            key = (frozenset(rule.prefixes), frozenset(rule.patterns))
            if key in seen:
                raise PolicyError("The rules must each select a different set of tag "
                                  "prefixes or patterns.")
            seen.add(key)
    return rules


def _newest_first(image: Image):
    return (-image.pushed_at.timestamp(), image.digest)


def expired(rules: list[Rule], images: list[Image], now: datetime) -> list[tuple[Image, Rule]]:
    """The images the rules expire at `now`, each with the rule that expires it, oldest
    push first."""
    claimed: set[str] = set()
    found: dict[str, tuple[Image, Rule]] = {}
    for rule in sorted(rules, key=lambda rule: rule.priority):
        selected = sorted((image for image in images if rule.selects(image.tags)),
                          key=_newest_first)
        if rule.count_type == "imageCountMoreThan":
            candidates = selected[rule.count_number:]
        else:
            cutoff = now - timedelta(days=rule.count_number)
            candidates = [image for image in selected if image.pushed_at < cutoff]
        for image in candidates:
            if image.digest not in claimed and image.digest not in found:
                found[image.digest] = (image, rule)
        claimed.update(image.digest for image in selected)
    return sorted(found.values(), key=lambda pair: (pair[0].pushed_at, pair[0].digest))
