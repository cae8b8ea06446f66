"""GetFunction's Code.Location URLs: signed with the store's key, expiring after 10 minutes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from nozama.aws.lambda_ import code_urls
from nozama.kernel.clock import FakeClock
from nozama.store import Store
from nozama.store.db import sqlite_url


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


def parts(url: str) -> tuple[str, dict]:
    split = urlsplit(url)
    return split.path, dict(parse_qsl(split.query))


def test_a_url_is_good_for_ten_minutes_then_refused(store):
    clock = FakeClock()
    url = code_urls.location(store, clock, "http://127.0.0.1:9000", "ab" * 32)
    assert url.startswith("http://127.0.0.1:9000/_nozama/v1/function-code/" + "ab" * 32 + "?")
    path, query = parts(url)
    clock.advance(600)
    assert code_urls.verified(store, clock, path, query) == "ab" * 32
    clock.advance(1)
    with pytest.raises(code_urls.Refused, match="expired"):
        code_urls.verified(store, clock, path, query)


def test_another_server_of_the_store_verifies_and_the_key_is_the_stores(store, tmp_path):
    clock = FakeClock()
    path, query = parts(code_urls.location(store, clock, "http://a", "cd" * 32))
    other = Store.open(sqlite_url(tmp_path))
    try:
        assert code_urls.verified(other, clock, path, query) == "cd" * 32
    finally:
        other.close()
    # Another digest under the same signature is a forgery.
    with pytest.raises(code_urls.Refused, match="signature"):
        code_urls.verified(store, clock, path.replace("cd", "ef"), query)


@pytest.mark.parametrize("signature", ["é", "\udcff", "", "0" * 64])
def test_a_signature_that_is_not_ours_is_refused_not_a_crash(store, signature):
    clock = FakeClock()
    path, query = parts(code_urls.location(store, clock, "http://a", "ab" * 32))
    with pytest.raises(code_urls.Refused, match="signature"):
        code_urls.verified(store, clock, path, {**query, "Signature": signature})
