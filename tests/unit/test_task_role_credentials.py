"""When the control plane makes, keeps and replaces a task role's credentials
(controllers/task_credentials.py), on a real SQLite store with a clock the test moves: the
same credentials on every poll until half their life is gone, then a new session under
the same credentials id, the old one still valid until it expires; none for a role that
does not trust ECS tasks or for a stopped task; everything gone once the task stops. On
both stores."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from nozama.controllers import task_credentials
from nozama.kernel.clock import FakeClock
from nozama.model import role_sessions as rules
from nozama.model.resources import Requirements
from nozama.store import Store
from nozama.store import iam as iam_store
from nozama.store import sql
from nozama.store import tasks as task_store
from nozama.store.access_keys import AccessKeys
from nozama.store.sealing import Sealer

ACCOUNT, REGION = "000000000000", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"
DEFINITION = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app:1"
START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


pytestmark = pytest.mark.store_matrix


@pytest.fixture
def world(store_url):
    store = Store.open(store_url)
    clock = FakeClock(START)
    keys = AccessKeys(store, Sealer(secrets.token_bytes(32)), clock)
    with store.write() as conn:
        for name, service in (("app", rules.ECS_TASKS), ("fn", rules.LAMBDA)):
            iam_store.create_role(conn, ACCOUNT, name, f"AROA{name.upper():0<16}",
                                  f"arn:aws:iam::{ACCOUNT}:role/{name}", "/", START,
                                  trust(service), 3600, None)
        iam_store.put_policy(conn, ACCOUNT, iam_store.ROLE, "app", iam_store.INLINE, "p",
                             json.dumps({"Version": "2012-10-17", "Statement": [
                                 {"Effect": "Allow", "Action": "ecs:ListClusters",
                                  "Resource": "*"}]}))
    yield SimpleNamespace(store=store, clock=clock, keys=keys)
    store.close()


def add_task(world, task_id: str, overrides: dict | None = None, last_status="PENDING"):
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/{task_id}"
    with world.store.write() as conn:
        task_store.create_many(conn, [{
            "region": REGION, "account": ACCOUNT, "cluster_arn": CLUSTER, "arn": arn,
            "task_definition_arn": DEFINITION, "family": "app", "container_instance_arn": None,
            "group_name": "family:app", "started_by": None, "service_name": None,
            "deployment_id": None, "launch_type": "EC2", "last_status": last_status,
            "desired_status": "RUNNING", "created_at": START, "version": 1,
            "reservation": Requirements(0, 0),
            "doc": {"taskArn": arn, "overrides": overrides or {}}}])
    return arn


def poll(world, role: str | None = ROLE) -> dict[str, dict]:
    """What one poll's assignments send, for every task of the store."""
    definition = SimpleNamespace(doc={"taskRoleArn": role} if role else {})
    with world.store.write() as conn:
        tasks = sql.all_rows(conn, "SELECT * FROM tasks ORDER BY id")
        return task_credentials.for_assignments(conn, world.keys, tasks,
                                                {DEFINITION: definition}, world.clock.now())


def valid(world, sent: dict, cached: bool = False) -> str | None:
    """The ARN of the principal the credentials stand for, if the store accepts them
    (read afresh, or as the server's cache of keys has them)."""
    if not cached:
        world.keys.forget(sent["accessKeyId"])
    found = world.keys.lookup(sent["accessKeyId"], sent["sessionToken"])
    if found is None or found.expires_at <= world.clock.now():
        return None
    return found.principal.arn if found.secret_access_key == sent["secretAccessKey"] else None


def test_the_refresh_decision_is_half_way():
    issued = START
    expires = issued + timedelta(hours=6)
    assert not rules.refresh_due(issued, expires, issued)
    assert not rules.refresh_due(issued, expires, issued + timedelta(hours=2, minutes=59))
    assert rules.refresh_due(issued, expires, issued + timedelta(hours=3))
    assert rules.refresh_due(issued, expires, expires + timedelta(seconds=1))


