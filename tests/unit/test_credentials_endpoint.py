"""The agent's ECS credentials endpoint and the host directory it answers from: what a
container's SDK gets for its id, for an unknown or missing one, and for anything else;
the files' permissions, their expiry, and what the agent keeps as tasks come and go."""

from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest

from nozama.agent.credentials_directory import CredentialsDirectory
from nozama.agent.credentials_endpoint import CredentialsEndpoint, answer
from nozama.agent.task_credentials import TaskCredentials, with_environment
from nozama.kernel.clock import FakeClock
from nozama.kernel.http import HttpRequest

TASK = "arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef0123456789abcdef"
ID = "5f0c2a8e9b7d41c3a6e2f1d0c9b8a7e6"
NOW = 1_780_000_000.0
SENT = {"credentialsId": ID, "roleArn": "arn:aws:iam::000000000000:role/app",
        "accessKeyId": "ASIAEXAMPLEEXAMPLE00", "secretAccessKey": "s" * 40,
        "sessionToken": "t" * 356, "expiration": "2026-05-28T21:00:00Z"}
EXPIRES = 1_780_002_000.0   # 2026-05-28T21:00:00Z, after NOW


def request(path: str, method: str = "GET", query: str = "") -> HttpRequest:
    return HttpRequest(method, path, path, query, {"host": "169.254.170.2"}, b"")


@pytest.fixture
def directory(tmp_path) -> CredentialsDirectory:
    directory = CredentialsDirectory(tmp_path / "run" / "task-credentials")
    assert directory.prepare()
    return directory


@pytest.fixture
def written(directory) -> CredentialsDirectory:
    directory.write(ID, TASK, {"RoleArn": SENT["roleArn"], "AccessKeyId": SENT["accessKeyId"],
                               "SecretAccessKey": SENT["secretAccessKey"],
                               "Token": SENT["sessionToken"],
                               "Expiration": SENT["expiration"]}, EXPIRES)
    return directory


def body(response) -> dict:
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.body)


def test_the_credentials_of_an_id_in_the_ecs_agents_shape(written):
    response = answer(written, request(f"/v2/credentials/{ID}"), NOW)
    assert response.status == 200
    assert body(response) == {
        "RoleArn": "arn:aws:iam::000000000000:role/app", "AccessKeyId": "ASIAEXAMPLEEXAMPLE00",
        "SecretAccessKey": "s" * 40, "Token": "t" * 356,
        "Expiration": "2026-05-28T21:00:00Z"}
    # The first API takes the id as a query parameter.
    assert body(answer(written, request("/v1/credentials", query=f"id={ID}"), NOW)) == \
        body(response)


def test_an_unknown_id_is_a_400_as_the_ecs_agent_answers(written):
    response = answer(written, request("/v2/credentials/" + "0" * 32), NOW)
    assert response.status == 400
    assert body(response) == {"code": "InvalidIdInRequest",
                              "message": "CredentialsV2Request: Credentials not found"}


def test_ids_that_are_no_ids_reach_no_file(written, tmp_path):
    (tmp_path / "run" / "secret.json").write_text(json.dumps(
        {"expiresAt": EXPIRES, "credentials": {"AccessKeyId": "stolen"}}))
    for path in ("/v2/credentials/../secret", "/v2/credentials/%2e%2e%2fsecret",
                 f"/v2/credentials/{ID.upper()}", f"/v2/credentials/{ID}/",
                 f"/v2/credentials/{ID}x", "/v2/credentials/' OR 1=1"):
        response = answer(written, request(path), NOW)
        assert response.status == 400, path
        assert body(response)["code"] == "InvalidIdInRequest"


def test_a_missing_id_is_a_400_naming_it(written):
    for response, version in ((answer(written, request("/v2/credentials/"), NOW), 2),
                              (answer(written, request("/v1/credentials"), NOW), 1)):
        assert response.status == 400
        assert body(response) == {"code": "NoIdInRequest", "message":
                                  f"CredentialsV{version}Request: No Credential ID in the "
                                  "request"}


def test_any_other_path_is_not_found(written):
    for path in ("/", "/v2/credentials", "/v2/metadata", f"/v3/credentials/{ID}",
                 f"/latest/meta-data/iam/security-credentials/{ID}"):
        response = answer(written, request(path), NOW)
        assert response.status == 404, path
        assert ID.encode() not in response.body


def test_only_get_reads_credentials(written):
    response = answer(written, request(f"/v2/credentials/{ID}", method="POST"), NOW)
    assert response.status == 405
    assert b"ASIA" not in response.body


def test_expired_credentials_are_not_served_and_are_swept(written):
    assert answer(written, request(f"/v2/credentials/{ID}"), EXPIRES).status == 400
    assert written.sweep(NOW) == 0
    assert written.sweep(EXPIRES + 1) == 1
    assert list(written.path.iterdir()) == []


