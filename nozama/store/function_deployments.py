"""The function_deployments table: traffic-shifted function deployments.

`doc` is the deployment as `nozama functions deployment describe` shows it:
the plan, the step it is at and when that step began, its status and events.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, update

from nozama.store.schema import function_deployments as fd

ACTIVE = "InProgress"


def create(conn: Connection, region: str, account: str, doc: dict,
           created_at: datetime) -> None:
    conn.execute(insert(fd).values(region=region, account=account,
                                   deployment_id=doc["deploymentId"],
                                   function_name=doc["functionName"], status=doc["status"],
                                   created_at=created_at, doc=doc))


def get(conn: Connection, region: str, account: str, deployment_id: str,
        lock: bool = False) -> Row | None:
    """The deployment; with lock, its row stays locked until the transaction ends (lock
    order: the deployment, then its alias)."""
    query = select(fd).where(fd.c.region == region, fd.c.account == account,
                             fd.c.deployment_id == deployment_id)
    return conn.execute(query.with_for_update() if lock else query).first()


def get_active(conn: Connection, region: str, account: str, deployment_id: str,
               lock: bool = False) -> Row | None:
    """The deployment, if it is still in progress."""
    row = get(conn, region, account, deployment_id, lock)
    return row if row is not None and row.status == ACTIVE else None


def save(conn: Connection, row_id: int, doc: dict) -> None:
    conn.execute(update(fd).where(fd.c.id == row_id).values(status=doc["status"], doc=doc))


def active(conn: Connection) -> list[Row]:
    """Every deployment in progress, of every region: what the workflow drives."""
    return list(conn.execute(select(fd).where(fd.c.status == ACTIVE).order_by(fd.c.id)))


def search(conn: Connection, region: str, account: str, function_name: str | None,
           limit: int = 100) -> list[Row]:
    query = select(fd).where(fd.c.region == region, fd.c.account == account)
    if function_name:
        query = query.where(fd.c.function_name == function_name)
    return list(conn.execute(query.order_by(fd.c.id.desc()).limit(limit)))
