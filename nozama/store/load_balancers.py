"""The load_balancers, listeners and listener_rules tables, the target groups each of
them forwards to, and the generation counter the load balancer's data plane watches.
Deleting a resource deletes what belongs to it, tags included."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nozama.model import lb_rules
from nozama.store import listener_certificates, sql
from nozama.store import tags as tag_store

_SCOPE = "region = ? AND account = ?"


def bump_generation(conn: Connection) -> None:
    """Tell the data plane that its configuration changed."""
    if not sql.run(conn, "UPDATE lb_generation SET generation = generation + 1 WHERE id = 1"):
        sql.run(conn, "INSERT INTO lb_generation (id, generation) VALUES (1, 1)")


def generation(conn: Connection) -> int:
    return sql.scalar(conn, "SELECT generation FROM lb_generation WHERE id = 1") or 0


# ---------------------------------------------------------------- load balancers

def create(conn: Connection, region: str, account: str, name: str, arn: str, address: str,
           created_at: datetime, doc: dict) -> None:
    sql.run(conn, "INSERT INTO load_balancers (region, account, name, arn, address, created_at, "
                  "doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (region, account, name, arn, address, created_at, doc))


def count(conn: Connection, region: str, account: str) -> int:
    return sql.scalar(conn, f"SELECT count(*) FROM load_balancers WHERE {_SCOPE}",
                      (region, account))


def addresses(conn: Connection) -> set[str]:
    return set(sql.column(conn, "SELECT address FROM load_balancers"))


def arns_and_addresses(conn: Connection) -> list[tuple[str, str]]:
    return [(r.arn, r.address) for r in sql.all_rows(
        conn, "SELECT arn, address FROM load_balancers ORDER BY id")]


def set_address(conn: Connection, arn: str, address: str) -> None:
    sql.run(conn, "UPDATE load_balancers SET address = ? WHERE arn = ?", (address, arn))


def get(conn: Connection, arn: str):
    return sql.one(conn, "SELECT * FROM load_balancers WHERE arn = ?", (arn,))


def by_name(conn: Connection, region: str, account: str, name: str):
    return sql.one(conn, f"SELECT * FROM load_balancers WHERE {_SCOPE} AND name = ?",
                   (region, account, name))


def by_arns(conn: Connection, region: str, account: str, arns: list[str]) -> list:
    return sql.all_rows(conn, f"SELECT * FROM load_balancers WHERE {_SCOPE} AND arn IN "
                              f"({sql.placeholders(len(arns))})", (region, account, *arns))


def by_names(conn: Connection, region: str, account: str, names: list[str]) -> list:
    return sql.all_rows(conn, f"SELECT * FROM load_balancers WHERE {_SCOPE} AND name IN "
                              f"({sql.placeholders(len(names))})", (region, account, *names))


def page(conn: Connection, region: str, account: str, after: str, limit: int) -> list:
    return sql.all_rows(conn, f"SELECT * FROM load_balancers WHERE {_SCOPE} AND arn > ? "
                              "ORDER BY arn LIMIT ?", (region, account, after, limit))


def save(conn: Connection, arn: str, doc: dict) -> None:
    sql.run(conn, "UPDATE load_balancers SET doc = ? WHERE arn = ?", (doc, arn))


def mark_served(conn: Connection, arns: list[str], at: datetime,
                problems: dict[str, str] | None = None) -> None:
    """A data plane serves these load balancers (its heartbeat); `problems` says, of those
    it serves only in part, why."""
    problems = problems or {}
    fine = [arn for arn in arns if arn not in problems]
    if fine:
        sql.run(conn, f"UPDATE load_balancers SET served_at = ?, served_problem = NULL "
                      f"WHERE arn IN ({sql.placeholders(len(fine))})", (at, *fine))
    for arn, problem in problems.items():
        sql.run(conn, "UPDATE load_balancers SET served_at = ?, served_problem = ? "
                      "WHERE arn = ?", (at, problem, arn))


def presence(conn: Connection):
    """(how many load balancers exist, the latest time any was served, the oldest's
    creation time), over every region and account."""
    return sql.one(conn, "SELECT count(*) AS balancers, max(served_at) AS last_served_at, "
                         "min(created_at) AS first_created_at FROM load_balancers")


def delete(conn: Connection, arn: str) -> None:
    for listener_arn in sql.column(conn, "SELECT arn FROM listeners WHERE load_balancer_arn = ?",
                                   (arn,)):
        delete_listener(conn, listener_arn)
    tag_store.remove_all(conn, arn)
    sql.run(conn, "DELETE FROM load_balancers WHERE arn = ?", (arn,))


# ---------------------------------------------------------------- listeners

def create_listener(conn: Connection, region: str, account: str, load_balancer_arn: str,
                    arn: str, port: int, doc: dict) -> None:
    sql.run(conn, "INSERT INTO listeners (region, account, load_balancer_arn, arn, port, doc) "
                  "VALUES (?, ?, ?, ?, ?, ?)", (region, account, load_balancer_arn, arn, port, doc))


def listener(conn: Connection, arn: str):
    return sql.one(conn, "SELECT * FROM listeners WHERE arn = ?", (arn,))


def listener_on_port(conn: Connection, load_balancer_arn: str, port: int):
    return sql.one(conn, "SELECT * FROM listeners WHERE load_balancer_arn = ? AND port = ?",
                   (load_balancer_arn, port))


def listeners_of(conn: Connection, load_balancer_arn: str, after: str, limit: int) -> list:
    return sql.all_rows(conn, "SELECT * FROM listeners WHERE load_balancer_arn = ? AND arn > ? "
                              "ORDER BY arn LIMIT ?", (load_balancer_arn, after, limit))


def listener_count(conn: Connection, load_balancer_arn: str) -> int:
    return sql.scalar(conn, "SELECT count(*) FROM listeners WHERE load_balancer_arn = ?",
                      (load_balancer_arn,))


def listeners_by_arns(conn: Connection, region: str, account: str, arns: list[str]) -> list:
    return sql.all_rows(conn, f"SELECT * FROM listeners WHERE {_SCOPE} AND arn IN "
                              f"({sql.placeholders(len(arns))}) ORDER BY arn",
                        (region, account, *arns))


def save_listener(conn: Connection, arn: str, port: int, doc: dict) -> None:
    sql.run(conn, "UPDATE listeners SET port = ?, doc = ? WHERE arn = ?", (port, doc, arn))


def delete_listener(conn: Connection, arn: str) -> None:
    for rule_arn in sql.column(conn, "SELECT arn FROM listener_rules WHERE listener_arn = ?",
                               (arn,)):
        delete_rule(conn, rule_arn)
    set_uses(conn, arn, "", [])
    listener_certificates.remove_all(conn, arn)
    tag_store.remove_all(conn, arn)
    sql.run(conn, "DELETE FROM listeners WHERE arn = ?", (arn,))


# ---------------------------------------------------------------- rules

def create_rule(conn: Connection, region: str, account: str, listener_arn: str, arn: str,
                priority: int | None, doc: dict) -> None:
    sql.run(conn, "INSERT INTO listener_rules (region, account, listener_arn, arn, priority, doc) "
                  "VALUES (?, ?, ?, ?, ?, ?)", (region, account, listener_arn, arn, priority, doc))


def rule(conn: Connection, arn: str):
    return sql.one(conn, "SELECT * FROM listener_rules WHERE arn = ?", (arn,))


def rules_by_arns(conn: Connection, region: str, account: str, arns: list[str]) -> list:
    return sql.all_rows(conn, f"SELECT * FROM listener_rules WHERE {_SCOPE} AND arn IN "
                              f"({sql.placeholders(len(arns))})", (region, account, *arns))


def rules_of(conn: Connection, listener_arn: str) -> list:
    """The listener's rules by priority, its default rule (priority NULL) last."""
    return sql.all_rows(conn, "SELECT * FROM listener_rules WHERE listener_arn = ? ORDER BY "
                              "CASE WHEN priority IS NULL THEN 1 ELSE 0 END, priority",
                        (listener_arn,))


