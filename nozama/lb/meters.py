"""The data plane's request metrics, as CloudWatch's AWS/ApplicationELB has them.

Each request bumps plain counters in memory (a few attribute updates, nothing
on the request path waits for the database), its response time going straight
into the second's histogram; once a second the data plane turns the second's
counts into data points and writes them to the metrics store, where
GetMetricStatistics, alarms and GET /metrics read them. (Summarizing a
second's thousands of response times at once held the event loop for
milliseconds, which showed in the tail latency of the requests waiting.)

Dimensions are ALB's: LoadBalancer ("app/NAME/ID") and TargetGroup
("targetgroup/NAME/ID"), plus Nozama's own Target ("ID:PORT") for metrics of
one target. Counts are published as one sample of 1 per request, as ALB does
(Sum is the count; Minimum, Maximum and Average are 1).
"""

from __future__ import annotations

import math
from collections import defaultdict

from nozama.metrics.per_second import DataPoints
from nozama.model import sketch
from nozama.model.statistics import Aggregate, counted, gauge
from nozama.model import arns

NAMESPACE = "AWS/ApplicationELB"
TARGET_CODES = {2: "HTTPCode_Target_2XX_Count", 3: "HTTPCode_Target_3XX_Count",
                4: "HTTPCode_Target_4XX_Count", 5: "HTTPCode_Target_5XX_Count"}
ELB_CODES = {3: "HTTPCode_ELB_3XX_Count", 4: "HTTPCode_ELB_4XX_Count",
             5: "HTTPCode_ELB_5XX_Count"}
ELB_STATUSES = {500: "HTTPCode_ELB_500_Count", 502: "HTTPCode_ELB_502_Count",
                503: "HTTPCode_ELB_503_Count", 504: "HTTPCode_ELB_504_Count"}


_PER_LOG = sketch.PER_LOG
_log, _ceil = math.log, math.ceil


class TargetMeter:
    """One target's requests through one load balancer, since the last publication."""
    __slots__ = ("requests", "codes", "timed", "time_sum", "time_min", "time_max", "buckets")

    def __init__(self):
        self.requests = 0
        self.codes = [0] * 6          # by status // 100
        # TargetResponseTime, in seconds: how many, their sum, min and max, and the
        # sketch's buckets by index (model/sketch.py).
        self.timed = 0
        self.time_sum = 0.0
        self.time_min = math.inf
        self.time_max = 0.0
        self.buckets: dict[int, int] = {}

    def response_time(self, seconds: float, times: int = 1) -> None:
        """`times` responses that took `seconds` each."""
        seconds = max(seconds, 1e-9)  # a clock too coarse to see it: the smallest bucket
        self.timed += times
        self.time_sum += seconds * times
        if seconds < self.time_min:
            self.time_min = seconds
        if seconds > self.time_max:
            self.time_max = seconds
        index = _ceil(_log(seconds) * _PER_LOG)
        self.buckets[index] = self.buckets.get(index, 0) + times

    def take(self) -> tuple[int, list[int], Aggregate | None]:
        """The requests, codes and response times counted since the last take."""
        times = None
        if self.timed:
            times = Aggregate(float(self.timed), self.time_sum, self.time_min, self.time_max,
                              sketch.of_indexes(self.buckets))
        taken = (self.requests, self.codes, times)
        self.__init__()
        return taken


class BalancerMeter:
    """What the load balancer itself answered, and the connections it accepted."""
    __slots__ = ("statuses", "new_connections")

    def __init__(self):
        self.statuses: dict[int, int] = defaultdict(int)
        self.new_connections = 0


def dimension(arn: str) -> str:
    """ALB's dimension value of a load balancer or target group ARN."""
    resource = arns.parse(arn).resource
    return resource.split("/", 1)[1] if resource.startswith("loadbalancer/") else resource



class Requests:
    """A second's requests of a target, or of all targets of a group or balancer."""

    def __init__(self, count: int, codes: list[int], times: Aggregate | None):
        self.count, self.codes, self.times = count, codes, times

    def copy(self) -> "Requests":
        return Requests(self.count, list(self.codes),
                        self.times.copy() if self.times is not None else None)

    def merge(self, other: "Requests") -> None:
        self.count += other.count
        self.codes = [a + b for a, b in zip(self.codes, other.codes)]
        if self.times is None:
            self.times = other.times.copy() if other.times is not None else None
        elif other.times is not None:
            self.times.merge(other.times)

    def publish(self, point, lb_arn: str, dims: list[dict]) -> None:
        if self.count:
            point(lb_arn, "RequestCount", dims, counted(self.count))
        for klass, name in TARGET_CODES.items():
            if self.codes[klass]:
                point(lb_arn, name, dims, counted(self.codes[klass]))
        if self.times is not None:
            point(lb_arn, "TargetResponseTime", dims, self.times, "Seconds")


