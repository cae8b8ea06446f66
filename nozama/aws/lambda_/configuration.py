"""A function's configuration as CreateFunction and UpdateFunctionConfiguration set it:
the deployment package, the runtime, the environment and the limits, checked
as Lambda checks them, and the FunctionConfiguration document built from them."""

from __future__ import annotations

import json

from sqlalchemy import Connection

from nozama.aws.iam import service_roles
from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationException
from nozama.functions import code, runtimes
from nozama.functions.lookup import LATEST, function_arn, new_revision_id, timestamp

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

IMAGE_WITH_RUNTIME = ("Please don't provide Handler or Runtime or Layer when the intended "
                      "function PackageType is Image.")


def package_of(source: dict, updating: bool = False) -> bytes:
    """The deployment package a Code (or UpdateFunctionCode) request carries, checked."""
    if source.get("ImageUri"):
        raise errors.lambda_.InvalidParameterValueException(
            "Please don't provide ImageUri when updating a function with packageType Zip."
            if updating else
            "Please don't provide ImageUri when the intended function PackageType is Zip.")
    if source.get("S3Bucket") or source.get("S3Key") or source.get("S3ObjectVersion"):
        raise errors.lambda_.InvalidParameterValueException(
            "Nozama has no S3: send the deployment package as ZipFile.")
    package = source.get("ZipFile")
    if package is None:
        raise errors.lambda_.InvalidParameterValueException(
            "Please provide a source for function code (ZipFile).")
    try:
        code.check(package)
    except code.BadPackage as error:
        raise errors.lambda_.InvalidParameterValueException(str(error)) from None
    return package


def _check_runtime(runtime: str) -> None:
    if not runtimes.supported(runtime):
        known = runtimes.PYTHON_RUNTIMES
        raise errors.lambda_.InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported by Nozama; it runs "
            f"{', '.join(known[:-1])} and {known[-1]}.")
    if runtimes.interpreter(runtime) is None:
        raise errors.lambda_.InvalidParameterValueException(
            f"The runtime {runtime} is not installed on this host: Nozama needs a {runtime} "
            "interpreter with awslambdaric on the PATH to run it.")


def check_unsupported(params: dict) -> None:
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
            raise errors.lambda_.InvalidParameterValueException(
                f"{name} is not supported by Nozama.")


def check_role(ctx: RequestContext, conn: Connection, role: str | None) -> None:
    """Lambda runs the function as its role: the role must be the account's and trust
    lambda.amazonaws.com. (A Role that is not an IAM role ARN at all fails the model's
    pattern first, with a ValidationException, as in Lambda.)"""
    if not role or not service_roles.assumable_by(conn, ctx.account_id, role,
                                                  service_roles.LAMBDA):
        raise errors.lambda_.InvalidParameterValueException(
            "The role defined for the function cannot be assumed by Lambda.")
    service_roles.check_pass_role(ctx, role, service_roles.LAMBDA, "lambda")


def _check_environment(variables: dict[str, str]) -> None:
    reserved = sorted(RESERVED_VARIABLES & set(variables))
    if reserved:
        raise errors.lambda_.InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            f"supported for modification. Reserved keys used in this request: "
            f"{', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT:
        raise errors.lambda_.InvalidParameterValueException(
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


def _image_config(doc: dict, params: dict) -> None:
    """ImageConfig overrides the image's ENTRYPOINT, CMD and WORKDIR; only an image has
    them. An empty ImageConfig clears the overrides, as in Lambda."""
    if "ImageConfig" not in params:
        return
    if doc.get("PackageType") != "Image":
        if params["ImageConfig"]:
            raise errors.lambda_.InvalidParameterValueException(
                "ImageConfig is only supported for functions with PackageType Image.")
        return
    config = {k: v for k, v in params["ImageConfig"].items()
              if k in ("EntryPoint", "Command", "WorkingDirectory") and v is not None}
    doc.pop("ImageConfigResponse", None)
    if config:
        doc["ImageConfigResponse"] = {"ImageConfig": config}


def configured(doc: dict, params: dict) -> dict:
    """`doc` with the settings CreateFunction or UpdateFunctionConfiguration give."""
    check_unsupported(params)
    _check_range(params)
    if doc.get("PackageType") == "Image" and (params.get("Runtime") or params.get("Handler")):
        raise errors.lambda_.InvalidParameterValueException(IMAGE_WITH_RUNTIME)
    if "Runtime" in params:
        _check_runtime(params["Runtime"])
    doc = dict(doc)
    _image_config(doc, params)
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


def is_image(params: dict) -> bool:
    """Whether CreateFunction makes an image function (PackageType Image)."""
    return params.get("PackageType", "Zip") == "Image"


def check_image_request(params: dict) -> str:
    """The ImageUri of a CreateFunction of PackageType Image, checked for what Lambda
    refuses before it looks at the image."""
    if params.get("Runtime") or params.get("Handler") or params.get("Layers"):
        raise errors.lambda_.InvalidParameterValueException(IMAGE_WITH_RUNTIME)
    source = params.get("Code") or {}
    if source.get("ZipFile") is not None or source.get("S3Bucket") or source.get("S3Key"):
        raise errors.lambda_.InvalidParameterValueException(
            "Please don't provide ZipFile or S3 when the intended function PackageType is "
            "Image.")
    if not source.get("ImageUri"):
        raise errors.lambda_.InvalidParameterValueException(
            "Please provide a source for function code (ImageUri).")
    return source["ImageUri"]


def new_configuration(ctx: RequestContext, name: str, params: dict, package: bytes | None,
                      code_sha256: str | None = None) -> dict:
    """The configuration of a new function: of a zip `package`, or, without one, of an
    image whose CodeSha256 (its digest's hex) is `code_sha256`."""
    image = package is None
    if not image and params.get("PackageType", "Zip") != "Zip":
        raise errors.lambda_.InvalidParameterValueException(
            f"Unsupported package type {params['PackageType']}: use Zip or Image.")
    if not image and (not params.get("Runtime") or not params.get("Handler")):
        raise errors.lambda_.InvalidParameterValueException(
            "Runtime and Handler are mandatory parameters for functions "
            "created with deployment packages.")
    doc = {
        "FunctionName": name, "FunctionArn": function_arn(ctx, name), "Runtime": None,
        "Role": None, "Handler": None, "CodeSize": 0 if image else len(package),
        "Description": "",
        "Timeout": 3, "MemorySize": 128, "LastModified": timestamp(ctx.clock.now()),
        "CodeSha256": code_sha256 if image else code.sha256(package), "Version": LATEST,
        "RevisionId": new_revision_id(), "State": "Active", "LastUpdateStatus": "Successful",
        "PackageType": "Image" if image else "Zip",
        "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    if image:  # the image brings its runtime and names its handler itself
        del doc["Runtime"], doc["Handler"]
    return configured(doc, params)
