"""The key the `nozama` command signs with: the AWS SDKs' usual sources (the
environment, ~/.aws, AWS_PROFILE), else, on the machine that runs Nozama, the
administrator key in its data dir (what `nozama up` announced), if readable."""

from __future__ import annotations

import os
from pathlib import Path


def session(region: str):
    """A boto3 Session for `region` with the command's credentials (none found: the
    calls go unsigned and the server says what is missing)."""
    import boto3
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")   # not on EC2
    found = boto3.session.Session(region_name=region)
    if found.get_credentials() is not None:
        return found
    local = local_admin_key()
    if local is None:
        return found
    return boto3.session.Session(aws_access_key_id=local[0], aws_secret_access_key=local[1],
                                 region_name=region)


def local_admin_key() -> tuple[str, str] | None:
    from nozama.cli.main import _default_data_dir
    from nozama.store import admin_key
    return admin_key.read(Path(_default_data_dir()))   # None if missing or not readable


def signed_headers(method: str, url: str, body: bytes | None, headers: dict, region: str,
                   service: str) -> dict:
    """`headers` with a SigV4 signature for the request, when there are credentials."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    credentials = session(region).get_credentials()
    if credentials is None:
        return headers
    request = AWSRequest(method, url, data=body or b"", headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), service, region).add_auth(request)
    return dict(request.headers.items())
