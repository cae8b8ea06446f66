"""CreateRepository, DescribeRepositories, DeleteRepository, PutImageTagMutability."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from nozama.aws.ecr import handlers
from nozama.aws.ecr.common import (check_mutability, check_name, check_tags,
                                   describe_repository, find_repository, registry_id)
from nozama.controllers import ecr_images
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import ecr_names
from nozama.store import ecr_images as image_store
from nozama.store import ecr_repositories as repository_store
from nozama.store import tags as tag_store
from nozama.store.pagination import decode_token, page

# DescribeRepositories answers up to this many without maxResults (ECR's API reference).
DEFAULT_MAX_RESULTS = 100


def _already_exists(name: str, registry: str) -> errors.ServiceError:
    return errors.ecr.RepositoryAlreadyExistsException(
        f"The repository with name '{name}' already exists in the registry with id "
        f"'{registry}'")


def _encryption(params: dict) -> dict:
    given = params.get("encryptionConfiguration") or {"encryptionType": "AES256"}
    kind = given["encryptionType"]
    if kind == "AES256" and given.get("kmsKey"):
        raise errors.ecr.InvalidParameterException(
            "Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: "
            "'kmsKey can only be specified when encryptionType is KMS or KMS_DSSE'")
    return {"encryptionType": kind, **({"kmsKey": given["kmsKey"]} if given.get("kmsKey")
                                       else {})}


@handlers.operation("CreateRepository")
def create_repository(ctx: RequestContext, params: dict) -> dict:
    name = params["repositoryName"]
    check_name(name)
    registry = registry_id(ctx, params)
    if registry != ctx.account_id:
        raise errors.ecr.InvalidParameterException(
            f"Invalid parameter at 'registryId': a repository can only be created in the "
            f"caller's own registry ('{ctx.account_id}').")
    mutability = params.get("imageTagMutability") or "MUTABLE"
    filters = check_mutability(mutability, params.get("imageTagMutabilityExclusionFilters"))
    tags = check_tags(params.get("tags"))
    doc = {"imageScanningConfiguration": {"scanOnPush": bool(
               (params.get("imageScanningConfiguration") or {}).get("scanOnPush", False))},
           "encryptionConfiguration": _encryption(params)}
    if filters:
        doc["imageTagMutabilityExclusionFilters"] = filters
    arn = ecr_names.repository_arn(ctx.region, ctx.account_id, name)
    try:
        with ctx.store.write() as conn:
            if repository_store.get(conn, ctx.region, ctx.account_id, name) is not None:
                raise _already_exists(name, registry)
            repository_id = repository_store.create(conn, ctx.region, ctx.account_id, name,
                                                    arn, ctx.clock.now(), mutability, doc)
            tag_store.put(conn, arn, tags)
            row = repository_store.get_by_id(conn, repository_id)
    except IntegrityError:
        # A concurrent CreateRepository of the same name won the race (PostgreSQL).
        raise _already_exists(name, registry) from None
    return {"repository": describe_repository(row)}


@handlers.operation("DescribeRepositories")
def describe_repositories(ctx: RequestContext, params: dict) -> dict:
    names = params.get("repositoryNames")
    if names is not None and (params.get("maxResults") or params.get("nextToken")):
        raise errors.ecr.InvalidParameterException(
            "maxResults and nextToken cannot be used when repositoryNames is specified.")
    with ctx.store.read() as conn:
        if names is not None:
            rows = [find_repository(ctx, conn, params, name) for name in names]
            return {"repositories": [describe_repository(row) for row in rows]}
        if registry_id(ctx, params) != ctx.account_id:
            return {"repositories": []}
        limit = params.get("maxResults") or DEFAULT_MAX_RESULTS
        after = decode_token(params.get("nextToken"), "DescribeRepositories", str,
                             error=errors.ecr.InvalidParameterException)
        found = repository_store.listing(conn, ctx.region, ctx.account_id, after, limit + 1)
    rows, token = page(found, limit, "DescribeRepositories", key=lambda row: row.name)
    return {"repositories": [describe_repository(row) for row in rows],
            **({"nextToken": token} if token else {})}


@handlers.operation("DeleteRepository")
def delete_repository(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = find_repository(ctx, conn, params)
        if image_store.has_images(conn, row.id):
            if not params.get("force"):
                raise errors.ecr.RepositoryNotEmptyException(
                    f"The repository with name '{row.name}' in registry with id "
                    f"'{row.account}' cannot be deleted because it still contains images")
            ecr_images.delete_all(conn, row, ctx.clock.now())
        repository_store.delete(conn, row.id)
        tag_store.remove_all(conn, row.arn)
    return {"repository": describe_repository(row)}


@handlers.operation("PutImageTagMutability")
def put_image_tag_mutability(ctx: RequestContext, params: dict) -> dict:
    mutability = params["imageTagMutability"]
    filters = check_mutability(mutability, params.get("imageTagMutabilityExclusionFilters"))
    with ctx.store.write() as conn:
        row = find_repository(ctx, conn, params)
        doc = {key: value for key, value in (row.doc or {}).items()
               if key != "imageTagMutabilityExclusionFilters"}
        if filters:
            doc["imageTagMutabilityExclusionFilters"] = filters
        repository_store.set_mutability(conn, row.id, mutability, doc)
    answer = {"registryId": row.account, "repositoryName": row.name,
              "imageTagMutability": mutability}
    if filters:
        answer["imageTagMutabilityExclusionFilters"] = filters
    return answer
