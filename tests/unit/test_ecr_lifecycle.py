"""ECR lifecycle policies: validation as ECR's user guide states its rules, and which
images a policy expires (priorities, tag prefixes and patterns, counts and ages), under a
fake clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nozama.kernel.clock import FakeClock
from nozama.model.ecr_lifecycle import Image, PolicyError, expired, parse

DAY = 86_400


def policy(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)})


def rule(priority: int, status: str, count_type: str = "imageCountMoreThan", number: int = 1,
         **selection) -> dict:
    chosen = {"tagStatus": status, "countType": count_type, "countNumber": number, **selection}
    if count_type == "sinceImagePushed":
        chosen.setdefault("countUnit", "days")
    return {"rulePriority": priority, "selection": chosen, "action": {"type": "expire"}}


class Repository:
    """Images pushed one by one on a fake clock, a day apart unless told."""

    def __init__(self):
        self.clock = FakeClock()
        self.images: list[Image] = []

    def push(self, name: str, *tags: str, days_later: float = 1) -> None:
        self.clock.advance(days_later * DAY)
        self.images.append(Image(name, tuple(tags), self.clock.now()))

    def expire(self, text: str) -> list[str]:
        return [image.digest for image, _ in expired(parse(text), self.images,
                                                    self.clock.now())]


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("text, reason", [
    ("not json", "Could not map"),
    ("[]", "non-empty list of rules"),
    (json.dumps({"rules": []}), "non-empty list of rules"),
    (policy({"selection": {}, "action": {"type": "expire"}}), "no rulePriority"),
    (policy(rule(1, "tagged")), "needs a tagPrefixList or a tagPatternList"),
    (policy(rule(1, "tagged", tagPrefixList=["a"], tagPatternList=["a*"])), "cannot both"),
    (policy(rule(1, "untagged", tagPrefixList=["a"])), "only be used with tagStatus tagged"),
    (policy(rule(1, "any", tagPatternList=["a*"])), "only be used with tagStatus tagged"),
    (policy(rule(1, "tagged", tagPatternList=["a*b*c*d*e*"])), "more than 4 wildcards"),
    (policy(rule(1, "tagged", tagPrefixList=[])), "non-empty list"),
    (policy(rule(1, "sometimes")), "tagStatus must be"),
    (policy(rule(1, "any", count_type="sinceImagePulled")), "countType must be"),
    (policy(rule(1, "any", count_type="sinceImagePushed", countUnit="hours")),
     "countUnit must be days"),
    (policy(rule(1, "any", countUnit="days")), "countUnit cannot be used"),
    (policy(rule(1, "any", number=0)), "countNumber must be at least 1"),
    (policy(rule(1, "any", number="3")), "countNumber must be an integer"),
    (policy({**rule(1, "any"), "action": {"type": "delete"}}), "action.type must be expire"),
    (policy(rule(0, "any")), "rulePriority must be at least 1"),
    (policy(rule(1, "untagged"), rule(1, "tagged", tagPrefixList=["v"])), "unique"),
    (policy(rule(1, "any"), rule(2, "untagged")), "highest rulePriority"),
    (policy(rule(1, "untagged"), rule(2, "untagged", number=5)), "Only one rule"),
    (policy(rule(1, "tagged", tagPrefixList=["a", "b"]),
            rule(2, "tagged", tagPrefixList=["b", "a"])), "different set"),
])
def test_invalid_policies_are_refused_with_a_reason(text, reason):
    with pytest.raises(PolicyError, match=reason):
        parse(text)


def test_a_valid_policy_parses_in_priority_order():
    rules = parse(policy(rule(10, "any", number=30),
                         rule(2, "tagged", "sinceImagePushed", 14, tagPatternList=["prod*"]),
                         rule(1, "untagged", "sinceImagePushed", 1)))
    assert [r.priority for r in rules] == [1, 2, 10]
    assert rules[1].patterns == ("prod*",) and rules[1].count_number == 14


# ---------------------------------------------------------------- selection

def test_image_count_keeps_the_newest():
    repo = Repository()
    for i in range(5):
        repo.push(f"d{i}", f"v{i}")
    assert repo.expire(policy(rule(1, "any", number=2))) == ["d0", "d1", "d2"]
    assert repo.expire(policy(rule(1, "any", number=5))) == []


def test_since_image_pushed_expires_by_age():
    repo = Repository()
    repo.push("old", "a")
    repo.push("middle", days_later=10)
    repo.push("new", "b", days_later=10)
    text = policy(rule(1, "any", "sinceImagePushed", 15))
    assert repo.expire(text) == ["old"]
    repo.clock.advance(6 * DAY)   # "middle" is now 16 days old
    assert repo.expire(text) == ["old", "middle"]


def test_untagged_rules_see_untagged_images_only():
    repo = Repository()
    repo.push("tagged-old", "v1")
    repo.push("untagged-1")
    repo.push("untagged-2")
    repo.push("untagged-3")
    assert repo.expire(policy(rule(1, "untagged", number=1))) == ["untagged-1", "untagged-2"]


def test_tag_prefixes_must_all_match_some_tag():
    repo = Repository()
    repo.push("alpha-only", "alpha-1")
    repo.push("both", "alpha-2", "beta-2")
    repo.push("both-newer", "beta-3", "alpha-3")
    repo.push("neither", "gamma")
    text = policy(rule(1, "tagged", number=1, tagPrefixList=["alpha", "beta"]))
    assert repo.expire(text) == ["both"]
    assert repo.expire(policy(rule(1, "tagged", number=1, tagPrefixList=["alpha"]))) == \
        ["alpha-only", "both"]


def test_tag_patterns_use_wildcards():
    repo = Repository()
    repo.push("a", "prod-1.0-final")
    repo.push("b", "prod-2.0")
    repo.push("c", "staging-prod")
    repo.push("d", "prod-3.0-final")
    text = policy(rule(1, "tagged", number=1, tagPatternList=["prod*final"]))
    assert repo.expire(text) == ["a"]
    assert repo.expire(policy(rule(1, "tagged", number=1, tagPatternList=["*prod*"]))) == \
        ["a", "b", "c"]
    # A pattern without a wildcard is the whole tag.
    assert repo.expire(policy(rule(1, "tagged", "sinceImagePushed", 1,
                                   tagPatternList=["prod-2.0"]))) == ["b"]


def test_a_higher_rule_shields_what_it_selects_but_lower_rules_still_count_it():
    repo = Repository()
    repo.push("p1", "prod-1")
    repo.push("p2", "prod-2")
    repo.push("t1", "test-1")
    repo.push("p3", "prod-3")
    repo.push("t2", "test-2")
    # Rule 1 keeps every prod image (only those older than 100 days go: none). Rule 2 keeps
    # the two newest of everything: it counts p3 and t2, and would expire p1, p2, t1, but
    # the prod images are rule 1's, so only t1 goes.
    text = policy(rule(1, "tagged", "sinceImagePushed", 100, tagPrefixList=["prod"]),
                  rule(2, "any", number=2))
    assert repo.expire(text) == ["t1"]


def test_an_image_is_expired_by_one_rule_the_first_that_selects_it():
    repo = Repository()
    repo.push("old", "v1")
    repo.push("new", "v2")
    rules = parse(policy(rule(1, "tagged", number=1, tagPrefixList=["v"]),
                         rule(2, "any", "sinceImagePushed", 1)))
    found = expired(rules, repo.images, repo.clock.now() + timedelta(days=5))
    assert [(image.digest, r.priority) for image, r in found] == [("old", 1)]


def test_time_moves_images_into_expiry():
    repo = Repository()
    repo.push("a", "v1")
    text = policy(rule(1, "tagged", "sinceImagePushed", 3, tagPrefixList=["v"]))
    assert repo.expire(text) == []
    repo.clock.advance(3 * DAY - 1)
    assert repo.expire(text) == []
    repo.clock.advance(2)
    assert repo.expire(text) == ["a"]
