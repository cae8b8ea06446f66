"""The agent's own SigV4 signer (kernel/sigv4_signing.py) signs what the verifier
(api/sigv4.py) accepts, and the agent finds its key where the SDKs look."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nozama.agent.credentials import AgentKey, CredentialsError, resolve
from nozama.api import sigv4
from nozama.kernel.http import HttpRequest
from nozama.kernel.sigv4_signing import signed_headers

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
KEY = AgentKey("AKIAAGENTKEYEXAMPLE1", "secret/with+symbols")


def request(headers: dict, body: bytes, path: str = "/_nozama/agent/v1/poll") -> HttpRequest:
    return HttpRequest("POST", path, path, "", {name.lower(): value for name, value in
                                                 headers.items()}, body)


def lookup(key_id, token):
    if key_id != KEY.access_key:
        return None
    return sigv4.Credentials(KEY.secret_key, principal="agent")


@pytest.mark.parametrize("token", [None, "a-session-token"])
def test_what_the_agent_signs_the_verifier_accepts(token):
    key = AgentKey(KEY.access_key, KEY.secret_key, token)
    body = b'{"containerInstanceArn": "arn"}'
    headers = signed_headers("POST", "/_nozama/agent/v1/poll",
                             {"Host": "10.0.0.5:4566", "Content-Type": "application/json",
                              "X-Nozama-Client": "agent"}, body, key, "eu-west-1", "ecs", NOW)
    seen = []

    def tokens(key_id, session_token):
        seen.append(session_token)
        return lookup(key_id, session_token)

    verified = sigv4.verify(request(headers, body), tokens, NOW)
    assert (verified.principal, verified.region, verified.service) == \
        ("agent", "eu-west-1", "ecs")
    assert seen == [token]


def test_a_changed_body_or_path_is_refused():
    body = b'{"tasks": []}'
    headers = signed_headers("POST", "/_nozama/agent/v1/state", {"Host": "h:1"}, body, KEY,
                             "us-east-1", "ecs", NOW)
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(request(headers, b'{"tasks": [1]}', "/_nozama/agent/v1/state"), lookup,
                     NOW)
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(request(headers, body, "/_nozama/agent/v1/register"), lookup, NOW)


def test_the_key_is_found_where_the_sdks_look(tmp_path):
    shared = tmp_path / "credentials"
    shared.write_text("[default]\naws_access_key_id = AKIADEFAULT\n"
                      "aws_secret_access_key = s1\n[agent]\naws_access_key_id = AKIAAGENT\n"
                      "aws_secret_access_key = s2\naws_session_token = t2\n")
    assert resolve(str(shared), {}) == AgentKey("AKIADEFAULT", "s1")
    assert resolve(str(shared), {"AWS_PROFILE": "agent"}) == AgentKey("AKIAAGENT", "s2", "t2")
    environment = {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s3",
                   "AWS_SHARED_CREDENTIALS_FILE": str(shared)}
    assert resolve(None, environment) == AgentKey("AKIAENV", "s3")
    assert resolve(None, {"AWS_SHARED_CREDENTIALS_FILE": str(shared)}).access_key == \
        "AKIADEFAULT"
    assert resolve(None, {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}) is None
    # A file given must hold the key; its secret never shows in a repr.
    with pytest.raises(CredentialsError):
        resolve(str(tmp_path / "none"), {})
    with pytest.raises(CredentialsError):
        resolve(str(shared), {"AWS_PROFILE": "other"})
    assert "s1" not in repr(resolve(str(shared), {}))
