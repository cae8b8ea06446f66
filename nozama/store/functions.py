"""The functions, function_versions, function_aliases and function_code tables.

A function row is the function and its $LATEST; `doc` is the configuration
(Runtime, Handler, Timeout, MemorySize, Environment, ...) as the API stores it.
Deployment packages live once per SHA-256 and go when no version uses them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from nozama.store.schema import function_aliases as fa
from nozama.store.schema import function_code as fc
from nozama.store.schema import function_event_configs, function_policies
from nozama.store.schema import function_versions as fv
from nozama.store.schema import functions as fn


def _scope(region: str, account: str):
    return (fn.c.region == region) & (fn.c.account == account)


def get(conn: Connection, region: str, account: str, name: str) -> Row | None:
    return conn.execute(select(fn).where(_scope(region, account), fn.c.name == name)).first()


def create(conn: Connection, region: str, account: str, name: str, arn: str,
           code_sha256: str, created_at: datetime, doc: dict) -> int:
    return conn.execute(insert(fn).values(
        region=region, account=account, name=name, arn=arn, code_sha256=code_sha256,
        last_version=0, created_at=created_at, doc=doc)).inserted_primary_key[0]


def update_latest(conn: Connection, function_id: int, doc: dict,
                  code_sha256: str | None = None) -> None:
    values = {"doc": doc}
    if code_sha256 is not None:
        values["code_sha256"] = code_sha256
    conn.execute(update(fn).where(fn.c.id == function_id).values(**values))


def search(conn: Connection, region: str, account: str, after: str | None,
           limit: int) -> list[Row]:
    query = select(fn).where(_scope(region, account))
    if after is not None:
        query = query.where(fn.c.name > after)
    return list(conn.execute(query.order_by(fn.c.name).limit(limit)))


def _drop_settings(conn: Connection, function_id: int, qualifier: str | None = None) -> None:
    """The policies and event invoke settings of a function (or of one qualifier) go with it."""
    for table in (function_policies, function_event_configs):
        query = delete(table).where(table.c.function_id == function_id)
        if qualifier is not None:
            query = query.where(table.c.qualifier == qualifier)
        conn.execute(query)


def delete_function(conn: Connection, function_id: int) -> None:
    _drop_settings(conn, function_id)
    conn.execute(delete(fa).where(fa.c.function_id == function_id))
    conn.execute(delete(fv).where(fv.c.function_id == function_id))
    conn.execute(delete(fn).where(fn.c.id == function_id))


def set_reserved_concurrency(conn: Connection, function_id: int, value: int | None) -> None:
    conn.execute(update(fn).where(fn.c.id == function_id).values(reserved_concurrency=value))


def total_reserved_concurrency(conn: Connection, region: str, account: str,
                               except_id: int | None = None) -> int:
    query = select(func.coalesce(func.sum(fn.c.reserved_concurrency), 0)).where(
        _scope(region, account))
    if except_id is not None:
        query = query.where(fn.c.id != except_id)
    return int(conn.execute(query).scalar())


# ------------------------------------------------------------------ versions

def publish(conn: Connection, function_id: int, code_sha256: str, doc_for) -> Row:
    """Freeze $LATEST as the next version; `doc_for(number)` makes its configuration."""
    number = conn.execute(update(fn).where(fn.c.id == function_id)
                          .values(last_version=fn.c.last_version + 1)
                          .returning(fn.c.last_version)).scalar()
    conn.execute(insert(fv).values(function_id=function_id, version=number,
                                   code_sha256=code_sha256, doc=doc_for(number)))
    return get_version(conn, function_id, number)


def get_version(conn: Connection, function_id: int, version: int) -> Row | None:
    return conn.execute(select(fv).where(fv.c.function_id == function_id,
                                         fv.c.version == version)).first()


def latest_version(conn: Connection, function_id: int) -> Row | None:
    return conn.execute(select(fv).where(fv.c.function_id == function_id)
                        .order_by(fv.c.version.desc()).limit(1)).first()


def versions(conn: Connection, function_id: int, after: int | None, limit: int) -> list[Row]:
    query = select(fv).where(fv.c.function_id == function_id)
    if after is not None:
        query = query.where(fv.c.version > after)
    return list(conn.execute(query.order_by(fv.c.version).limit(limit)))


def delete_version(conn: Connection, function_id: int, version: int) -> None:
    _drop_settings(conn, function_id, str(version))
    conn.execute(delete(fv).where(fv.c.function_id == function_id, fv.c.version == version))


def version_digests(conn: Connection, function_id: int) -> set[str]:
    """The packages the function's published versions run."""
    return set(conn.execute(select(fv.c.code_sha256).where(fv.c.function_id == function_id))
               .scalars())


