"""The alarm evaluator: moves each metric alarm's state as its metric's data comes in.

Every TICK it looks at every alarm; one whose latest complete period has not
been evaluated yet (or whose configuration changed) is evaluated over its last
EvaluationPeriods periods (metrics/alarms.py), and a change of state is
recorded with a history item. A period counts as complete SETTLE seconds
after it ends: the load balancer publishes each second about one second
after it begins.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from nozama.kernel.clock import Clock
from nozama.controllers.notify import wake_controller
from nozama.kernel.wakeups import Wakeups
from nozama.metrics import series
from nozama.metrics.alarms import evaluate, statistic
from nozama.store import Store
from nozama.store import alarms as alarm_store
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

TICK = 0.25
SETTLE = 1.25


class AlarmEvaluator:
    def __init__(self, store: Store, clock: Clock, wakeups: Wakeups):
        self.store, self.clock, self.wakeups = store, clock, wakeups
        # By alarm id: (end of the last period evaluated, configuration timestamp).
        self.evaluated: dict[int, tuple[int, float]] = {}

    def step(self) -> None:
        now = self.clock.now()
        changes = []
        with self.store.read() as conn:
            for row in alarm_store.every(conn):
                doc = row.doc
                period = doc["Period"]
                end = int((now.timestamp() - SETTLE) // period * period)
                marker = (end, doc["AlarmConfigurationUpdatedTimestamp"])
                if self.evaluated.get(row.id) == marker:
                    continue
                self.evaluated[row.id] = marker
                result = evaluate(doc, self._values(conn, row, end))
                if result is not None and result.state != doc["StateValue"]:
                    changes.append((row, marker, result))
        for row, marker, result in changes:
            with self.store.write() as conn:
                current = alarm_store.get(conn, row.region, row.account, row.name)
                if current is None or current.doc["AlarmConfigurationUpdatedTimestamp"] != \
                        marker[1] or current.doc["StateValue"] == result.state:
                    continue  # changed meanwhile: the next tick looks again
                change_state(row.region, row.account, conn, current, result.state,
                             result.reason, json.dumps(result.reason_data), now)
            log.info("alarm %s is %s: %s", row.name, result.state, result.reason)
        if changes:
            # Deployments watch alarms: let them see the change now, not at their next tick.
            wake_controller(self.wakeups)

    @staticmethod
    def _values(conn, row, end: int) -> list[tuple[int, float | None]]:
        doc = row.doc
        period, n = doc["Period"], doc["EvaluationPeriods"]
        start = end - n * period
        found = series.periods(conn, row.region, row.account, doc, start, end, period,
                               doc.get("Unit"))
        stat = statistic(doc)
        return [(ts, found[ts].value(stat) if ts in found else None)
                for ts in range(start, end, period)]


async def run(store: Store, clock: Clock, wakeups: Wakeups) -> None:
    evaluator = AlarmEvaluator(store, clock, wakeups)
    while True:
        try:
            evaluator.step()
        except StoreUnavailable:
            pass   # the store logs an outage once, not every tick
        except Exception:
            log.exception("alarm evaluation failed")
        await asyncio.sleep(TICK)


def change_state(region: str, account: str, conn, row, state: str, reason: str,
                 reason_data: str | None, at: datetime) -> None:
    """Record the alarm's new state (and, when it changed, a history item)."""
    doc = dict(row.doc)
    old = doc["StateValue"]
    doc.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=at.timestamp())
    if reason_data is not None:
        doc["StateReasonData"] = reason_data
    else:
        doc.pop("StateReasonData", None)
    if state != old:
        doc["StateTransitionedTimestamp"] = at.timestamp()
    alarm_store.set_state(conn, row.id, doc)
    if state != old:
        alarm_store.add_history(
            conn, region, account, doc["AlarmName"], at, "StateUpdate",
            f"Alarm updated from {old} to {state}",
            json.dumps({"version": "1.0", "oldState": {"stateValue": old},
                        "newState": {"stateValue": state, "stateReason": reason}}))
