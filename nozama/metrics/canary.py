"""Automatic canary analysis: is the new revision worse than the old one, on live traffic?

While part of the production traffic reaches the new revision (green) and the
rest the old one (blue), both answer the same kind of requests at the same
time, so their answers and latencies are directly comparable. Each look
compares what the load balancer measured for the two target groups since the
canary began, on three signals, any of which fails the new revision:

- 5XX share (HTTPCode_Target_5XX_Count over RequestCount) and 4XX share
  (HTTPCode_Target_4XX_Count over RequestCount): a one-sided two-proportion
  z-test of "green answers so more often than blue"; green fails when it is
  significant and green's share is also materially higher (at least the
  signal's margin above blue's: a difference too small to matter never fails).
  A rise of 4XX is a regression as much as one of 5XX (routing broken, a file
  missing, an auth change), and a target group's health check matcher often
  accepts 4XX, so its targets stay healthy and only this comparison sees it;
- latency (TargetResponseTime): a one-sided Mann-Whitney U test of "green's
  response times are larger", computed from the two latency histograms
  (model/sketch.py); green fails when it is significant and green's median is
  at least LATENCY_RATIO times blue's and LATENCY_MIN_DIFFERENCE more.

The verdict names the signal that decided it (`Verdict.signal`), so that the
deployment's events can say why it rolled back.

Looks are repeated (every controller pass), which inflates false alarms, so
each uses a strict level (Z_FAIL, one-sided p ~ 0.001), as group-sequential
designs do. It passes early when there is enough evidence that green is not
worse on every signal: at least MIN_PASS_REQUESTS green requests, the upper
confidence bound (Agresti-Caffo) of green's excess 5XX and 4XX shares each below
its margin, and green's 90th percentile latency within LATENCY_RATIO of
blue's. Otherwise it keeps watching until the bake time ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nozama.model import sketch

Z_FAIL = 3.09          # one-sided p ~ 0.001 at each look
Z_PASS = 2.33          # the 99% upper bound for passing early
ERROR_MARGIN = 0.01    # one percentage point of 5XX answers
# 4XX answers also come from the clients themselves (scanners, expired sessions,
# probes of missing paths), so their share is usually higher and noisier than that
# of 5XX; two points more of them is a change worth rolling back for.
CLIENT_ERROR_MARGIN = 0.02
LATENCY_RATIO = 1.25
# Differences below this are not worth failing a release for, however significant
# (sub-millisecond responses vary with connection set-up and scheduling).
LATENCY_MIN_DIFFERENCE = 0.005
MIN_REQUESTS = 200     # green requests before any verdict on errors
MIN_PASS_REQUESTS = 500

FAIL, PASS, CONTINUE = "FAIL", "PASS", "CONTINUE"
# The signals a verdict can be decided by.
SERVER_ERRORS, CLIENT_ERRORS, LATENCY = "5XX", "4XX", "latency"


@dataclass(frozen=True)
class Sample:
    """What one revision served in the window: requests, 5XX answers (`errors`),
    response times, and 4XX answers (`client_errors`)."""
    requests: float
    errors: float
    latency: sketch.Sketch | None = None
    latency_min: float = 0.0
    latency_max: float = 0.0
    client_errors: float = 0.0

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
    signal: str | None = None  # SERVER_ERRORS, CLIENT_ERRORS or LATENCY: what decided a FAIL


@dataclass(frozen=True)
class _Share:
    """One share signal: its name, how many of each sample's requests count, its margin."""
    signal: str
    green: float
    blue: float
    margin: float


def _shares(green: Sample, blue: Sample) -> list[_Share]:
    return [_Share(SERVER_ERRORS, green.errors, blue.errors, ERROR_MARGIN),
            _Share(CLIENT_ERRORS, green.client_errors, blue.client_errors,
                   CLIENT_ERROR_MARGIN)]


