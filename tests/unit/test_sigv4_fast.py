"""The verifier's shortcuts agree with the long way round: X-Amz-Date read by
datetime.fromisoformat as by hand, and HMAC-SHA256 from cached pads as hmac.digest
(api/sigv4.py). The signatures themselves are tested in test_sigv4*.py."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from nozama.api import sigv4


def _by_hand(stamp: str) -> datetime | None:
    try:
        return datetime(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]),
                        int(stamp[11:13]), int(stamp[13:15]), tzinfo=timezone.utc)
    except ValueError:
        return None


_TWO = st.integers(0, 99).map(lambda n: f"{n:02d}")
_STAMPS = st.builds(lambda y, mo, d, h, mi, s: f"{y:04d}{mo}{d}T{h}{mi}{s}Z",
                    st.sampled_from([0, 1, 1900, 2000, 2024, 2026, 2100, 9999])
                    | st.integers(0, 9999), _TWO, _TWO, _TWO, _TWO, _TWO)


def _reads_as_by_hand(stamp: str) -> None:
    expected = _by_hand(stamp)
    if expected is None:
        with pytest.raises(sigv4.SignatureError) as refused:
            sigv4._timestamp(stamp, None)
        assert refused.value.reason == sigv4.Reason.INCOMPLETE
        assert "is not a date" in refused.value.message
    else:
        moment, signed = sigv4._timestamp(stamp, None)
        assert (moment, moment.utcoffset(), signed) == (expected, expected.utcoffset(), stamp)


@given(_STAMPS)
def test_an_amz_date_reads_as_by_hand_or_is_refused_as_not_a_date(stamp):
    _reads_as_by_hand(stamp)


@pytest.mark.parametrize("stamp", ["20240229T235959Z", "20230229T000000Z", "20261205T240000Z",
                                   "20261205T236000Z", "20261205T235960Z", "00000101T000000Z"])
def test_the_edges_of_a_day_and_a_year(stamp):
    _reads_as_by_hand(stamp)


@given(st.text(min_size=1, max_size=60), st.sampled_from(["20261205", "20000101"]),
       st.sampled_from(["us-east-1", "eu-west-3"]), st.sampled_from(["ecs", "lambda"]),
       st.text(max_size=300))
def test_the_cached_pads_sign_as_hmac_does(secret, day, region, service, canonical):
    parts = sigv4._Signature("AKID", day, region, service, ("host",), "", datetime.now(),
                             f"{day}T000000Z", None)
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join((sigv4.ALGORITHM, parts.amz_date, scope,
                                hashlib.sha256(canonical.encode()).hexdigest()))
    key = sigv4.signing_key(secret, day, region, service)
    assert sigv4.signature(secret, parts, canonical) == \
        hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    # Twice: the cached pads are copied, never hashed into.
    assert sigv4.signature(secret, parts, canonical) == \
        hmac.digest(key, string_to_sign.encode(), "sha256").hex()


@given(st.binary(max_size=64) | st.integers(0, 3).map(
    lambda n: bytes(range(256)) * 8 + b"x" * (n - 1 if n else 0)))
def test_small_and_large_bodies_hash_as_hashlib_does(data):
    # Either side of _SMALL: CPython's SHA-256 below it, OpenSSL's above.
    assert sigv4._sha256_hex(data) == hashlib.sha256(data).hexdigest()