def _add(totals: dict, key, part: Requests) -> None:
    if key in totals:
        totals[key].merge(part)
    else:
        totals[key] = part.copy()


class Meters:
    def __init__(self):
        self.targets: dict[tuple[str, tuple], TargetMeter] = {}
        self.balancers: dict[str, BalancerMeter] = defaultdict(BalancerMeter)

    def target(self, load_balancer_arn: str, state) -> TargetMeter:
        """The meter of a target (a TargetState) behind a load balancer; the state keeps
        it at hand so that later requests find it with one lookup."""
        meter = state.meters.get(load_balancer_arn)
        if meter is None:
            key = (load_balancer_arn, state.target.key)
            meter = self.targets.get(key)
            if meter is None:
                meter = self.targets[key] = TargetMeter()
            state.meters[load_balancer_arn] = meter
        return meter

    def answered(self, load_balancer_arn: str, status: int, times: int = 1) -> None:
        self.balancers[load_balancer_arn].statuses[status] += times

    def publish(self, ts: int, health: dict[str, dict[str, tuple[int, int]]],
                connections: dict[str, int]) -> DataPoints:
        """The data points of second `ts`.

        `health` is, by load balancer, its target groups' (healthy, unhealthy) counts;
        `connections` its open client connections.
        """
        points = DataPoints(NAMESPACE, ts)

        def point(lb_arn: str, name: str, dims: list[dict], agg: Aggregate,
                  unit: str = "Count") -> None:
            parsed = arns.parse(lb_arn)
            points.add(parsed.region, parsed.account, name, dims, agg, unit)

        # Each target's second is summarized once; groups and balancers merge summaries.
        per_group: dict[tuple[str, str], Requests] = {}
        for (lb_arn, (tg_arn, target_id, port)), meter in self.targets.items():
            requests, codes, times = meter.take()
            if not requests and times is None:
                continue
            own = Requests(requests, codes, times)
            own.publish(point, lb_arn, [
                {"Name": "LoadBalancer", "Value": dimension(lb_arn)},
                {"Name": "TargetGroup", "Value": dimension(tg_arn)},
                {"Name": "Target", "Value": f"{target_id}:{port}"}])
            _add(per_group, (lb_arn, tg_arn), own)
        per_balancer: dict[str, Requests] = {}
        for (lb_arn, tg_arn), group in per_group.items():
            group.publish(point, lb_arn, [
                {"Name": "LoadBalancer", "Value": dimension(lb_arn)},
                {"Name": "TargetGroup", "Value": dimension(tg_arn)}])
            _add(per_balancer, lb_arn, group)
        for lb_arn, whole in per_balancer.items():
            whole.publish(point, lb_arn, [{"Name": "LoadBalancer", "Value": dimension(lb_arn)}])
        for lb_arn, meter in list(self.balancers.items()):
            self._balancer_points(point, lb_arn, meter)
        self.balancers.clear()
        for lb_arn, by_group in health.items():
            for tg_arn, (healthy, unhealthy) in by_group.items():
                dims = [{"Name": "LoadBalancer", "Value": dimension(lb_arn)},
                        {"Name": "TargetGroup", "Value": dimension(tg_arn)}]
                point(lb_arn, "HealthyHostCount", dims, gauge(healthy))
                point(lb_arn, "UnHealthyHostCount", dims, gauge(unhealthy))
        for lb_arn, count in connections.items():
            point(lb_arn, "ActiveConnectionCount",
                  [{"Name": "LoadBalancer", "Value": dimension(lb_arn)}], gauge(count))
        return points

    @staticmethod
    def _balancer_points(point, lb_arn: str, meter: BalancerMeter) -> None:
        dims = [{"Name": "LoadBalancer", "Value": dimension(lb_arn)}]
        by_class: dict[int, int] = defaultdict(int)
        for status, count in meter.statuses.items():
            by_class[status // 100] += count
            if status in ELB_STATUSES:
                point(lb_arn, ELB_STATUSES[status], dims, counted(count))
        for klass, count in by_class.items():
            if klass in ELB_CODES:
                point(lb_arn, ELB_CODES[klass], dims, counted(count))
        if meter.new_connections:
            point(lb_arn, "NewConnectionCount", dims, counted(meter.new_connections))
