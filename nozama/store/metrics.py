"""The metric_series and metric_points tables: CloudWatch metrics and their data.

A write appends one point per metric and second; it never updates a point, so
the load balancer's data plane and PutMetricData never conflict. The roll-up
turns seconds older than the high-resolution window into minutes, and expiry
drops minutes past retention, both by the (resolution, ts) index.
"""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy import Connection, Row, delete, insert, select

from nozama.store import sql

from nozama.model.statistics import Aggregate
from nozama.store.schema import metric_points as mp
from nozama.store.schema import metric_series as ms


def dims_hash(dimensions: list[dict]) -> str:
    """The same for the same set of dimensions, whatever their order."""
    canonical = sorted((d["Name"], d["Value"]) for d in dimensions)
    return hashlib.sha1(orjson.dumps(canonical)).hexdigest()


def _scope(region: str, account: str):
    return (ms.c.region == region) & (ms.c.account == account)


def find(conn: Connection, region: str, account: str, namespace: str, name: str,
         dimensions: list[dict]) -> Row | None:
    return conn.execute(select(ms).where(
        _scope(region, account), ms.c.namespace == namespace, ms.c.metric_name == name,
        ms.c.dims_hash == dims_hash(dimensions))).first()


# Series ids by (region, account, namespace, name, dims_hash), kept with each database
# connection (conn.info lives as long as the connection the Store holds). A metric row
# is never deleted, so an id once found stays right; the data plane writes the same
# few dozen metrics every second and skips their lookups.
_IDS = "metric_series_ids"


def _series_id(conn: Connection, region: str, account: str, namespace: str, name: str,
               dimensions: list[dict]) -> int:
    digest = dims_hash(dimensions)
    ids = conn.info.setdefault(_IDS, {})
    key = (region, account, namespace, name, digest)
    found = ids.get(key)
    if found is not None:
        return found
    lookup = ("SELECT id FROM metric_series WHERE region = ? AND account = ? AND namespace = ? "
              "AND metric_name = ? AND dims_hash = ?")
    params = (region, account, namespace, name, digest)
    found = sql.scalar(conn, lookup, params)
    if found is None:
        # Another writer may create the same metric at the same moment: let it.
        sql.run(conn, "INSERT INTO metric_series (region, account, namespace, metric_name, "
                      "dims_hash, dimensions, total_count, total_sum) VALUES "
                      "(?, ?, ?, ?, ?, ?, 0, 0) ON CONFLICT DO NOTHING",
                (*params, sorted(dimensions, key=lambda d: d["Name"])))
        found = sql.scalar(conn, lookup, params)
    ids[key] = found
    return found


def append(conn: Connection, region: str, account: str, data: list[tuple]) -> None:
    """Record data: (namespace, metric name, dimensions, unit, epoch second, Aggregate)."""
    points, totals = [], {}
    for namespace, name, dimensions, unit, ts, agg in data:
        series = _series_id(conn, region, account, namespace, name, dimensions)
        points.append((series, ts, agg.count, agg.sum, agg.min, agg.max, agg.sketch))
        count, total, last, last_at, _ = totals.get(series, (0.0, 0.0, None, None, None))
        if last_at is None or ts >= last_at:
            last, last_at = agg.sum / agg.count, ts
        totals[series] = (count + agg.count, total + agg.sum, last, last_at, unit)
    sql.run_many(conn, "INSERT INTO metric_points (series_id, resolution, ts, sample_count, "
                       "sum, minimum, maximum, sketch) VALUES (?, 1, ?, ?, ?, ?, ?, ?)", points)
    # The last value is the newest point's, whichever write came first.
    sql.run_many(conn, "UPDATE metric_series SET total_count = total_count + ?, "
                       "total_sum = total_sum + ?, unit = COALESCE(?, unit), "
                       "last_value = CASE WHEN last_at IS NULL OR last_at <= ? THEN ? "
                       "ELSE last_value END, "
                       "last_at = CASE WHEN last_at IS NULL OR last_at <= ? THEN ? "
                       "ELSE last_at END WHERE id = ?",
                 [(count, total, unit, last_at, last, last_at, last_at, series)
                  for series, (count, total, last, last_at, unit) in totals.items()])


def points(conn: Connection, series_id: int, start: int, end: int) -> list[Row]:
    """The series' points with start <= ts < end, seconds and minutes alike."""
    return list(conn.execute(
        select(mp.c.ts, mp.c.sample_count, mp.c.sum, mp.c.minimum, mp.c.maximum, mp.c.sketch)
        .where(mp.c.series_id == series_id, mp.c.ts >= start, mp.c.ts < end)))


def search(conn: Connection, region: str, account: str, *, namespace: str | None,
           name: str | None, active_since: int | None, after_id: int | None,
           limit: int) -> list[Row]:
    """Metrics by id, optionally of one namespace and name, written to since a time."""
    query = select(ms).where(_scope(region, account))
    if namespace:
        query = query.where(ms.c.namespace == namespace)
    if name:
        query = query.where(ms.c.metric_name == name)
    if active_since is not None:
        query = query.where(ms.c.last_at >= active_since)
    if after_id is not None:
        query = query.where(ms.c.id > after_id)
    return list(conn.execute(query.order_by(ms.c.id).limit(limit)))


def every(conn: Connection) -> list[Row]:
    """Every metric of every region (the Prometheus exposition)."""
    return list(conn.execute(select(ms).order_by(ms.c.namespace, ms.c.metric_name, ms.c.id)))


def recent_points(conn: Connection, since: int) -> list[Row]:
    return list(conn.execute(
        select(mp.c.series_id, mp.c.ts, mp.c.sample_count, mp.c.sum, mp.c.minimum,
               mp.c.maximum, mp.c.sketch)
        .where(mp.c.resolution == 1, mp.c.ts >= since)))


def roll_up(conn: Connection, before: int, limit: int = 20_000) -> int:
    """Merge up to `limit` one-second points older than `before` into one-minute points.

    Returns how many seconds were rolled up (fewer than `limit`: nothing is left).
    """
    rows = list(conn.execute(
        select(mp.c.id, mp.c.series_id, mp.c.ts, mp.c.sample_count, mp.c.sum, mp.c.minimum,
               mp.c.maximum, mp.c.sketch)
        .where(mp.c.resolution == 1, mp.c.ts < before).order_by(mp.c.ts).limit(limit)))
    minutes: dict[tuple[int, int], Aggregate] = {}
    for row in rows:
        part = Aggregate(row.sample_count, row.sum, row.minimum, row.maximum, row.sketch)
        key = (row.series_id, row.ts - row.ts % 60)
        if key in minutes:
            minutes[key].merge(part)
        else:
            minutes[key] = part.copy()
    if minutes:
        conn.execute(insert(mp), [
            {"series_id": series, "resolution": 60, "ts": ts, "sample_count": agg.count,
             "sum": agg.sum, "minimum": agg.min, "maximum": agg.max, "sketch": agg.sketch}
            for (series, ts), agg in minutes.items()])
        ids = [row.id for row in rows]
        for i in range(0, len(ids), 500):
            conn.execute(delete(mp).where(mp.c.id.in_(ids[i:i + 500])))
    return len(rows)


def expire(conn: Connection, before: int) -> None:
    """Drop rolled-up minutes older than `before`."""
    conn.execute(delete(mp).where(mp.c.resolution == 60, mp.c.ts < before))
