"""Lambda's metrics, counted per second in memory and written to the metrics store.

Each invocation counts under the dimension sets Lambda uses: {FunctionName},
{FunctionName, Resource} when it named a version or alias ("name:qualifier"),
and {FunctionName, Resource, ExecutedVersion} when it went through an alias.
ConcurrentExecutions is the most executions in flight during the second, per
function and (without dimensions) for the account.
"""

from __future__ import annotations

from collections import defaultdict

from nozama.metrics.per_second import DataPoints
from nozama.model.statistics import Aggregate, counted, gauge, share

NAMESPACE = "AWS/Lambda"

Key = tuple  # (region, account, function name, resource or None, executed version or None)


class Second:
    __slots__ = ("invocations", "errors", "throttles", "durations")

    def __init__(self):
        self.invocations = self.errors = self.throttles = 0
        self.durations: list[float] = []


class FunctionMeters:
    def __init__(self):
        self.seconds: dict[Key, Second] = defaultdict(Second)
        self.concurrency: dict[tuple, int] = {}

    def _keys(self, region: str, account: str, name: str, resource: str | None,
              executed: str | None) -> list[Key]:
        keys = [(region, account, name, None, None)]
        if resource is not None:
            keys.append((region, account, name, resource, None))
            if executed is not None:
                keys.append((region, account, name, resource, executed))
        return keys

    def invoked(self, region: str, account: str, name: str, resource: str | None,
                executed: str | None, duration_ms: float, error: bool) -> None:
        for key in self._keys(region, account, name, resource, executed):
            second = self.seconds[key]
            second.invocations += 1
            second.errors += error
            second.durations.append(duration_ms)

    def throttled(self, region: str, account: str, name: str, resource: str | None) -> None:
        for key in self._keys(region, account, name, resource, None):
            self.seconds[key].throttles += 1

    def running(self, region: str, account: str, name: str | None, count: int) -> None:
        """Note executions in flight now (name None: the account's)."""
        key = (region, account, name)
        if count > self.concurrency.get(key, 0):
            self.concurrency[key] = count

    def take(self, ts: int, in_flight: dict[tuple, int]) -> DataPoints:
        """Second `ts`'s data points; `in_flight` is what runs now, so a function that
        stays busy reports its concurrency every second."""
        points = DataPoints(NAMESPACE, ts)
        seconds, self.seconds = self.seconds, defaultdict(Second)
        for (region, account, name, resource, executed), second in seconds.items():
            dims = [{"Name": "FunctionName", "Value": name}]
            if resource is not None:
                dims.append({"Name": "Resource", "Value": resource})
            if executed is not None:
                dims.append({"Name": "ExecutedVersion", "Value": executed})
            if second.invocations:
                points.add(region, account, "Invocations", dims, counted(second.invocations))
                points.add(region, account, "Errors", dims,
                           share(second.errors, second.invocations))
                points.add(region, account, "Duration", dims,
                           Aggregate.of_values(second.durations), "Milliseconds")
            if second.throttles:
                points.add(region, account, "Throttles", dims, counted(second.throttles))
        peaks, self.concurrency = self.concurrency, {}
        for key, count in in_flight.items():
            peaks[key] = max(peaks.get(key, 0), count)
        for (region, account, name), count in peaks.items():
            dims = [{"Name": "FunctionName", "Value": name}] if name is not None else []
            points.add(region, account, "ConcurrentExecutions", dims, gauge(count))
        return points
