"""The metric_alarms and alarm_history tables.

An alarm row is the MetricAlarm shape as DescribeAlarms returns it (times as
epoch seconds), with its name and state as columns for lookups and filters.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, delete, insert, select, update

from nozama.store.log_groups import prefix_range
from nozama.store.schema import alarm_history as ah
from nozama.store.schema import metric_alarms as ma


def _scope(region: str, account: str):
    return (ma.c.region == region) & (ma.c.account == account)


def get(conn: Connection, region: str, account: str, name: str) -> Row | None:
    return conn.execute(select(ma).where(_scope(region, account), ma.c.name == name)).first()


def put(conn: Connection, region: str, account: str, doc: dict) -> None:
    """Create the alarm, or replace the configuration of the one of that name."""
    values = {"state_value": doc["StateValue"], "doc": doc}
    done = conn.execute(update(ma).where(_scope(region, account),
                                         ma.c.name == doc["AlarmName"]).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(ma).values(region=region, account=account, name=doc["AlarmName"],
                                       arn=doc["AlarmArn"], **values))


def search(conn: Connection, region: str, account: str, *, names: list[str] | None = None,
           prefix: str | None = None, state: str | None = None, after: str | None = None,
           limit: int | None = None) -> list[Row]:
    """Alarms by name, starting after the name `after`."""
    query = select(ma).where(_scope(region, account))
    if names is not None:
        query = query.where(ma.c.name.in_(names))
    if prefix:
        query = query.where(prefix_range(ma.c.name, prefix))
    if state:
        query = query.where(ma.c.state_value == state)
    if after is not None:
        query = query.where(ma.c.name > after)
    query = query.order_by(ma.c.name)
    return list(conn.execute(query if limit is None else query.limit(limit)))


def every(conn: Connection) -> list[Row]:
    """Every alarm of every region, for the evaluator."""
    return list(conn.execute(select(ma)))


def set_state(conn: Connection, alarm_id: int, doc: dict) -> None:
    conn.execute(update(ma).where(ma.c.id == alarm_id).values(state_value=doc["StateValue"],
                                                              doc=doc))


def remove(conn: Connection, region: str, account: str, names: list[str]) -> None:
    conn.execute(delete(ma).where(_scope(region, account), ma.c.name.in_(names)))
    conn.execute(delete(ah).where((ah.c.region == region) & (ah.c.account == account),
                                  ah.c.alarm_name.in_(names)))


def add_history(conn: Connection, region: str, account: str, name: str, at: datetime,
                item_type: str, summary: str, data: str) -> None:
    conn.execute(insert(ah).values(region=region, account=account, alarm_name=name,
                                   timestamp=at, item_type=item_type,
                                   doc={"HistorySummary": summary, "HistoryData": data}))


def history(conn: Connection, region: str, account: str, *, name: str | None,
            item_type: str | None, start: datetime | None, end: datetime | None,
            descending: bool, after_id: int | None, limit: int) -> list[Row]:
    query = select(ah).where((ah.c.region == region) & (ah.c.account == account))
    if name:
        query = query.where(ah.c.alarm_name == name)
    if item_type:
        query = query.where(ah.c.item_type == item_type)
    if start is not None:
        query = query.where(ah.c.timestamp >= start)
    if end is not None:
        query = query.where(ah.c.timestamp <= end)
    if after_id is not None:
        query = query.where(ah.c.id < after_id if descending else ah.c.id > after_id)
    order = (ah.c.timestamp.desc(), ah.c.id.desc()) if descending else (ah.c.timestamp, ah.c.id)
    return list(conn.execute(query.order_by(*order).limit(limit)))
