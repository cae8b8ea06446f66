"""StoreUnavailable as each served service answers it: a 503 of its own error family,
which botocore parses to that code and retries, logged without a traceback."""

from __future__ import annotations

import logging

import botocore.parsers
import pytest
from botocore.awsrequest import HeadersDict
from botocore.retries import standard

from nozama.api import catalog
from nozama.api.gateway import Gateway
from nozama.api.protocols import PROTOCOLS
from nozama.store.db import StoreUnavailable

EXPECTED = {"ecs": "ServiceUnavailableException", "lambda": "ServiceUnavailableException",
            "logs": "ServiceUnavailableException", "acm": "ServiceUnavailableException",
            "ecr": "ServiceUnavailableException", "elbv2": "ServiceUnavailable",
            "iam": "ServiceUnavailable", "sts": "ServiceUnavailable",
            "cloudwatch": "ServiceUnavailable", "ec2": "Unavailable"}


def cases():
    for name in catalog.SERVED:
        service = catalog.service(name)
        for protocol in service.model.metadata.get("protocols") or [service.protocol]:
            yield name, protocol


@pytest.mark.parametrize("service_name,protocol", list(cases()))
def test_an_unreachable_database_is_a_503_of_the_services_family(service_name, protocol,
                                                                 caplog):
    service = catalog.service(service_name)
    operation = service.model.operation_model(service.model.operation_names[0])
    caplog.set_level(logging.DEBUG)
    response = Gateway._failed(StoreUnavailable("gone"), service, PROTOCOLS[protocol],
                               operation, "req-9")
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"status_code": response.status, "headers": HeadersDict(response.headers),
         "body": response.body}, operation.output_shape)
    assert response.status == 503
    assert parsed["Error"]["Code"] == EXPECTED[service_name]
    assert parsed["Error"]["Message"] == "Service is temporarily unavailable; retry."
    # The store logs the outage, once: nothing per request.
    assert [r for r in caplog.records if r.name.startswith("nozama")] == []
    # botocore's standard retry mode retries it as transient (legacy mode: any 503).
    context = standard.RetryContext(attempt_number=1, operation_model=operation,
                                    parsed_response=parsed,
                                    http_response=type("R", (), {"status_code": 503})())
    assert standard.TransientRetryableChecker().is_retryable(context)


def test_a_modeled_error_of_that_name_keeps_the_503():
    # Logs models ServiceUnavailableException with status 500; the outage's is a 503.
    service = catalog.service("logs")
    operation = service.model.operation_model("DescribeLogGroups")
    response = Gateway._failed(StoreUnavailable("gone"), service, PROTOCOLS["json"],
                               operation, "r")
    assert response.status == 503
