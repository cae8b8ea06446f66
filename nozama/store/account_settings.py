"""The account_settings table: ECS account settings, per principal, in one region."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql


def put(conn: Connection, region: str, account: str, principal_arn: str, name: str,
        value: str) -> None:
    sql.run(conn, "INSERT INTO account_settings (region, account, principal_arn, name, value) "
                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT (region, account, principal_arn, name) "
                  "DO UPDATE SET value = excluded.value",
            (region, account, principal_arn, name, value))


def get(conn: Connection, region: str, account: str, principal_arn: str,
        name: str) -> str | None:
    return sql.scalar(conn, "SELECT value FROM account_settings WHERE region = ? AND "
                            "account = ? AND principal_arn = ? AND name = ?",
                      (region, account, principal_arn, name))


def remove(conn: Connection, region: str, account: str, principal_arn: str, name: str) -> None:
    sql.run(conn, "DELETE FROM account_settings WHERE region = ? AND account = ? AND "
                  "principal_arn = ? AND name = ?", (region, account, principal_arn, name))


def of_principals(conn: Connection, region: str, account: str,
                  principal_arns: list[str]) -> dict[tuple[str, str], str]:
    """{(principal_arn, name): value} of the settings the principals set themselves."""
    rows = sql.all_rows(conn, "SELECT principal_arn, name, value FROM account_settings "
                              "WHERE region = ? AND account = ? AND principal_arn IN "
                              f"({sql.placeholders(len(principal_arns))})",
                        (region, account, *principal_arns))
    return {(principal, name): value for principal, name, value in rows}
