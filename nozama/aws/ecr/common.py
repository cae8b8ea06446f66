"""What the ECR operations share: finding a repository, describing it, ECR's messages."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, Row

from nozama.aws import tagging
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import ecr_names
from nozama.store import ecr_repositories as repository_store

# ECR's answer to a repository name outside its pattern (the text its clients show).
NAME_CONSTRAINT = ("Invalid parameter at 'repositoryName' failed to satisfy constraint: "
                   "'must satisfy regular expression '" + ecr_names.REPOSITORY_NAME.pattern
                   + "''")


def validation_message(summary: str) -> str:
    """The text of ECR's InvalidParameterException for a request that breaks its model's
    constraints: a repository name outside the pattern gets ECR's own sentence, which
    tools match; anything else the summary of what broke."""
    if "at 'repositoryName'" in summary and "regular expression" in summary:
        return NAME_CONSTRAINT
    return summary


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives them back naive)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def registry_id(ctx: RequestContext, params: dict) -> str:
    return params.get("registryId") or ctx.account_id


def not_found(name: str, registry: str) -> errors.ServiceError:
    return errors.ecr.RepositoryNotFoundException(
        f"The repository with name '{name}' does not exist in the registry with id "
        f"'{registry}'")


def check_name(name: str) -> None:
    if not ecr_names.valid_repository_name(name):
        raise errors.ecr.InvalidParameterException(NAME_CONSTRAINT)


def find_repository(ctx: RequestContext, conn: Connection, params: dict,
                    name: str | None = None) -> Row:
    """The repository the request names (repositoryName, in registryId's registry: only
    the caller's own account's registry exists here)."""
    name = params["repositoryName"] if name is None else name
    registry = registry_id(ctx, params)
    row = repository_store.get(conn, ctx.region, ctx.account_id, name) \
        if registry == ctx.account_id else None
    if row is None:
        raise not_found(name, registry)
    return row


def describe_repository(row: Row) -> dict:
    doc = row.doc or {}
    found = {
        "repositoryArn": row.arn,
        "registryId": row.account,
        "repositoryName": row.name,
        "repositoryUri": ecr_names.repository_uri(row.account, row.region, row.name),
        "createdAt": utc(row.created_at),
        "imageTagMutability": row.image_tag_mutability,
        "imageScanningConfiguration": doc.get("imageScanningConfiguration",
                                              {"scanOnPush": False}),
        "encryptionConfiguration": doc.get("encryptionConfiguration",
                                           {"encryptionType": "AES256"}),
    }
    if doc.get("imageTagMutabilityExclusionFilters"):
        found["imageTagMutabilityExclusionFilters"] = doc["imageTagMutabilityExclusionFilters"]
    return found


MUTABILITIES_WITH_EXCLUSION = ("IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")


def check_mutability(mutability: str, filters: list[dict] | None) -> list[dict]:
    """The exclusion filters that go with `mutability`: required by the *_WITH_EXCLUSION
    settings (they name the tags the setting does not apply to), refused with the others."""
    if mutability in MUTABILITIES_WITH_EXCLUSION:
        if not filters:
            raise errors.ecr.InvalidParameterException(
                f"imageTagMutabilityExclusionFilters must be specified when "
                f"imageTagMutability is {mutability}.")
        seen = set()
        for item in filters:
            if item["filter"] in seen:
                raise errors.ecr.InvalidParameterException(
                    f"Duplicate imageTagMutabilityExclusionFilter '{item['filter']}'.")
            seen.add(item["filter"])
        return [{"filterType": item["filterType"], "filter": item["filter"]}
                for item in filters]
    if filters:
        raise errors.ecr.InvalidParameterException(
            "imageTagMutabilityExclusionFilters can only be specified when imageTagMutability "
            "is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.")
    return []


def check_tags(pairs: list[dict] | None) -> dict[str, str]:
    """A request's tags, as a dict; keys beginning with aws: are AWS's own."""
    tags = tagging.from_pairs(pairs or [])
    for key in tags:
        if tagging.reserved(key):
            raise errors.ecr.InvalidTagParameterException(
                "Invalid parameter at 'tags' failed to satisfy constraint: 'Tag keys that "
                "begin with aws: are reserved for AWS use'")
    if len(tags) > tagging.MAX_TAGS:
        raise too_many_tags()
    return tags


def too_many_tags() -> errors.ServiceError:
    return errors.ecr.TooManyTagsException(
        f"A repository can have at most {tagging.MAX_TAGS} tags.")
