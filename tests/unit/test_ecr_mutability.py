"""ECR's image tag mutability: which pushes may move a tag."""

import pytest

from nozama.model import ecr_mutability as m

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def wildcard(*patterns):
    return [{"filterType": "WILDCARD", "filter": p} for p in patterns]


@pytest.mark.parametrize("pattern, tag, expected", [
    ("latest", "latest", True), ("latest", "latest2", False), ("dev-*", "dev-1", True),
    ("dev-*", "dev-", True), ("dev-*", "prod-1", False), ("*-rc", "1.0-rc", True),
    ("v*.*", "v1.2", True), ("v*.*", "v12", False), ("a.b", "axb", False), ("*", "x", True)])
def test_a_wildcard_matches_the_whole_tag(pattern, tag, expected):
    assert m.matches(pattern, tag) is expected


def test_a_mutable_repository_lets_any_tag_move():
    assert m.may_tag(m.MUTABLE, [], "v1", A, B)


def test_an_immutable_repository_keeps_a_tag_on_its_image():
    assert not m.may_tag(m.IMMUTABLE, [], "v1", A, B)
    assert m.may_tag(m.IMMUTABLE, [], "v1", A, A)      # the same image again
    assert m.may_tag(m.IMMUTABLE, [], "v1", None, B)   # a new tag


def test_exclusions_turn_the_rule_around_for_the_tags_they_match():
    filters = wildcard("latest", "dev-*")
    assert m.may_tag(m.IMMUTABLE_WITH_EXCLUSION, filters, "latest", A, B)
    assert m.may_tag(m.IMMUTABLE_WITH_EXCLUSION, filters, "dev-7", A, B)
    assert not m.may_tag(m.IMMUTABLE_WITH_EXCLUSION, filters, "v1", A, B)
    assert not m.may_tag(m.MUTABLE_WITH_EXCLUSION, filters, "latest", A, B)
    assert m.may_tag(m.MUTABLE_WITH_EXCLUSION, filters, "v1", A, B)


def test_the_refusal_is_ecrs_text():
    assert m.refusal("v1", "team/web") == (
        "The image tag 'v1' already exists in the 'team/web' repository and cannot be "
        "overwritten because the repository is immutable.")
