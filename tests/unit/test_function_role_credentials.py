"""A function's execution role credentials (functions/credentials.py): one session per
pool until half its life is gone, then a new one, and the workers that hold the old one
are retired rather than reused; placeholders without a role Lambda may assume."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest

from nozama.functions.credentials import PLACEHOLDER, RETRY_SECONDS, ExecutionRoles
from nozama.functions.invoker import Pool
from nozama.functions.workers import VersionSpec
from nozama.kernel.clock import FakeClock
from nozama.model import role_sessions as rules
from nozama.store import Store
from nozama.store import iam as iam_store
from nozama.store.access_keys import AccessKeys
from nozama.store.db import sqlite_url
from nozama.store.sealing import Sealer

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn"


@pytest.fixture
def roles(tmp_path):
    store = Store.open(sqlite_url(tmp_path / "data"))
    clock = FakeClock()
    store.access_keys = AccessKeys(store, Sealer(secrets.token_bytes(32)), clock)
    with store.write() as conn:
        for name, service in (("fn", rules.LAMBDA), ("task", rules.ECS_TASKS)):
            iam_store.create_role(conn, ACCOUNT, name, f"AROA{name.upper():0<16}",
                                  f"arn:aws:iam::{ACCOUNT}:role/{name}", "/", clock.now(),
                                  json.dumps({"Statement": [{
                                      "Effect": "Allow", "Principal": {"Service": service},
                                      "Action": "sts:AssumeRole"}]}), 3600, None)
    yield ExecutionRoles(store, clock)
    store.close()


def current(roles, held=None, role=ROLE):
    return roles.current(held, "us-east-1", ACCOUNT, "orders", role)


def test_a_pool_keeps_its_session_until_half_its_life_is_gone(roles):
    held = current(roles)
    assert held.environment["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert held.session.assumed_role_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn/orders"
    found = roles.store.access_keys.lookup(held.environment["AWS_ACCESS_KEY_ID"],
                                           held.environment["AWS_SESSION_TOKEN"])
    assert found.secret_access_key == held.environment["AWS_SECRET_ACCESS_KEY"]
    roles.clock.advance(rules.SESSION_SECONDS / 2 - 1)
    assert current(roles, held) is held
    roles.clock.advance(1)
    renewed = current(roles, held)
    assert renewed.key != held.key and renewed.session.issued_at == roles.clock.now()


def test_placeholders_without_a_role_lambda_may_assume(roles):
    for role in ("", f"arn:aws:iam::{ACCOUNT}:role/task", f"arn:aws:iam::{ACCOUNT}:role/none"):
        held = current(roles, role=role)
        assert held.environment == PLACEHOLDER and held.session is None and held.key == ""


def test_a_role_made_later_is_asked_for_again_but_not_on_every_invocation(roles):
    later = f"arn:aws:iam::{ACCOUNT}:role/later"
    held = current(roles, role=later)
    assert held.session is None
    with roles.store.write() as conn:
        iam_store.create_role(conn, ACCOUNT, "later", "AROALATER0000000", later, "/",
                              roles.clock.now(), json.dumps({"Statement": [{
                                  "Effect": "Allow",
                                  "Principal": {"Service": rules.LAMBDA},
                                  "Action": "sts:AssumeRole"}]}), 3600, None)
    assert current(roles, held, role=later) is held       # within RETRY_SECONDS
    roles.clock.advance(RETRY_SECONDS)
    assert current(roles, held, role=later).session is not None


class StubWorker:
    def __init__(self, key: str):
        self.credentials_key, self.alive, self.killed = key, True, False

    def kill(self):
        self.alive, self.killed = False, True


def spec(role: str = ROLE) -> VersionSpec:
    return VersionSpec("us-east-1", ACCOUNT, "orders", "arn:fn", "$LATEST", "r1", "python3.11",
                       "python", "app.handler", 3, 128, (), Path("."), "/aws/lambda/orders",
                       role)


def test_workers_of_an_older_session_are_retired_not_reused(roles):
    pool = Pool(spec(), {}, roles.clock, roles)
    pool._renew_credentials()
    old = StubWorker(pool.credentials.key)
    pool.release(old)
    assert pool.idle == [old]
    fresh = StubWorker("")
    roles.clock.advance(rules.SESSION_SECONDS / 2)
    pool._renew_credentials()
    fresh.credentials_key = pool.credentials.key
    pool.idle.insert(0, fresh)
    # The next invocation renews the pool's session, retires the idle worker of the old
    # one, and takes the one started with the new session.
    assert asyncio.run(pool.acquire()) is fresh
    assert old.killed
    stale = StubWorker(old.credentials_key)
    pool.release(stale)          # an invocation that began before the renewal, done
    assert stale.killed and pool.idle == []
