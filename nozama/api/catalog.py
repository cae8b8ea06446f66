"""The catalog of AWS services Nozama serves, built from botocore's service models.

botocore ships a JSON model for every AWS API: its operations, shapes, enums,
errors and wire protocol. Everything in api/ reads those models through this
module, so that no operation is parsed or serialized by hand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import botocore.exceptions
import botocore.loaders
import botocore.model

# Services Nozama serves, by botocore model name. The protocol is the one
# current botocore clients use for the service (the first the model lists).
SERVED = ("ecs", "elbv2", "lambda", "cloudwatch", "logs", "acm", "ec2", "iam", "sts",
          "ecr")


@dataclass(frozen=True)
class Service:
    name: str                      # botocore name: "ecs", "cloudwatch", ...
    model: botocore.model.ServiceModel
    protocol: str                  # "json", "query", "ec2", "rest-json", "smithy-rpc-v2-cbor"
    signing_name: str              # service name in a SigV4 credential scope

    @property
    def target_prefix(self) -> str | None:
        return self.model.metadata.get("targetPrefix")

    @property
    def json_version(self) -> str:
        return self.model.metadata.get("jsonVersion", "1.0")

    @property
    def query_compatible(self) -> bool:
        # Services moved off the query protocol keep query error codes in a header.
        return "awsQueryCompatible" in self.model.metadata

    def operation(self, name: str) -> botocore.model.OperationModel | None:
        if name not in self.model.operation_names:
            return None
        return self.model.operation_model(name)


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.Loader()


@functools.cache
def service(name: str) -> Service:
    data = _loader().load_service_model(name, "service-2")
    model = botocore.model.ServiceModel(data, service_name=name)
    metadata = data["metadata"]
    protocol = (metadata.get("protocols") or [metadata["protocol"]])[0]
    signing_name = metadata.get("signingName") or metadata["endpointPrefix"]
    return Service(name, model, protocol, signing_name)


@functools.cache
def served() -> tuple[Service, ...]:
    return tuple(service(name) for name in SERVED)


@functools.cache
def by_target_prefix() -> dict[str, Service]:
    return {s.target_prefix: s for s in served() if s.target_prefix}


@functools.cache
def by_signing_name() -> dict[str, Service]:
    return {s.signing_name: s for s in served()}


def unserved(signing_name: str) -> Service | None:
    """The model of a service Nozama does not serve, named by a credential scope, so its
    refusal goes out in the protocol its clients read; None when botocore has no model
    of that name (most models are named as their services sign: iam, s3, ec2, sts)."""
    if not signing_name.replace("-", "").isalnum():
        return None
    try:
        found = service(signing_name)
    except botocore.exceptions.DataNotFoundError:
        return None
    return found if found.signing_name == signing_name else None