# ------------------------------------------------------------------- aliases

def get_alias(conn: Connection, function_id: int, name: str,
              lock: bool = False) -> Row | None:
    """The alias; with lock, its row stays locked until the transaction ends (FOR UPDATE
    on PostgreSQL; SQLAlchemy renders nothing on SQLite, whose writers take turns)."""
    query = select(fa).where(fa.c.function_id == function_id, fa.c.name == name)
    return conn.execute(query.with_for_update() if lock else query).first()


def create_alias(conn: Connection, function_id: int, name: str, doc: dict) -> None:
    conn.execute(insert(fa).values(function_id=function_id, name=name, doc=doc))


def update_alias(conn: Connection, alias_id: int, doc: dict) -> None:
    conn.execute(update(fa).where(fa.c.id == alias_id).values(doc=doc))


def delete_alias(conn: Connection, alias_id: int) -> None:
    alias = conn.execute(select(fa).where(fa.c.id == alias_id)).first()
    if alias is not None:
        _drop_settings(conn, alias.function_id, alias.name)
    conn.execute(delete(fa).where(fa.c.id == alias_id))


def aliases(conn: Connection, function_id: int, after: str | None, limit: int) -> list[Row]:
    query = select(fa).where(fa.c.function_id == function_id)
    if after is not None:
        query = query.where(fa.c.name > after)
    return list(conn.execute(query.order_by(fa.c.name).limit(limit)))


def aliases_for_version(conn: Connection, function_id: int, version: str, after: str | None,
                        limit: int) -> list[Row]:
    """The aliases whose FunctionVersion is `version` (ListAliases' filter), by name."""
    query = select(fa).where(fa.c.function_id == function_id,
                             fa.c.doc["FunctionVersion"].as_string() == version)
    if after is not None:
        query = query.where(fa.c.name > after)
    return list(conn.execute(query.order_by(fa.c.name).limit(limit)))


def aliases_of_version(conn: Connection, function_id: int, version: str) -> list[str]:
    """The names of the aliases that route any traffic to `version`."""
    return [row.name for row in conn.execute(select(fa).where(fa.c.function_id == function_id))
            if row.doc["FunctionVersion"] == version
            or version in (row.doc.get("RoutingConfig") or {}).get(
                "AdditionalVersionWeights", {})]


# ---------------------------------------------------------------------- code

def put_code(conn: Connection, sha256: str, package: bytes) -> None:
    if conn.execute(select(fc.c.sha256).where(fc.c.sha256 == sha256)).first() is None:
        conn.execute(insert(fc).values(sha256=sha256, size=len(package), zip=package))


def get_code(conn: Connection, sha256: str) -> bytes | None:
    return conn.execute(select(fc.c.zip).where(fc.c.sha256 == sha256)).scalar()


def drop_unused_code(conn: Connection, sha256s: set[str]) -> None:
    """Delete the packages among `sha256s` that no function or version uses any more."""
    for sha in sha256s:
        used = conn.execute(select(fn.c.id).where(fn.c.code_sha256 == sha).limit(1)).first() \
            or conn.execute(select(fv.c.id).where(fv.c.code_sha256 == sha).limit(1)).first()
        if not used:
            conn.execute(delete(fc).where(fc.c.sha256 == sha))
