"""RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions(Families),
DeregisterTaskDefinition, DeleteTaskDefinitions."""

from __future__ import annotations

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from nozama.aws.iam import service_roles
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.model import arns
from nozama.model.task_definitions import normalize_task_definition
from nozama.aws.ecs import handlers
from nozama.aws.ecs.common import page_size, tags_from_request, tags_of
from nozama.store import tags as tag_store
from nozama.store import task_definitions as definition_store
from nozama.store.pagination import decode_token, page


def split_reference(ctx: RequestContext, reference: str) -> tuple[str, int | None]:
    """(family, revision) from "family", "family:revision" or an ARN."""
    text = reference
    if arns.is_arn(reference):
        parsed = arns.parse(reference)
        if parsed is None or parsed.resource_type != "task-definition":
            raise errors.ecs.ClientException(f"Invalid task definition ARN: {reference}")
        if parsed.region != ctx.region or parsed.account != ctx.account_id:
            raise errors.ecs.ClientException("Unable to describe task definition.")
        text = parsed.resource_path
    family, sep, revision = text.partition(":")
    if not family or len(family) > 255:
        raise errors.ecs.ClientException("Family must be 1 to 255 characters.")
    if sep and not (revision.isdigit() and 0 < int(revision) < 2 ** 31):
        raise errors.ecs.ClientException(f"Invalid revision number. Number: {revision}")
    return family, int(revision) if sep else None


def find(ctx: RequestContext, conn: Connection, reference: str) -> Row:
    family, revision = split_reference(ctx, reference)
    if revision is None:
        row = definition_store.latest_active(conn, ctx.region, ctx.account_id, family)
    else:
        row = definition_store.get(conn, ctx.region, ctx.account_id, family, revision)
    if row is None:
        raise errors.ecs.ClientException("Unable to describe task definition.")
    return row


def describe(row: Row) -> dict:
    return row.doc


def _check_roles(ctx: RequestContext, conn: Connection, body: dict) -> None:
    """The task's role and its execution role, when named, must be roles of the account
    that ecs-tasks.amazonaws.com may assume (ECS answers any other with the same
    words, whether malformed, of another account, missing or not trusting ECS)."""
    for key in ("taskRoleArn", "executionRoleArn"):
        if body.get(key) and not service_roles.assumable_by(
                conn, ctx.account_id, body[key], service_roles.ECS_TASKS, names=True):
            raise errors.ecs.ClientException("Role is not valid")
        if body.get(key):
            service_roles.check_pass_role(ctx, body[key], service_roles.ECS_TASKS, "ecs")


@handlers.operation("RegisterTaskDefinition")
def register_task_definition(ctx: RequestContext, params: dict) -> dict:
    body = normalize_task_definition(params)
    new_tags = tags_from_request(params.get("tags"))
    family = body["family"]
    for _ in range(3):  # a concurrent registration may take the revision first
        try:
            with ctx.store.write() as conn:
                _check_roles(ctx, conn, body)
                revision = definition_store.next_revision(conn, ctx.region, ctx.account_id, family)
                arn = arns.task_definition_arn(ctx.region, ctx.account_id, family, revision)
                now = ctx.clock.now()
                doc = {"taskDefinitionArn": arn, **body, "revision": revision,
                       "status": "ACTIVE", "registeredAt": now.timestamp(),
                       "registeredBy": f"arn:aws:iam::{ctx.account_id}:root"}
                definition_store.create(conn, ctx.region, ctx.account_id, family, revision, arn,
                                        now, doc)
                tag_store.put(conn, arn, new_tags)
                return {"taskDefinition": doc, "tags": tags_of(conn, arn)}
        except IntegrityError:
            continue
    raise errors.ecs.ClientException("Too many concurrent registrations of this family; try again.")


@handlers.operation("DescribeTaskDefinition")
def describe_task_definition(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        row = find(ctx, conn, params["taskDefinition"])
        result = {"taskDefinition": describe(row)}
        if "TAGS" in (params.get("include") or []):
            result["tags"] = tags_of(conn, row.arn)
    return result


@handlers.operation("ListTaskDefinitions")
def list_task_definitions(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params)
    descending = params.get("sort") == "DESC"
    listing = f"ListTaskDefinitions:{'DESC' if descending else 'ASC'}"
    after = decode_token(params.get("nextToken"), listing, str, int,
                         error=errors.ecs.InvalidParameterException)
    with ctx.store.read() as conn:
        rows = definition_store.list_arns(conn, ctx.region, ctx.account_id,
                                          params.get("status", "ACTIVE"),
                                          params.get("familyPrefix"), descending, after, limit + 1)
    items, token = page(rows, limit, listing, key=lambda r: [r.family, r.revision])
    return {"taskDefinitionArns": [r.arn for r in items], **({"nextToken": token} if token else {})}


@handlers.operation("ListTaskDefinitionFamilies")
def list_task_definition_families(ctx: RequestContext, params: dict) -> dict:
    limit = page_size(params)
    after = decode_token(params.get("nextToken"), "ListTaskDefinitionFamilies", str,
                         error=errors.ecs.InvalidParameterException)
    with ctx.store.read() as conn:
        names = definition_store.list_families(conn, ctx.region, ctx.account_id,
                                               params.get("status", "ALL"),
                                               params.get("familyPrefix"), after, limit + 1)
    items, token = page(names, limit, "ListTaskDefinitionFamilies", key=lambda name: name)
    return {"families": items, **({"nextToken": token} if token else {})}


@handlers.operation("DeregisterTaskDefinition")
def deregister_task_definition(ctx: RequestContext, params: dict) -> dict:
    family, revision = split_reference(ctx, params["taskDefinition"])
    if revision is None:
        raise errors.ecs.ClientException(
            "Revision must be specified: use family:revision or the full ARN.")
    with ctx.store.write() as conn:
        row = find(ctx, conn, params["taskDefinition"])
        doc = row.doc
        if row.status == "ACTIVE":
            doc = {**doc, "status": "INACTIVE", "deregisteredAt": ctx.clock.now().timestamp()}
            definition_store.set_status(conn, row.arn, "INACTIVE", doc)
    return {"taskDefinition": doc}


@handlers.operation("DeleteTaskDefinitions")
def delete_task_definitions(ctx: RequestContext, params: dict) -> dict:
    references = params["taskDefinitions"]
    if not 1 <= len(references) <= 10:
        raise errors.ecs.InvalidParameterException(
            "taskDefinitions must have between 1 and 10 items.")
    deleted, failures = [], []
    with ctx.store.write() as conn:
        for reference in references:
            try:
                family, revision = split_reference(ctx, reference)
                row = definition_store.get(conn, ctx.region, ctx.account_id, family, revision) \
                    if revision is not None else None
            except errors.ecs.ClientException:
                row = None
            if row is None:
                failures.append({"arn": reference, "reason": "The specified task definition "
                                 "does not exist. Specify a valid account, family, revision "
                                 "and try again."})
            elif row.status == "ACTIVE":
                failures.append({"arn": row.arn, "reason": "The specified task definition is "
                                 "still in ACTIVE status. Please deregister the target and "
                                 "try again."})
            else:
                doc = {**row.doc, "status": "DELETE_IN_PROGRESS",
                       "deleteRequestedAt": ctx.clock.now().timestamp()}
                definition_store.set_status(conn, row.arn, "DELETE_IN_PROGRESS", doc)
                deleted.append(doc)
    return {"taskDefinitions": deleted, "failures": failures}