def test_the_files_are_for_root_only(written):
    assert stat.S_IMODE(os.stat(written.path).st_mode) == 0o700
    (entry,) = written.path.iterdir()
    assert entry.name == f"{ID}.json"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_a_directory_that_is_a_symlink_is_not_used(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    assert not CredentialsDirectory(tmp_path / "link").prepare()


def test_the_agent_writes_what_assignments_bring_and_removes_it_as_the_task_stops(tmp_path):
    credentials = TaskCredentials(tmp_path / "creds", FakeClock())
    credentials.usable = credentials.directory.prepare()
    credentials.update(TASK, SENT)
    served = credentials.directory.read(ID, NOW)
    assert served["AccessKeyId"] == SENT["accessKeyId"] and served["Token"] == "t" * 356
    # A renewed session keeps the id (the containers were started with it).
    credentials.update(TASK, {**SENT, "accessKeyId": "ASIARENEWEDRENEWED00"})
    assert credentials.directory.read(ID, NOW)["AccessKeyId"] == "ASIARENEWEDRENEWED00"
    definition = {"containerDefinitions": [
        {"name": "a", "environment": [{"name": "STAGE", "value": "prod"}]},
        {"name": "b", "environment": [{"name": "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "value": "/v2/credentials/theirs"}]}]}
    effective = credentials.definition_for(TASK, definition)
    uri = {"name": "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "value": f"/v2/credentials/{ID}"}
    assert effective["containerDefinitions"][0]["environment"] == [
        {"name": "STAGE", "value": "prod"}, uri]
    assert effective["containerDefinitions"][1]["environment"] == [uri]
    assert definition["containerDefinitions"][0]["environment"] == [
        {"name": "STAGE", "value": "prod"}]       # the assignment's own is left alone
    # A task without credentials runs as defined.
    assert credentials.definition_for("arn:other", definition) is definition
    credentials.forget(TASK)
    assert credentials.directory.read(ID, NOW) is None
    # A late assignment that still carries them (the stop not yet reported) writes nothing.
    credentials.update(TASK, SENT)
    assert credentials.directory.read(ID, NOW) is None


def test_credentials_with_a_malformed_id_are_ignored(tmp_path):
    credentials = TaskCredentials(tmp_path / "creds", FakeClock())
    credentials.usable = credentials.directory.prepare()
    credentials.update(TASK, {**SENT, "credentialsId": "../../etc/cron.d/x"})
    assert list(credentials.directory.path.iterdir()) == []
    assert credentials.definition_for(TASK, {"containerDefinitions": []}) == \
        {"containerDefinitions": []}


def test_with_environment_leaves_no_container_out():
    definition = {"containerDefinitions": [{"name": "a"}, {"name": "b", "environment": []}]}
    effective = with_environment(definition, {"X": "1"})
    assert [c["environment"] for c in effective["containerDefinitions"]] == \
        [[{"name": "X", "value": "1"}]] * 2


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 169.254.170.2\r\nConnection: close\r\n\r\n"
                 .encode())
    data = await reader.read()
    writer.close()
    head, _, content = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), content


def test_agents_of_one_host_share_the_address_and_each_answers_for_every_task(written):
    async def scenario():
        first = CredentialsEndpoint(written, FakeClock(), "127.0.0.1", 0)
        assert await first.start()
        port = first.server.port
        second = CredentialsEndpoint(written, FakeClock(), "127.0.0.1", port)
        assert await second.start()          # SO_REUSEPORT: both listen
        try:
            status, content = await _get(port, f"/v2/credentials/{ID}")
            assert status == 200 and json.loads(content)["Token"] == "t" * 356
            await first.close()              # one agent stops: the other answers
            for _ in range(5):
                status, content = await _get(port, f"/v2/credentials/{ID}")
                assert status == 200
            status, _ = await _get(port, "/v2/credentials/" + "1" * 32)
            assert status == 400
        finally:
            await second.close()

    asyncio.run(scenario())


def test_an_endpoint_that_cannot_listen_says_so_and_the_agent_runs_on(written, caplog):
    async def scenario():
        # An address no interface has, and that is not 169.254.170.2 to add to lo.
        endpoint = CredentialsEndpoint(written, FakeClock(), "198.51.100.254", 0)
        try:
            assert not await endpoint.start()
        finally:
            await endpoint.close()

    asyncio.run(scenario())
    assert "get no credentials on this host" in caplog.text


def test_credentials_that_cannot_be_written_do_not_stop_the_agent(tmp_path, caplog):
    credentials = TaskCredentials(tmp_path / "creds", FakeClock())
    credentials.usable = credentials.directory.prepare()
    credentials.update(TASK, {**SENT, "expiration": "someday"})
    credentials.update(TASK, {k: v for k, v in SENT.items() if k != "secretAccessKey"})
    assert list(credentials.directory.path.iterdir()) == []
    credentials.update(TASK, SENT)                # the next poll's are written
    assert credentials.directory.read(ID, NOW)["AccessKeyId"] == SENT["accessKeyId"]
