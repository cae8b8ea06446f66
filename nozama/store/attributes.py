"""The attributes table: attributes of container instances, by cluster and target."""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, insert, or_, select

from nozama.store.schema import attributes as at


def of_targets(conn: Connection, cluster_arn: str, target_ids: list[str]) -> dict[str, dict]:
    """{target_id: {name: value}} for the given targets."""
    found: dict[str, dict] = {t: {} for t in target_ids}
    rows = conn.execute(select(at.c.target_id, at.c.name, at.c.value).where(
        at.c.cluster_arn == cluster_arn, at.c.target_id.in_(target_ids)).order_by(at.c.name))
    for target_id, name, value in rows:
        found[target_id][name] = value
    return found


def put(conn: Connection, cluster_arn: str, target_type: str, target_id: str,
        values: dict[str, str | None]) -> None:
    if not values:
        return
    conn.execute(delete(at).where(at.c.cluster_arn == cluster_arn, at.c.target_id == target_id,
                                  at.c.name.in_(list(values))))
    conn.execute(insert(at), [{"cluster_arn": cluster_arn, "target_id": target_id,
                               "target_type": target_type, "name": n, "value": v}
                              for n, v in values.items()])


def remove(conn: Connection, cluster_arn: str, target_id: str, names: list[str]) -> None:
    conn.execute(delete(at).where(at.c.cluster_arn == cluster_arn, at.c.target_id == target_id,
                                  at.c.name.in_(names)))


def remove_target(conn: Connection, cluster_arn: str, target_id: str) -> None:
    conn.execute(delete(at).where(at.c.cluster_arn == cluster_arn, at.c.target_id == target_id))


def search(conn: Connection, cluster_arn: str, target_type: str, name: str | None,
           value: str | None, after: list | None, limit: int) -> list[tuple]:
    """(name, value, target_id) rows ordered by (target_id, name), after the key `after`."""
    query = select(at.c.name, at.c.value, at.c.target_id).where(
        at.c.cluster_arn == cluster_arn, at.c.target_type == target_type)
    if name is not None:
        query = query.where(at.c.name == name)
    if value is not None:
        query = query.where(at.c.value == value)
    if after is not None:
        target, attr = after
        query = query.where(or_(at.c.target_id > target,
                                and_(at.c.target_id == target, at.c.name > attr)))
    return list(conn.execute(query.order_by(at.c.target_id, at.c.name).limit(limit)))
