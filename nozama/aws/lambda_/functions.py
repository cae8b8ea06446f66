"""CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
UpdateFunctionCode, UpdateFunctionConfiguration and DeleteFunction.

A function row is its $LATEST: `doc` is the FunctionConfiguration exactly as
GetFunctionConfiguration returns it, which is what the worker pool runs. Every
change of $LATEST gets a new RevisionId and is announced through
functions.notify once committed, so that warm workers of stale code retire.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationException
from nozama.functions import code, images, notify
from nozama.aws.lambda_ import code_urls, handlers
from nozama.functions.lookup import (LATEST, find_function, function_arn, function_ref, listed,
                                     new_revision_id, timestamp, version_out)
from nozama.aws.lambda_.common import after_marker, function_of, listed_page, page_limit
from nozama.aws.lambda_.configuration import (check_image_request, check_role,
                                              check_unsupported, configured, is_image,
                                              new_configuration, package_of)
from nozama.aws.lambda_.tagging import checked_tags
from nozama.aws.lambda_.versions import publish
from nozama.store import functions as function_store
from nozama.store import tags as tag_store
from nozama.store.pagination import page
def _new_name(ctx: RequestContext, text: str) -> str:
    ref = function_ref(ctx, text)
    if ref.qualifier is not None:
        raise ValidationException(f"1 validation error detected: Value '{text}' at "
                                  "'functionName' failed to satisfy constraint: Member must not "
                                  "include a version or alias qualifier")
    if len(ref.name) > 64:
        raise errors.lambda_.InvalidParameterValueException(
            f"1 validation error detected: Value '{ref.name}' at "
            "'functionName' failed to satisfy constraint: Member must "
            "have length less than or equal to 64")
    return ref.name


# ------------------------------------------------------------------ handlers

@handlers.operation("CreateFunction")
def create_function(ctx: RequestContext, params: dict) -> dict:
    name = _new_name(ctx, params["FunctionName"])
    image_uri = None
    if is_image(params):
        image_uri = check_image_request(params)
        images.check(image_uri, ctx.region, ctx.account_id)
        package = None
        doc = new_configuration(ctx, name, params, None, "")
    else:
        package = package_of(params["Code"])
        doc = new_configuration(ctx, name, params, package)
    tags = checked_tags(params.get("Tags") or {})
    conflict = errors.lambda_.ResourceConflictException(f"Function already exist: {name}")
    try:
        with ctx.store.write() as conn:
            if function_store.get(conn, ctx.region, ctx.account_id, name) is not None:
                raise conflict
            check_role(ctx, conn, params.get("Role"))
            if image_uri is not None:
                # The tag is resolved now: the function runs this digest until its code
                # is updated, wherever the tag moves (as in Lambda).
                image = images.resolve(conn, image_uri, ctx.region, ctx.account_id)
                doc["CodeSha256"] = image.code_sha256
                digest, package = image.key, image.stored()
            else:
                digest = code.digest(package)
            function_store.put_code(conn, digest, package)
            function_store.create(conn, ctx.region, ctx.account_id, name, doc["FunctionArn"],
                                  digest, ctx.clock.now(), doc)
            tag_store.put(conn, doc["FunctionArn"], tags)
            result = doc
            if params.get("Publish"):
                version, _ = publish(ctx, conn, name)
                # Lambda answers with the version's configuration under the function's ARN.
                result = {**version_out(version.doc), "FunctionArn": doc["FunctionArn"]}
    except IntegrityError:
        # A concurrent CreateFunction of the same name won the race (PostgreSQL).
        raise conflict from None
    notify.function_changed(ctx, name)
    return result


def _not_found(ctx: RequestContext, name: str, qualifier: str | None) -> errors.ServiceError:
    return errors.lambda_.ResourceNotFoundException(
        f"Function not found: {function_arn(ctx, name, qualifier)}")


def _configuration(ctx: RequestContext, conn: Connection, function: Row,
                   qualifier: str | None) -> dict:
    """The FunctionConfiguration a qualifier selects, under the ARN it was asked by."""
    if qualifier is None:
        return function.doc
    arn = function_arn(ctx, function.name, qualifier)
    if qualifier == LATEST:
        return {**function.doc, "FunctionArn": arn}
    version = qualifier
    if not qualifier.isdigit():
        alias = function_store.get_alias(conn, function.id, qualifier)
        if alias is None:
            raise _not_found(ctx, function.name, qualifier)
        version = alias.doc["FunctionVersion"]
        if version == LATEST:
            return {**function.doc, "FunctionArn": arn}
    row = function_store.get_version(conn, function.id, int(version))
    if row is None:
        raise _not_found(ctx, function.name, qualifier)
    return {**version_out(row.doc), "FunctionArn": arn}


def _read_function(ctx: RequestContext, conn: Connection, params: dict) -> tuple[Row, dict]:
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    function = function_store.get(conn, ctx.region, ctx.account_id, ref.name)
    if function is None:
        raise _not_found(ctx, ref.name, ref.qualifier)
    return function, _configuration(ctx, conn, function, ref.qualifier)


@handlers.operation("GetFunctionConfiguration")
def get_function_configuration(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return _read_function(ctx, conn, params)[1]


def _package_digest(conn: Connection, function: Row, configuration: dict) -> str:
    """The store key of the package the configuration (of $LATEST or a version) runs."""
    version = configuration.get("Version", LATEST)
    if version == LATEST:
        return function.code_sha256
    return function_store.get_version(conn, function.id, int(version)).code_sha256


@handlers.operation("GetFunction")
def get_function(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        function, configuration = _read_function(ctx, conn, params)
        tags = tag_store.get(conn, function.arn)
        package = _package_digest(conn, function, configuration)
        image = images.loaded(function_store.get_code(conn, package)) \
            if configuration.get("PackageType") == "Image" else None
    if image is not None:
        code_location = {"RepositoryType": "ECR", "ImageUri": image.image_uri,
                         "ResolvedImageUri": image.resolved_image_uri}
    else:
        # Lambda's presigned S3 URL, here a signed URL of the server's own (10 minutes).
        code_location = {"RepositoryType": "S3", "Location": code_urls.location(
            ctx.store, ctx.clock, ctx.endpoint or "http://127.0.0.1", package)}
    result = {"Configuration": configuration, "Code": code_location}
    if tags:
        result["Tags"] = tags
    if function.reserved_concurrency is not None:
        result["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
    return result


def _every_version(ctx: RequestContext, conn: Connection, after: list | None,
                   limit: int) -> list[tuple[list, dict]]:
    """(key, configuration) of $LATEST and each version of each function, from `after` on."""
    items: list[tuple[list, dict]] = []

    def add(function: Row, after_number: int | None) -> None:
        if after_number is None:
            items.append(([function.name, 0], {**function.doc, "FunctionArn": function_arn(
                ctx, function.name, LATEST)}))
        for row in function_store.versions(conn, function.id, after_number, limit + 1 - len(items)):
            items.append(([function.name, row.version], version_out(row.doc)))

    if after is not None:
        current = function_store.get(conn, ctx.region, ctx.account_id, after[0])
        if current is not None:
            add(current, after[1])
    for function in function_store.search(conn, ctx.region, ctx.account_id,
                                          after[0] if after else None, limit + 1):
        if len(items) > limit:
            break
        add(function, None)
    return items


@handlers.operation("ListFunctions")
def list_functions(ctx: RequestContext, params: dict) -> dict:
    limit = page_limit(params)
    if params.get("MasterRegion"):
        return {"Functions": []}  # no Lambda@Edge replicas here
    every = params.get("FunctionVersion") == "ALL"
    after = after_marker(params, "ListFunctions/ALL", str, int) if every \
        else after_marker(params, "ListFunctions", str)
    with ctx.store.read() as conn:
        if every:
            items = _every_version(ctx, conn, after, limit)
        else:
            items = [(row.name, row.doc) for row in
                     function_store.search(conn, ctx.region, ctx.account_id, after, limit + 1)]
    items, token = page(items, limit, "ListFunctions/ALL" if every else "ListFunctions",
                        key=lambda item: item[0])
    return listed_page("Functions", [listed(doc) for _, doc in items], token)


@handlers.operation("UpdateFunctionCode")
def update_function_code(ctx: RequestContext, params: dict) -> dict:
    check_unsupported(params)
    with function_of(ctx, params, write=True, revision=True) as (conn, function):
        name = function.name
        if function.doc.get("PackageType") == "Image":
            image = _new_image(ctx, conn, params)
            digest, package = image.key, image.stored()
            size, sha = 0, image.code_sha256
        else:
            package = package_of(params, updating=True)
            digest, size, sha = code.digest(package), len(package), code.sha256(package)
        doc = {**function.doc, "CodeSize": size, "CodeSha256": sha,
               "LastModified": timestamp(ctx.clock.now()), "RevisionId": new_revision_id()}
        if params.get("Architectures"):
            doc["Architectures"] = params["Architectures"]
        if params.get("DryRun"):
            return doc
        function_store.put_code(conn, digest, package)
        function_store.update_latest(conn, function.id, doc, digest)
        function_store.drop_unused_code(conn, {function.code_sha256} - {digest})
        result = doc
        if params.get("Publish"):
            result = version_out(publish(ctx, conn, name)[0].doc)
    notify.function_changed(ctx, name)
    return result


def _new_image(ctx: RequestContext, conn: Connection, params: dict) -> images.FunctionImage:
    # Lambda asks for the ImageUri, whatever else (a ZipFile, an S3 object) came instead.
    if not params.get("ImageUri") or params.get("ZipFile") is not None \
            or params.get("S3Bucket") or params.get("S3Key"):
        raise errors.lambda_.InvalidParameterValueException(
            "Please provide ImageUri when updating a function with packageType Image.")
    return images.resolve(conn, params["ImageUri"], ctx.region, ctx.account_id)


@handlers.operation("UpdateFunctionConfiguration")
def update_function_configuration(ctx: RequestContext, params: dict) -> dict:
    with function_of(ctx, params, write=True, revision=True) as (conn, function):
        doc = configured(function.doc, params)
        if "Role" in params:
            check_role(ctx, conn, params["Role"])
        doc.update(LastModified=timestamp(ctx.clock.now()), RevisionId=new_revision_id())
        function_store.update_latest(conn, function.id, doc)
    notify.function_changed(ctx, function.name)
    return doc


def _delete_version(ctx: RequestContext, conn: Connection, function: Row, qualifier: str) -> None:
    if not qualifier.isdigit():
        raise errors.lambda_.InvalidParameterValueException(
            "Deletion of aliases is not currently supported.")
    version = function_store.get_version(conn, function.id, int(qualifier))
    if version is None:
        return  # already gone: Lambda answers a repeated delete with success
    users = function_store.aliases_of_version(conn, function.id, str(version.version))
    if users:
        raise errors.lambda_.ResourceConflictException(
            "Unable to delete version because the following aliases "
            f"reference it: [{', '.join(sorted(users))}]")
    function_store.delete_version(conn, function.id, version.version)
    function_store.drop_unused_code(conn, {version.code_sha256})


@handlers.operation("DeleteFunction")
def delete_function(ctx: RequestContext, params: dict) -> dict:
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    if ref.qualifier == LATEST:
        raise errors.lambda_.InvalidParameterValueException(
            "$LATEST version cannot be deleted without deleting the "
            "function.")
    with ctx.store.write() as conn:
        function = find_function(ctx, conn, ref.name)
        if ref.qualifier is not None:
            _delete_version(ctx, conn, function, ref.qualifier)
        else:
            packages = function_store.version_digests(conn, function.id) | {function.code_sha256}
            function_store.delete_function(conn, function.id)
            tag_store.remove_all(conn, function.arn)
            function_store.drop_unused_code(conn, packages)
    notify.function_changed(ctx, ref.name)
    # No StatusCode: the model's 200 (Lambda's 204 would need a response without a body).
    return {}
