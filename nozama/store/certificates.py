"""The certificates table (ACM), and the root of Nozama's certificate authority.

`material(conn, arn)` is what the load balancers' data plane reads: a listener's
certificate, its chain and its private key, as PEM texts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy import Connection

from nozama.store import server_keys, sql
from nozama.store import tags as tag_store

_SCOPE = "region = ? AND account = ?"
# The server_keys row that holds the root's certificate and key (one PEM text).
AUTHORITY_KEY = "certificate-authority"


def create(conn: Connection, region: str, account: str, arn: str, status: str,
           key_algorithm: str, created_at: datetime, token: str | None, certificate: str,
           chain: str | None, private_key: str, doc: dict) -> None:
    sql.run(conn, "INSERT INTO certificates (region, account, arn, status, key_algorithm, "
                  "created_at, idempotency_token, certificate, chain, private_key, doc) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (region, account, arn, status, key_algorithm, created_at, token, certificate,
             chain, private_key, doc))


def get(conn: Connection, arn: str):
    return sql.one(conn, "SELECT * FROM certificates WHERE arn = ?", (arn,))


def exists(conn: Connection, arn: str) -> bool:
    return sql.scalar(conn, "SELECT 1 FROM certificates WHERE arn = ?", (arn,)) is not None


def by_token(conn: Connection, region: str, account: str, token: str, since: datetime):
    """The certificate a RequestCertificate with this IdempotencyToken made after `since`."""
    return sql.one(conn, f"SELECT * FROM certificates WHERE {_SCOPE} AND idempotency_token = ? "
                         "AND created_at > ? ORDER BY created_at DESC LIMIT 1",
                   (region, account, token, since))


def replace(conn: Connection, arn: str, key_algorithm: str, certificate: str,
            chain: str | None, private_key: str, doc: dict) -> None:
    """A reimport: new PEM texts and fields under the same ARN."""
    sql.run(conn, "UPDATE certificates SET key_algorithm = ?, certificate = ?, chain = ?, "
                  "private_key = ?, doc = ? WHERE arn = ?",
            (key_algorithm, certificate, chain, private_key, doc, arn))


def page(conn: Connection, region: str, account: str, after: str, limit: int,
         statuses: list[str], key_algorithms: list[str]) -> list:
    """Certificates after ARN `after`, by ARN, of these statuses (all when empty) and
    key algorithms."""
    where, params = [_SCOPE, "arn > ?"], [region, account, after]
    if statuses:
        where.append(f"status IN ({sql.placeholders(len(statuses))})")
        params += statuses
    where.append(f"key_algorithm IN ({sql.placeholders(len(key_algorithms))})")
    params += key_algorithms
    return sql.all_rows(conn, f"SELECT arn, status, key_algorithm, created_at, doc FROM "
                              f"certificates WHERE {' AND '.join(where)} ORDER BY arn LIMIT ?",
                        (*params, limit))


def delete(conn: Connection, arn: str) -> None:
    tag_store.remove_all(conn, arn)
    sql.run(conn, "DELETE FROM certificates WHERE arn = ?", (arn,))


def material(conn: Connection, arn: str) -> tuple[str, str | None, str] | None:
    """(certificate PEM, chain PEM or None, private key PEM) of a certificate, or None
    when there is no such certificate. The chain of an issued certificate is Nozama's
    root; an imported one has the chain it was imported with, if any."""
    row = sql.one(conn, "SELECT certificate, chain, private_key FROM certificates "
                        "WHERE arn = ?", (arn,))
    return None if row is None else (row.certificate, row.chain, row.private_key)


def authority(conn: Connection, make: Callable[[], bytes]) -> bytes:
    """The root of the certificate authority (made by `make()` on first use, by
    whichever server comes first: all servers of one store sign with the same one)."""
    return server_keys.key(conn, AUTHORITY_KEY, make)


def authority_if_any(conn: Connection) -> bytes | None:
    return server_keys.get(conn, AUTHORITY_KEY)
