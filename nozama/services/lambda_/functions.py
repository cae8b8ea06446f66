"""CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
UpdateFunctionCode, UpdateFunctionConfiguration and DeleteFunction.

A function row is its $LATEST: `doc` is the FunctionConfiguration exactly as
GetFunctionConfiguration returns it, which is what the worker pool runs. Every
change of $LATEST gets a new RevisionId and is announced through
functions.notify once committed, so that warm workers of stale code retire.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from nozama.api.context import RequestContext
from nozama.api.errors import ValidationException
from nozama.functions import code, notify, runtimes
from nozama.services.lambda_ import handlers
from nozama.services.lambda_.common import (LATEST, InvalidParameterValue, ResourceConflict,
                                            ResourceNotFound, check_revision, find_function,
                                            function_arn, function_ref, listed, new_revision_id,
                                            timestamp, version_out)
from nozama.services.lambda_.tagging import checked_tags
from nozama.services.lambda_.versions import publish
from nozama.store import functions as store
from nozama.store import tags as tag_store
from nozama.store.pagination import decode_token, page

MAX_ITEMS = 50          # ListFunctions answers at most 50 a page, whatever MaxItems says
MAX_TIMEOUT = 900
MAX_MEMORY = 10240
MAX_ENVIRONMENT = 4096  # bytes of the variables as JSON, as Lambda measures them
RESERVED_VARIABLES = frozenset((
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"))


# ------------------------------------------------------------ checking input

def _package(source: dict) -> bytes:
    """The deployment package a Code (or UpdateFunctionCode) request carries, checked."""
    if source.get("ImageUri"):
        raise InvalidParameterValue("Nozama runs .zip deployment packages only: container "
                                    "images (ImageUri) are not supported.")
    if source.get("S3Bucket") or source.get("S3Key") or source.get("S3ObjectVersion"):
        raise InvalidParameterValue("Nozama has no S3: send the deployment package as ZipFile.")
    package = source.get("ZipFile")
    if package is None:
        raise InvalidParameterValue("Please provide a source for function code (ZipFile).")
    try:
        code.check(package)
    except code.BadPackage as error:
        raise InvalidParameterValue(str(error)) from None
    return package


def _check_runtime(runtime: str) -> None:
    if not runtimes.supported(runtime):
        known = runtimes.PYTHON_RUNTIMES
        raise InvalidParameterValue(
            f"The runtime parameter of {runtime} is not supported by Nozama; it runs "
            f"{', '.join(known[:-1])} and {known[-1]}.")
    if runtimes.interpreter(runtime) is None:
        raise InvalidParameterValue(
            f"The runtime {runtime} is not installed on this host: Nozama needs a {runtime} "
            "interpreter with awslambdaric on the PATH to run it.")


def _check_unsupported(params: dict) -> None:
    """Refuse settings Nozama cannot honour, rather than store them and ignore them.

    Empty values pass: tools such as Terraform send an empty VpcConfig or KMSKeyArn.
    """
    vpc = params.get("VpcConfig") or {}
    refused = {
        "Layers": params.get("Layers"),
        "FileSystemConfigs": params.get("FileSystemConfigs"),
        "VpcConfig": vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"),
        "DeadLetterConfig": (params.get("DeadLetterConfig") or {}).get("TargetArn"),
        "KMSKeyArn": params.get("KMSKeyArn"),
        "ImageConfig": params.get("ImageConfig"),
        "SnapStart": (params.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions",
        "CodeSigningConfigArn": params.get("CodeSigningConfigArn"),
        "CapacityProviderConfig": params.get("CapacityProviderConfig"),
        "DurableConfig": params.get("DurableConfig"),
        "TenancyConfig": params.get("TenancyConfig"),
        "PublishTo": params.get("PublishTo"),
        "SourceKMSKeyArn": params.get("SourceKMSKeyArn"),
    }
    for name, value in refused.items():
        if value:
            raise InvalidParameterValue(f"{name} is not supported by Nozama.")


def _check_environment(variables: dict[str, str]) -> None:
    reserved = sorted(RESERVED_VARIABLES & set(variables))
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            f"supported for modification. Reserved keys used in this request: "
            f"{', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured)


def _check_range(params: dict) -> None:
    # The model allows more than Lambda does; Lambda answers these as validation errors.
    if params.get("Timeout", 0) > MAX_TIMEOUT:
        raise ValidationException(f"1 validation error detected: Value '{params['Timeout']}' at "
                                  "'timeout' failed to satisfy constraint: Member must have "
                                  f"value less than or equal to {MAX_TIMEOUT}")
    if params.get("MemorySize", 0) > MAX_MEMORY:
        raise ValidationException(f"1 validation error detected: Value '{params['MemorySize']}' "
                                  "at 'memorySize' failed to satisfy constraint: Member must "
                                  f"have value less than or equal to {MAX_MEMORY}")


# ------------------------------------------------------------- configuration

def _logging(current: dict, requested: dict | None) -> dict:
    if not requested:
        return current
    merged = {**current, **requested}
    if merged.get("LogFormat") == "JSON":
        # Switching to JSON turns on log levels, INFO unless given.
        merged = {"ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **merged}
    else:
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
    return merged


def _configured(doc: dict, params: dict) -> dict:
    """`doc` with the settings CreateFunction or UpdateFunctionConfiguration give."""
    _check_unsupported(params)
    _check_range(params)
    if "Runtime" in params:
        _check_runtime(params["Runtime"])
    doc = dict(doc)
    for key in ("Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize",
                "Architectures"):
        if key in params:
            doc[key] = params[key]
    if "Environment" in params:
        variables = params["Environment"].get("Variables") or {}
        _check_environment(variables)
        doc.pop("Environment", None)
        if variables:
            doc["Environment"] = {"Variables": variables}
    if (params.get("TracingConfig") or {}).get("Mode"):
        doc["TracingConfig"] = {"Mode": params["TracingConfig"]["Mode"]}
    if "EphemeralStorage" in params:
        doc["EphemeralStorage"] = {"Size": params["EphemeralStorage"]["Size"]}
    doc["LoggingConfig"] = _logging(doc["LoggingConfig"], params.get("LoggingConfig"))
    return doc


def _new_configuration(ctx: RequestContext, name: str, params: dict, package: bytes) -> dict:
    if params.get("PackageType", "Zip") != "Zip":
        raise InvalidParameterValue("Nozama runs .zip deployment packages only "
                                    "(PackageType Zip).")
    if not params.get("Runtime") or not params.get("Handler"):
        raise InvalidParameterValue("Runtime and Handler are mandatory parameters for functions "
                                    "created with deployment packages.")
    doc = {
        "FunctionName": name, "FunctionArn": function_arn(ctx, name), "Runtime": None,
        "Role": None, "Handler": None, "CodeSize": len(package), "Description": "",
        "Timeout": 3, "MemorySize": 128, "LastModified": timestamp(ctx.clock.now()),
        "CodeSha256": code.sha256(package), "Version": LATEST, "RevisionId": new_revision_id(),
        "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Zip",
        "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    return _configured(doc, params)


def _new_name(ctx: RequestContext, text: str) -> str:
    ref = function_ref(ctx, text)
    if ref.qualifier is not None:
        raise ValidationException(f"1 validation error detected: Value '{text}' at "
                                  "'functionName' failed to satisfy constraint: Member must not "
                                  "include a version or alias qualifier")
    if len(ref.name) > 64:
        raise InvalidParameterValue(f"1 validation error detected: Value '{ref.name}' at "
                                    "'functionName' failed to satisfy constraint: Member must "
                                    "have length less than or equal to 64")
    return ref.name


# ------------------------------------------------------------------ handlers

@handlers.operation("CreateFunction")
def create_function(ctx: RequestContext, params: dict) -> dict:
    name = _new_name(ctx, params["FunctionName"])
    package = _package(params["Code"])
    doc = _new_configuration(ctx, name, params, package)
    tags = checked_tags(params.get("Tags") or {})
    conflict = ResourceConflict(f"Function already exist: {name}")
    try:
        with ctx.store.write() as conn:
            if store.get(conn, ctx.region, ctx.account_id, name) is not None:
                raise conflict
            digest = code.digest(package)
            store.put_code(conn, digest, package)
            store.create(conn, ctx.region, ctx.account_id, name, doc["FunctionArn"], digest,
                         ctx.clock.now(), doc)
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


def _not_found(ctx: RequestContext, name: str, qualifier: str | None) -> ResourceNotFound:
    return ResourceNotFound(f"Function not found: {function_arn(ctx, name, qualifier)}")


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
        alias = store.get_alias(conn, function.id, qualifier)
        if alias is None:
            raise _not_found(ctx, function.name, qualifier)
        version = alias.doc["FunctionVersion"]
        if version == LATEST:
            return {**function.doc, "FunctionArn": arn}
    row = store.get_version(conn, function.id, int(version))
    if row is None:
        raise _not_found(ctx, function.name, qualifier)
    return {**version_out(row.doc), "FunctionArn": arn}


def _read_function(ctx: RequestContext, conn: Connection, params: dict) -> tuple[Row, dict]:
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    function = store.get(conn, ctx.region, ctx.account_id, ref.name)
    if function is None:
        raise _not_found(ctx, ref.name, ref.qualifier)
    return function, _configuration(ctx, conn, function, ref.qualifier)


@handlers.operation("GetFunctionConfiguration")
def get_function_configuration(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        return _read_function(ctx, conn, params)[1]


@handlers.operation("GetFunction")
def get_function(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        function, configuration = _read_function(ctx, conn, params)
        tags = tag_store.get(conn, function.arn)
    # The package stays in Nozama's store: there is no S3 location to download it from.
    result = {"Configuration": configuration, "Code": {"RepositoryType": "S3"}}
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
        for row in store.versions(conn, function.id, after_number, limit + 1 - len(items)):
            items.append(([function.name, row.version], version_out(row.doc)))

    if after is not None:
        current = store.get(conn, ctx.region, ctx.account_id, after[0])
        if current is not None:
            add(current, after[1])
    for function in store.search(conn, ctx.region, ctx.account_id,
                                 after[0] if after else None, limit + 1):
        if len(items) > limit:
            break
        add(function, None)
    return items


@handlers.operation("ListFunctions")
def list_functions(ctx: RequestContext, params: dict) -> dict:
    limit = min(params.get("MaxItems") or MAX_ITEMS, MAX_ITEMS)
    if params.get("MasterRegion"):
        return {"Functions": []}  # no Lambda@Edge replicas here
    every = params.get("FunctionVersion") == "ALL"
    marker = params.get("Marker")
    if every:
        after = decode_token(marker, "ListFunctions/ALL", str, int,
                             code="InvalidParameterValueException")
    else:
        after = decode_token(marker, "ListFunctions", str, code="InvalidParameterValueException")
    with ctx.store.read() as conn:
        if every:
            items = _every_version(ctx, conn, after, limit)
        else:
            items = [(row.name, row.doc) for row in
                     store.search(conn, ctx.region, ctx.account_id, after, limit + 1)]
    items, token = page(items, limit, "ListFunctions/ALL" if every else "ListFunctions",
                        key=lambda item: item[0])
    result = {"Functions": [listed(doc) for _, doc in items]}
    if token:
        result["NextMarker"] = token
    return result


@handlers.operation("UpdateFunctionCode")
def update_function_code(ctx: RequestContext, params: dict) -> dict:
    name = function_ref(ctx, params["FunctionName"]).name
    _check_unsupported(params)
    package = _package(params)
    digest = code.digest(package)
    with ctx.store.write() as conn:
        function = find_function(ctx, conn, name)
        check_revision(params.get("RevisionId"), function.doc["RevisionId"])
        doc = {**function.doc, "CodeSize": len(package), "CodeSha256": code.sha256(package),
               "LastModified": timestamp(ctx.clock.now()), "RevisionId": new_revision_id()}
        if params.get("Architectures"):
            doc["Architectures"] = params["Architectures"]
        if params.get("DryRun"):
            return doc
        store.put_code(conn, digest, package)
        store.update_latest(conn, function.id, doc, digest)
        store.drop_unused_code(conn, {function.code_sha256} - {digest})
        result = doc
        if params.get("Publish"):
            result = version_out(publish(ctx, conn, name)[0].doc)
    notify.function_changed(ctx, name)
    return result


@handlers.operation("UpdateFunctionConfiguration")
def update_function_configuration(ctx: RequestContext, params: dict) -> dict:
    name = function_ref(ctx, params["FunctionName"]).name
    with ctx.store.write() as conn:
        function = find_function(ctx, conn, name)
        check_revision(params.get("RevisionId"), function.doc["RevisionId"])
        doc = _configured(function.doc, params)
        doc.update(LastModified=timestamp(ctx.clock.now()), RevisionId=new_revision_id())
        store.update_latest(conn, function.id, doc)
    notify.function_changed(ctx, name)
    return doc


def _delete_version(ctx: RequestContext, conn: Connection, function: Row, qualifier: str) -> None:
    if not qualifier.isdigit():
        raise InvalidParameterValue("Deletion of aliases is not currently supported.")
    version = store.get_version(conn, function.id, int(qualifier))
    if version is None:
        return  # already gone: Lambda answers a repeated delete with success
    users = store.aliases_of_version(conn, function.id, str(version.version))
    if users:
        raise ResourceConflict("Unable to delete version because the following aliases "
                               f"reference it: [{', '.join(sorted(users))}]")
    store.delete_version(conn, function.id, version.version)
    store.drop_unused_code(conn, {version.code_sha256})


@handlers.operation("DeleteFunction")
def delete_function(ctx: RequestContext, params: dict) -> dict:
    ref = function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
    if ref.qualifier == LATEST:
        raise InvalidParameterValue("$LATEST version cannot be deleted without deleting the "
                                    "function.")
    with ctx.store.write() as conn:
        function = find_function(ctx, conn, ref.name)
        if ref.qualifier is not None:
            _delete_version(ctx, conn, function, ref.qualifier)
        else:
            packages = store.version_digests(conn, function.id) | {function.code_sha256}
            store.delete_function(conn, function.id)
            tag_store.remove_all(conn, function.arn)
            store.drop_unused_code(conn, packages)
    notify.function_changed(ctx, ref.name)
    # No StatusCode: the model's 200 (Lambda's 204 would need a response without a body).
    return {}
