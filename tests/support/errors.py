"""What a botocore ClientError says, as the tests compare it."""

from __future__ import annotations

import pytest


def error_code(info: pytest.ExceptionInfo) -> str:
    """The AWS error code of a `pytest.raises(ClientError)` result."""
    return info.value.response["Error"]["Code"]


def error_of(info: pytest.ExceptionInfo) -> tuple[str, str]:
    """The AWS error code and message of a `pytest.raises(ClientError)` result."""
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def refused(call, **params) -> tuple[str, str]:
    """The error code and message of a call that must be refused with a 400."""
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as info:
        call(**params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error_of(info)
