"""The security policies of Application Load Balancers (HTTPS listeners' SslPolicy), as
plain data: per policy its TLS versions and its ciphers in priority order.

Taken from AWS's "Security policies for your Application Load Balancer" tables and
DescribeSSLPolicies: a policy's ciphers keep the order of those tables, and a cipher's
Priority is its place in its policy's list (1 first). AWS names TLS 1.2-and-older
ciphers by their OpenSSL names already; TLS 1.3 cipher suites are named by their IANA
names (TLS_AES_128_GCM_SHA256), which OpenSSL's `ciphersuites` takes too. The data
plane turns a policy into HAProxy's ssl-min-ver / ssl-max-ver / ciphers / ciphersuites
(`tls_versions`, `openssl_ciphers`, `openssl_ciphersuites` below). The FIPS and
post-quantum (PQ) policies are not listed: their tables are not reproduced here.
"""

from __future__ import annotations

from dataclasses import dataclass

# What CreateListener takes when an HTTPS listener names no policy (the CLI's and
# API's default; only the console picks another).
DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"

# TLS versions as DescribeSSLPolicies names them, oldest first, and as HAProxy does.
TLS_VERSIONS = {"TLSv1": "TLSv1.0", "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2",
                "TLSv1.3": "TLSv1.3"}


@dataclass(frozen=True)
class Cipher:
    name: str            # AWS's name (DescribeSSLPolicies)
    openssl_name: str    # OpenSSL's (`ciphers` for TLS <= 1.2, `ciphersuites` for 1.3)
    tls13: bool          # a TLS 1.3 cipher suite


@dataclass(frozen=True)
class SslPolicy:
    name: str
    protocols: tuple[str, ...]     # DescribeSSLPolicies' SslProtocols, oldest first
    ciphers: tuple[Cipher, ...]    # by priority

    def describe(self) -> dict:
        return {"Name": self.name, "SslProtocols": list(self.protocols),
                "Ciphers": [{"Name": c.name, "Priority": i}
                            for i, c in enumerate(self.ciphers, 1)],
                "SupportedLoadBalancerTypes": ["application", "network"]}

    def tls_versions(self) -> tuple[str, str]:
        """(oldest, newest) TLS version, as HAProxy's ssl-min-ver / ssl-max-ver."""
        return TLS_VERSIONS[self.protocols[0]], TLS_VERSIONS[self.protocols[-1]]

    def openssl_ciphers(self) -> str:
        """The TLS 1.2-and-older ciphers, in priority order, for OpenSSL's cipher list."""
        return ":".join(c.openssl_name for c in self.ciphers if not c.tls13)

    def openssl_ciphersuites(self) -> str:
        """The TLS 1.3 cipher suites, in priority order ("" when TLS 1.3 is off)."""
        return ":".join(c.openssl_name for c in self.ciphers if c.tls13)


def _tls13(name: str) -> Cipher:
    return Cipher(name, name, True)


def _tls12(name: str) -> Cipher:
    return Cipher(name, name, False)


# Every cipher AWS's tables list, in the tables' row order; a policy takes its own
# subset in this order.
_ORDER = [_tls13("TLS_AES_128_GCM_SHA256"), _tls13("TLS_AES_256_GCM_SHA384"),
          _tls13("TLS_CHACHA20_POLY1305_SHA256")] + [_tls12(name) for name in (
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA",
    "AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA",
    "DES-CBC3-SHA")]

# Groups of the tables' rows, to spell the policies below.
_TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
_ECDHE_GCM = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
              "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"}
_ECDHE_SHA2 = {"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
               "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384"}
_ECDHE_SHA1 = {"ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
               "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA"}
_RSA_SHA2 = {"AES128-GCM-SHA256", "AES128-SHA256", "AES256-GCM-SHA384", "AES256-SHA256"}
_RSA_SHA1 = {"AES128-SHA", "AES256-SHA"}
_ECDHE = _ECDHE_GCM | _ECDHE_SHA2 | _ECDHE_SHA1
_CLASSIC = _ECDHE | _RSA_SHA2 | _RSA_SHA1      # ELBSecurityPolicy-2016-08's ciphers

_TLS_1_0_UP = ("TLSv1", "TLSv1.1", "TLSv1.2")
_TLS_1_1_UP = ("TLSv1.1", "TLSv1.2")
_TLS_1_2 = ("TLSv1.2",)

# name: (protocols, ciphers), in the order DescribeSSLPolicies lists them.
_TABLE: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "ELBSecurityPolicy-2016-08": (_TLS_1_0_UP, _CLASSIC),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": (
        ("TLSv1.2", "TLSv1.3"), _TLS13 | _ECDHE_GCM | _ECDHE_SHA2),
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": (("TLSv1.2", "TLSv1.3"), _TLS13 | _ECDHE_GCM),
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06": (
        ("TLSv1.2", "TLSv1.3"), _TLS13 | _ECDHE_GCM | _ECDHE_SHA2 | _RSA_SHA2),
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06": (("TLSv1.2", "TLSv1.3"), _TLS13 | _CLASSIC),
    "ELBSecurityPolicy-TLS13-1-1-2021-06": (("TLSv1.1", "TLSv1.2", "TLSv1.3"),
                                            _TLS13 | _CLASSIC),
    "ELBSecurityPolicy-TLS13-1-0-2021-06": (("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
                                            _TLS13 | _CLASSIC),
    "ELBSecurityPolicy-TLS13-1-3-2021-06": (("TLSv1.3",), _TLS13),
    "ELBSecurityPolicy-TLS-1-2-2017-01": (_TLS_1_2, _ECDHE_GCM | _ECDHE_SHA2 | _RSA_SHA2),
    "ELBSecurityPolicy-TLS-1-1-2017-01": (_TLS_1_1_UP, _CLASSIC),
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": (_TLS_1_2, _CLASSIC),
    "ELBSecurityPolicy-FS-2018-06": (_TLS_1_0_UP, _ECDHE),
    # Identical to ELBSecurityPolicy-2016-08, as AWS documents it.
    "ELBSecurityPolicy-2015-05": (_TLS_1_0_UP, _CLASSIC),
    "ELBSecurityPolicy-TLS-1-0-2015-04": (_TLS_1_0_UP, _CLASSIC | {"DES-CBC3-SHA"}),
    "ELBSecurityPolicy-FS-1-2-Res-2019-08": (_TLS_1_2, _ECDHE_GCM | _ECDHE_SHA2),
    "ELBSecurityPolicy-FS-1-1-2019-08": (_TLS_1_1_UP, _ECDHE),
    "ELBSecurityPolicy-FS-1-2-2019-08": (_TLS_1_2, _ECDHE),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": (_TLS_1_2, _ECDHE_GCM),
}

POLICIES: dict[str, SslPolicy] = {
    name: SslPolicy(name, protocols, tuple(c for c in _ORDER if c.name in ciphers))
    for name, (protocols, ciphers) in _TABLE.items()}


def get(name: str) -> SslPolicy | None:
    return POLICIES.get(name)