def verdict(green: Sample, blue: Sample) -> Verdict:
    if green.requests < MIN_REQUESTS or blue.requests < MIN_REQUESTS:
        return Verdict(CONTINUE, f"{green.requests:.0f} requests on the new revision so far")
    for share in _shares(green, blue):
        z = proportion_z(share.green, green.requests, share.blue, blue.requests)
        green_rate, blue_rate = share.green / green.requests, share.blue / blue.requests
        if z > Z_FAIL and green_rate - blue_rate >= share.margin:
            return Verdict(FAIL, (
                f"{share.signal} share {_percent(green_rate)} against {_percent(blue_rate)} "
                f"on the previous revision (significant: z = {z:.1f} over "
                f"{green.requests:.0f} and {blue.requests:.0f} requests)"), share.signal)
    slower = _latency_verdict(green, blue)
    if slower is not None:
        return Verdict(FAIL, slower, LATENCY)
    if green.requests >= MIN_PASS_REQUESTS and all(
            excess_upper_bound(s.green, green.requests, s.blue, blue.requests) < s.margin
            for s in _shares(green, blue)):
        green_p90, blue_p90 = green.percentile(90), blue.percentile(90)
        # As for failing, a difference under LATENCY_MIN_DIFFERENCE does not count (the
        # load balancer measures whole milliseconds: 0.5 ms against 1.5 ms is noise).
        if green_p90 is None or blue_p90 is None or green_p90 <= blue_p90 * LATENCY_RATIO \
                or green_p90 - blue_p90 < LATENCY_MIN_DIFFERENCE:
            latency = "" if green_p90 is None or blue_p90 is None else (
                f", p90 response time {_ms(green_p90)} against {_ms(blue_p90)}")
            return Verdict(PASS, (
                f"the new revision is not worse: 5XX share {_percent(green.error_rate)} "
                f"against {_percent(blue.error_rate)}, 4XX share "
                f"{_percent(green.client_errors / green.requests)} against "
                f"{_percent(blue.client_errors / blue.requests)}{latency}, over "
                f"{green.requests:.0f} requests"))
    return Verdict(CONTINUE, "not enough evidence either way yet")


def _percent(rate: float) -> str:
    return f"{100 * rate:.2f}%"


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def proportion_z(green_hits: float, green_n: float, blue_hits: float, blue_n: float) -> float:
    """z of the one-sided two-proportion test that green's share of hits is higher."""
    pooled = (green_hits + blue_hits) / (green_n + blue_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / green_n + 1 / blue_n))
    if spread == 0:
        return 0.0
    return (green_hits / green_n - blue_hits / blue_n) / spread


def excess_upper_bound(green_hits: float, green_n: float, blue_hits: float,
                       blue_n: float) -> float:
    """Upper Z_PASS bound of green's share minus blue's (Agresti-Caffo: one hit and one
    miss added to each, which keeps the bound honest at 0 hits)."""
    pg = (green_hits + 1) / (green_n + 2)
    pb = (blue_hits + 1) / (blue_n + 2)
    spread = math.sqrt(pg * (1 - pg) / (green_n + 2) + pb * (1 - pb) / (blue_n + 2))
    return pg - pb + Z_PASS * spread


def _latency_verdict(green: Sample, blue: Sample) -> str | None:
    """A reason to fail when green is significantly and substantially slower."""
    if not green.latency or not blue.latency:
        return None
    z = mann_whitney_z(green.latency, blue.latency)
    green_median, blue_median = green.percentile(50), blue.percentile(50)
    if z > Z_FAIL and green_median >= blue_median * LATENCY_RATIO and \
            green_median - blue_median >= LATENCY_MIN_DIFFERENCE:
        return (f"latency: median response time {_ms(green_median)} against "
                f"{_ms(blue_median)} on the previous revision, p90 "
                f"{_ms(green.percentile(90))} against {_ms(blue.percentile(90))} "
                f"(significant: Mann-Whitney z = {z:.1f})")
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