def rule_count(conn: Connection, listener_arn: str) -> int:
    return sql.scalar(conn, "SELECT count(*) FROM listener_rules WHERE listener_arn = ? AND "
                            "priority IS NOT NULL", (listener_arn,))


def rule_with_priority(conn: Connection, listener_arn: str, priority: int):
    return sql.one(conn, "SELECT * FROM listener_rules WHERE listener_arn = ? AND priority = ?",
                   (listener_arn, priority))


def save_rule(conn: Connection, arn: str, priority: int | None, doc: dict) -> None:
    sql.run(conn, "UPDATE listener_rules SET priority = ?, doc = ? WHERE arn = ?",
            (priority, doc, arn))


def replace_rule_actions(conn: Connection, row, actions: list[dict]) -> None:
    """Give a rule (a listener's default rule included) new actions, for the data plane
    to apply to new requests."""
    owner = listener(conn, row.listener_arn)
    uses = lb_rules.target_group_arns(actions)
    if row.doc.get("IsDefault"):
        save_listener(conn, owner.arn, owner.port, {**owner.doc, "DefaultActions": actions})
        set_uses(conn, owner.arn, owner.load_balancer_arn, uses)
    else:
        set_uses(conn, row.arn, owner.load_balancer_arn, uses)
    save_rule(conn, row.arn, row.priority, {**row.doc, "Actions": actions})
    bump_generation(conn)


def delete_rule(conn: Connection, arn: str) -> None:
    set_uses(conn, arn, "", [])
    tag_store.remove_all(conn, arn)
    sql.run(conn, "DELETE FROM listener_rules WHERE arn = ?", (arn,))


# ---------------------------------------------------------------- target group uses

def set_uses(conn: Connection, user_arn: str, load_balancer_arn: str,
             target_group_arns: list[str]) -> None:
    """Record the target groups a listener's default actions or a rule forwards to."""
    sql.run(conn, "DELETE FROM target_group_uses WHERE user_arn = ?", (user_arn,))
    sql.run_many(conn, "INSERT INTO target_group_uses (target_group_arn, user_arn, "
                       "load_balancer_arn) VALUES (?, ?, ?)",
                 [(tg, user_arn, load_balancer_arn) for tg in dict.fromkeys(target_group_arns)])


def load_balancers_using(conn: Connection, target_group_arn: str) -> list[str]:
    return sql.column(conn, "SELECT DISTINCT load_balancer_arn FROM target_group_uses WHERE "
                            "target_group_arn = ? ORDER BY load_balancer_arn",
                      (target_group_arn,))
