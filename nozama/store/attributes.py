"""The attributes table: attributes of container instances, by cluster and target."""

from __future__ import annotations

from sqlalchemy import Connection

from nozama.store import sql


def of_targets(conn: Connection, cluster_arn: str, target_ids: list[str]) -> dict[str, dict]:
    """{target_id: {name: value}} for the given targets."""
    found: dict[str, dict] = {t: {} for t in target_ids}
    if not target_ids:
        return found
    rows = sql.all_rows(conn, "SELECT target_id, name, value FROM attributes WHERE "
                              f"cluster_arn = ? AND target_id IN "
                              f"({sql.placeholders(len(target_ids))}) ORDER BY name",
                        (cluster_arn, *target_ids))
    for target_id, name, value in rows:
        found[target_id][name] = value
    return found


def put(conn: Connection, cluster_arn: str, target_type: str, target_id: str,
        values: dict[str, str | None]) -> None:
    if not values:
        return
    remove(conn, cluster_arn, target_id, list(values))
    sql.run_many(conn, "INSERT INTO attributes (cluster_arn, target_id, target_type, name, "
                       "value) VALUES (?, ?, ?, ?, ?)",
                 [(cluster_arn, target_id, target_type, n, v) for n, v in values.items()])


def remove(conn: Connection, cluster_arn: str, target_id: str, names: list[str]) -> None:
    if names:
        sql.run(conn, "DELETE FROM attributes WHERE cluster_arn = ? AND target_id = ? AND name "
                      f"IN ({sql.placeholders(len(names))})", (cluster_arn, target_id, *names))


def remove_target(conn: Connection, cluster_arn: str, target_id: str) -> None:
    sql.run(conn, "DELETE FROM attributes WHERE cluster_arn = ? AND target_id = ?",
            (cluster_arn, target_id))


def search(conn: Connection, cluster_arn: str, target_type: str, name: str | None,
           value: str | None, after: list | None, limit: int) -> list:
    """(name, value, target_id) rows ordered by (target_id, name), after the key `after`."""
    where, params = ["cluster_arn = ?", "target_type = ?"], [cluster_arn, target_type]
    if name is not None:
        where.append("name = ?")
        params.append(name)
    if value is not None:
        where.append("value = ?")
        params.append(value)
    if after is not None:
        where.append("(target_id > ? OR (target_id = ? AND name > ?))")
        params += [after[0], after[0], after[1]]
    return sql.all_rows(conn, f"SELECT name, value, target_id FROM attributes WHERE "
                              f"{' AND '.join(where)} ORDER BY target_id, name LIMIT ?",
                        (*params, limit))
