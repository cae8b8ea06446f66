"""Automatic canary analysis: is the new revision worse than the old one, on live traffic?

While part of the production traffic reaches the new revision (green) and the
rest the old one (blue), both answer the same kind of requests at the same
time, so their error rates and latencies are directly comparable. Each look
compares what the load balancer measured for the two target groups since the
canary began:

- errors: a one-sided two-proportion z-test of "green fails more often than
  blue"; green fails when it is significant and green's rate is also at least
  ERROR_MARGIN above blue's (a difference too small to matter never fails);
- latency: a one-sided Mann-Whitney U test of "green's response times are
  larger", computed from the two latency histograms (model/sketch.py);
  green fails when it is significant and green's median is at least
  LATENCY_RATIO times blue's and LATENCY_MIN_DIFFERENCE more.

Looks are repeated (every controller pass), which inflates false alarms, so
each uses a strict level (Z_FAIL, one-sided p ~ 0.001), as group-sequential
designs do. It passes early when there is enough evidence that green is not
worse: at least MIN_REQUESTS green requests, the upper confidence bound
(Agresti-Caffo) of green's excess error rate below ERROR_MARGIN, and green's
90th percentile latency within LATENCY_RATIO of blue's. Otherwise it keeps
watching until the bake time ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nozama.model import sketch

Z_FAIL = 3.09          # one-sided p ~ 0.001 at each look
Z_PASS = 2.33          # the 99% upper bound for passing early
ERROR_MARGIN = 0.01    # one percentage point of errors
LATENCY_RATIO = 1.25
# Differences below this are not worth failing a release for, however significant
# (sub-millisecond responses vary with connection set-up and scheduling).
LATENCY_MIN_DIFFERENCE = 0.005
MIN_REQUESTS = 200     # green requests before any verdict on errors
MIN_PASS_REQUESTS = 500

FAIL, PASS, CONTINUE = "FAIL", "PASS", "CONTINUE"


@dataclass(frozen=True)
class Sample:
    """What one revision served in the window: requests, 5XX answers, response times."""
    requests: float
    errors: float
    latency: sketch.Sketch | None = None
    latency_min: float = 0.0
    latency_max: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latency:
            return None
        return sketch.percentile(self.latency, q, self.latency_min, self.latency_max)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str


def verdict(green: Sample, blue: Sample) -> Verdict:
    if green.requests < MIN_REQUESTS or blue.requests < MIN_REQUESTS:
        return Verdict(CONTINUE, f"{green.requests:.0f} requests on the new revision so far")
    z = _error_z(green, blue)
    excess = green.error_rate - blue.error_rate
    if z > Z_FAIL and excess >= ERROR_MARGIN:
        return Verdict(FAIL, (
            f"the new revision's error rate is {100 * green.error_rate:.2f}% against "
            f"{100 * blue.error_rate:.2f}% (z = {z:.1f}, over {green.requests:.0f} and "
            f"{blue.requests:.0f} requests)"))
    slower = _latency_verdict(green, blue)
    if slower is not None:
        return Verdict(FAIL, slower)
    if green.requests >= MIN_PASS_REQUESTS and _excess_upper_bound(green, blue) < ERROR_MARGIN:
        green_p90, blue_p90 = green.percentile(90), blue.percentile(90)
        if green_p90 is None or blue_p90 is None or green_p90 <= blue_p90 * LATENCY_RATIO:
            return Verdict(PASS, (
                f"the new revision is not worse: {100 * green.error_rate:.2f}% errors against "
                f"{100 * blue.error_rate:.2f}% over {green.requests:.0f} requests"))
    return Verdict(CONTINUE, "not enough evidence either way yet")


def _error_z(green: Sample, blue: Sample) -> float:
    """z of the one-sided two-proportion test that green's error rate is higher."""
    pooled = (green.errors + blue.errors) / (green.requests + blue.requests)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / green.requests + 1 / blue.requests))
    if spread == 0:
        return 0.0
    return (green.error_rate - blue.error_rate) / spread


def _excess_upper_bound(green: Sample, blue: Sample) -> float:
    """Upper Z_PASS bound of green's error rate minus blue's (Agresti-Caffo: one error
    and one success added to each, which keeps the bound honest at 0 errors)."""
    pg = (green.errors + 1) / (green.requests + 2)
    pb = (blue.errors + 1) / (blue.requests + 2)
    spread = math.sqrt(pg * (1 - pg) / (green.requests + 2) + pb * (1 - pb) /
                       (blue.requests + 2))
    return pg - pb + Z_PASS * spread


def _latency_verdict(green: Sample, blue: Sample) -> str | None:
    """A reason to fail when green is significantly and substantially slower."""
    if not green.latency or not blue.latency:
        return None
    z = mann_whitney_z(green.latency, blue.latency)
    green_median, blue_median = green.percentile(50), blue.percentile(50)
    if z > Z_FAIL and green_median >= blue_median * LATENCY_RATIO and \
            green_median - blue_median >= LATENCY_MIN_DIFFERENCE:
        return (f"the new revision is slower: median response time "
                f"{1000 * green_median:.1f} ms against {1000 * blue_median:.1f} ms "
                f"(Mann-Whitney z = {z:.1f})")
    return None


def mann_whitney_z(first: sketch.Sketch, second: sketch.Sketch) -> float:
    """z of the Mann-Whitney U test that values of `first` tend to be larger, from two
    histograms over the same buckets (values in one bucket count as ties)."""
    n1, n2 = sum(first.values()), sum(second.values())
    if not n1 or not n2:
        return 0.0
    u, below = 0.0, 0.0
    ties = 0.0
    for key in sorted(set(first) | set(second), key=sketch.midpoint):
        a, b = first.get(key, 0.0), second.get(key, 0.0)
        u += a * (below + b / 2)
        below += b
        t = a + b
        ties += t ** 3 - t
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 0.0
    return (u - n1 * n2 / 2) / math.sqrt(variance)