def test_sessions_are_named_as_aws_names_them():
    assert rules.task_session_name(
        "arn:aws:ecs:us-east-1:000000000000:task/default/0123abcd") == "0123abcd"
    assert rules.function_session_name("orders") == "orders"
    ids = {rules.new_credentials_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_every_poll_sends_the_same_credentials_until_half_their_life_is_gone(world):
    arn = add_task(world, "aaaa")
    first = poll(world)[arn]
    assert first["roleArn"] == ROLE and first["accessKeyId"].startswith("ASIA")
    assert valid(world, first) == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/aaaa"
    assert first["expiration"] == (START + timedelta(seconds=rules.SESSION_SECONDS)
                                   ).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.clock.advance(rules.SESSION_SECONDS / 2 - 1)
    assert poll(world)[arn] == first
    world.clock.advance(1)
    renewed = poll(world)[arn]
    assert renewed["credentialsId"] == first["credentialsId"]
    assert renewed["accessKeyId"] != first["accessKeyId"]
    assert valid(world, renewed) == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/aaaa"
    # The SDK in a container may still hold the old session: it stays valid until it expires.
    assert valid(world, first) is not None
    assert poll(world)[arn] == renewed
    world.clock.advance(rules.SESSION_SECONDS / 2 + 1)
    assert valid(world, first) is None


def test_tasks_have_credentials_ids_of_their_own(world):
    one, two = add_task(world, "aaaa"), add_task(world, "bbbb")
    sent = poll(world)
    assert sent[one]["credentialsId"] != sent[two]["credentialsId"]
    assert sent[one]["accessKeyId"] != sent[two]["accessKeyId"]


def test_no_credentials_without_a_role_or_from_a_role_that_does_not_trust_ecs_tasks(world):
    arn = add_task(world, "aaaa")
    assert poll(world, role=None) == {}
    assert poll(world, role=f"arn:aws:iam::{ACCOUNT}:role/fn") == {}        # trusts Lambda
    assert poll(world, role=f"arn:aws:iam::{ACCOUNT}:role/missing") == {}
    assert poll(world, role="arn:aws:iam::111111111111:role/app") == {}     # another account
    assert arn not in poll(world, role="not an arn")


def test_runtask_overrides_name_the_role(world):
    arn = add_task(world, "aaaa", overrides={"taskRoleArn": ROLE})
    assert poll(world, role=None)[arn]["roleArn"] == ROLE


def test_a_stopped_task_is_sent_none_and_its_sessions_go(world):
    arn = add_task(world, "aaaa")
    first = poll(world)[arn]
    world.clock.advance(rules.SESSION_SECONDS / 2)
    renewed = poll(world)[arn]
    assert valid(world, first) and valid(world, renewed)      # now in the cache of keys
    with world.store.write() as conn:
        task_store.save(conn, arn, last_status="STOPPED")
    assert poll(world) == {}
    with world.store.write() as conn:
        gone = task_credentials.forget(conn, [arn])
    task_credentials.uncache(world.keys, gone)
    assert valid(world, first, cached=True) is None
    assert valid(world, renewed, cached=True) is None


def test_credentials_of_tasks_stopped_without_their_agent_are_purged(world):
    gone, running = add_task(world, "aaaa"), add_task(world, "bbbb")
    old = poll(world)[gone]
    with world.store.write() as conn:
        task_store.save(conn, gone, last_status="STOPPED")
    world.clock.advance(rules.SESSION_SECONDS / 2)
    assert list(poll(world)) == [running]       # renewing purges what is left
    assert valid(world, old) is None


def test_a_task_keeps_its_first_credentials_id_when_two_servers_renew_at_once(world):
    from nozama.store import role_sessions, task_credentials as rows
    arn = add_task(world, "aaaa")
    first = poll(world)[arn]
    with world.store.write() as conn:
        role = role_sessions.role_by_arn(conn, ACCOUNT, ROLE)
        session = role_sessions.mint(conn, world.keys, ACCOUNT, role, "aaaa", 60,
                                     world.clock.now())
        kept = rows.put(conn, world.keys, arn, rules.new_credentials_id(), session)
    assert kept.credentials_id == first["credentialsId"]
    sent = poll(world)[arn]
    assert (sent["credentialsId"], sent["accessKeyId"]) == (first["credentialsId"],
                                                            session.access_key_id)
