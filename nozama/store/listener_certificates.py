"""The listener_certificates table: each HTTPS listener's default certificate and its
certificate list (SNI).

What the load balancers' data plane reads: `of_listeners(conn, listener_arns)` gives,
per listener, its default certificate's ARN and its SNI certificates' ARNs; the PEM
texts of each come from store/certificates.py `material`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from nozama.store import sql


@dataclass
class ListenerCertificates:
    default: str | None = None
    sni: list[str] = field(default_factory=list)


def set_default(conn: Connection, listener_arn: str, load_balancer_arn: str,
                certificate_arn: str) -> None:
    """Make `certificate_arn` the listener's default certificate (replacing the former
    default, which leaves the listener)."""
    sql.run(conn, "DELETE FROM listener_certificates WHERE listener_arn = ? AND "
                  "(is_default = ? OR certificate_arn = ?)",
            (listener_arn, True, certificate_arn))
    sql.run(conn, "INSERT INTO listener_certificates (listener_arn, certificate_arn, "
                  "load_balancer_arn, is_default) VALUES (?, ?, ?, ?)",
            (listener_arn, certificate_arn, load_balancer_arn, True))


def add(conn: Connection, listener_arn: str, load_balancer_arn: str,
        certificate_arns: list[str]) -> None:
    """Add certificates to the listener's list; those it has already stay as they are."""
    present = set(arns_of(conn, listener_arn))
    sql.run_many(conn, "INSERT INTO listener_certificates (listener_arn, certificate_arn, "
                       "load_balancer_arn, is_default) VALUES (?, ?, ?, ?)",
                 [(listener_arn, arn, load_balancer_arn, False)
                  for arn in dict.fromkeys(certificate_arns) if arn not in present])


def remove(conn: Connection, listener_arn: str, certificate_arns: list[str]) -> None:
    """Take certificates off the listener's list (never its default)."""
    if certificate_arns:
        sql.run(conn, f"DELETE FROM listener_certificates WHERE listener_arn = ? AND "
                      f"is_default = ? AND certificate_arn IN "
                      f"({sql.placeholders(len(certificate_arns))})",
                (listener_arn, False, *certificate_arns))


def remove_all(conn: Connection, listener_arn: str) -> None:
    sql.run(conn, "DELETE FROM listener_certificates WHERE listener_arn = ?", (listener_arn,))


def of_listener(conn: Connection, listener_arn: str) -> list:
    """(certificate_arn, is_default) rows, the default first, then by ARN."""
    return sql.all_rows(conn, "SELECT certificate_arn, is_default FROM listener_certificates "
                              "WHERE listener_arn = ? ORDER BY CASE WHEN is_default = ? THEN 0 "
                              "ELSE 1 END, certificate_arn", (listener_arn, True))


def arns_of(conn: Connection, listener_arn: str) -> list[str]:
    return [row.certificate_arn for row in of_listener(conn, listener_arn)]


def of_listeners(conn: Connection, listener_arns: list[str]) -> dict[str, ListenerCertificates]:
    """Per listener (HTTPS ones only appear): its default and SNI certificate ARNs."""
    found: dict[str, ListenerCertificates] = {}
    if not listener_arns:
        return found
    rows = sql.all_rows(conn, f"SELECT listener_arn, certificate_arn, is_default FROM "
                              f"listener_certificates WHERE listener_arn IN "
                              f"({sql.placeholders(len(listener_arns))}) "
                              "ORDER BY listener_arn, certificate_arn", tuple(listener_arns))
    for row in rows:
        entry = found.setdefault(row.listener_arn, ListenerCertificates())
        if row.is_default:
            entry.default = row.certificate_arn
        else:
            entry.sni.append(row.certificate_arn)
    return found


def load_balancers_using(conn: Connection, certificate_arn: str) -> list[str]:
    """The load balancers whose listeners use the certificate (ACM's InUseBy)."""
    return sql.column(conn, "SELECT DISTINCT load_balancer_arn FROM listener_certificates "
                            "WHERE certificate_arn = ? ORDER BY load_balancer_arn",
                      (certificate_arn,))


def in_use(conn: Connection, certificate_arn: str) -> bool:
    return sql.scalar(conn, "SELECT 1 FROM listener_certificates WHERE certificate_arn = ? "
                            "LIMIT 1", (certificate_arn,)) is not None


def in_use_among(conn: Connection, certificate_arns: list[str]) -> set[str]:
    """Which of these certificates some listener uses."""
    if not certificate_arns:
        return set()
    return set(sql.column(conn, f"SELECT DISTINCT certificate_arn FROM listener_certificates "
                                f"WHERE certificate_arn IN "
                                f"({sql.placeholders(len(certificate_arns))})",
                          tuple(certificate_arns)))
