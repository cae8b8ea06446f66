"""PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy, and the previews
(StartLifecyclePolicyPreview, GetLifecyclePolicyPreview), which Nozama answers at once:
a preview is the same evaluation the controller runs (controllers/ecr_lifecycle.py),
without deleting."""

from __future__ import annotations

from sqlalchemy import Row

from nozama.aws.ecr import handlers
from nozama.aws.ecr.common import find_repository, utc
from nozama.controllers import ecr_lifecycle as lifecycle_controller
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import ecr_lifecycle
from nozama.store import ecr_repositories as repository_store

PREVIEW = "lifecyclePolicyPreview"     # the repository doc's key of the last preview asked


def _rules(text: str) -> list[ecr_lifecycle.Rule]:
    try:
        return ecr_lifecycle.parse(text)
    except ecr_lifecycle.PolicyError as error:
        raise errors.ecr.InvalidParameterException(
            f"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
            f"'Lifecycle policy validation failure: {error}'") from None


def _no_policy(repository: Row) -> errors.ServiceError:
    return errors.ecr.LifecyclePolicyNotFoundException(
        f"Lifecycle policy does not exist for the repository with name '{repository.name}' "
        f"in the registry with id '{repository.account}'")


def _answer(repository: Row, text: str, evaluated=None) -> dict:
    found = {"registryId": repository.account, "repositoryName": repository.name,
             "lifecyclePolicyText": text}
    if evaluated is not None:
        found["lastEvaluatedAt"] = utc(evaluated)
    return found


@handlers.operation("PutLifecyclePolicy")
def put_lifecycle_policy(ctx: RequestContext, params: dict) -> dict:
    text = params["lifecyclePolicyText"]
    with ctx.store.write() as conn:
        repository = find_repository(ctx, conn, params)
        _rules(text)
        repository_store.set_lifecycle_policy(conn, repository.id, text)
    lifecycle_controller.wake_lifecycle(ctx.wakeups)
    return _answer(repository, text)


@handlers.operation("GetLifecyclePolicy")
def get_lifecycle_policy(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        repository = find_repository(ctx, conn, params)
    if repository.lifecycle_policy is None:
        raise _no_policy(repository)
    return _answer(repository, repository.lifecycle_policy, repository.lifecycle_evaluated_at)


@handlers.operation("DeleteLifecyclePolicy")
def delete_lifecycle_policy(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        repository = find_repository(ctx, conn, params)
        if repository.lifecycle_policy is None:
            raise _no_policy(repository)
        repository_store.set_lifecycle_policy(conn, repository.id, None)
    return _answer(repository, repository.lifecycle_policy, repository.lifecycle_evaluated_at)


@handlers.operation("StartLifecyclePolicyPreview")
def start_lifecycle_policy_preview(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        repository = find_repository(ctx, conn, params)
        text = params.get("lifecyclePolicyText") or repository.lifecycle_policy
        if text is None:
            raise _no_policy(repository)
        _rules(text)
        repository_store.set_doc(conn, repository.id, {**(repository.doc or {}), PREVIEW: text})
    return {**_answer(repository, text), "status": "COMPLETE"}


@handlers.operation("GetLifecyclePolicyPreview")
def get_lifecycle_policy_preview(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        repository = find_repository(ctx, conn, params)
        text = (repository.doc or {}).get(PREVIEW)
        if text is None:
            raise errors.ecr.LifecyclePolicyPreviewNotFoundException(
                f"There is no lifecycle policy preview for the repository with name "
                f"'{repository.name}' in the registry with id '{repository.account}'")
        images = lifecycle_controller.images_of(conn, repository)
    expired = ecr_lifecycle.expired(_rules(text), images, ctx.clock.now())
    results = [{"imageDigest": image.digest, "imagePushedAt": image.pushed_at,
                "action": {"type": "EXPIRE"}, "appliedRulePriority": rule.priority,
                **({"imageTags": list(image.tags)} if image.tags else {})}
               for image, rule in expired]
    return {**_answer(repository, text), "status": "COMPLETE", "previewResults": results,
            "summary": {"expiringImageTotalCount": len(results)}}
