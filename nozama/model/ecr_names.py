"""ECR's names: repository names and image tags as ECR checks them, a repository's ARN
and URI, and the name the registry (Docker Distribution) knows it by.

A repository `NAME` in region `R` is `R/NAME` in the registry, so that two regions' repositories
of one name stay apart in the one registry, as regions are isolated everywhere else."""

from __future__ import annotations

import re

REPOSITORY_NAME = re.compile(
    r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
# Docker's reference grammar for a tag (ECR allows up to 300 characters).
IMAGE_TAG = re.compile(r"[\w][\w.-]{0,299}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def valid_repository_name(name: str) -> bool:
    return 2 <= len(name) <= 256 and REPOSITORY_NAME.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return IMAGE_TAG.fullmatch(tag) is not None


def valid_digest(digest: str) -> bool:
    return DIGEST.fullmatch(digest) is not None


def repository_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def repository_uri(account: str, region: str, name: str) -> str:
    return f"{registry_host(account, region)}/{name}"


def registry_name(region: str, name: str) -> str:
    """The repository's name in Docker Distribution."""
    return f"{region}/{name}"


def split_registry_name(registry_name: str) -> tuple[str, str] | None:
    """(region, name) of a Distribution name, or None for a name Nozama did not give."""
    region, _, name = registry_name.partition("/")
    if not region or not valid_repository_name(name):
        return None
    return region, name
