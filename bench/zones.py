"""Losing a zone: a 9-task service over three zones behind a load balancer, zone b cut
off for 60 s under continuous traffic, then back.

The hosts are network namespaces on this machine (tests/support/netns.py, 198.18.0.0/15):
the control plane and the data plane on theirs, two simulated agents per zone, and a
client host that sends an open-loop load (bench/_open_loop.py, RATE requests a second,
each with a 10 s timeout) to the load balancer's DNS name as the data plane's DNS
responder answers it. Production cadence (NOZAMA_INTERVAL_SCALE=1); target health
checks every 5 s with a 2 s timeout, 2 failures to unhealthy; grace period 0.

Checked against the limits issue 17 names:
- b's targets out of rotation within interval x unhealthy threshold + 1 s of the outage;
- requests failed during the outage minute under 1% of it;
- 9 tasks running in a and c within 30 s of b's targets going unhealthy;
- after b returns: an even spread again, never fewer than 9 healthy targets meanwhile,
  and no failed request.

    python3 bench/zones.py [--rate 600] [--outage 60] [--write-docs]   # as root
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
os.environ["NOZAMA_INTERVAL_SCALE"] = "1"   # production cadence, for the agents too

import _cluster as cl  # noqa: E402
from support.multihost import Cluster, ZonalService  # noqa: E402
from support.netns import Network  # noqa: E402

BEGIN_MARK = "<!-- BEGIN bench/zones.py -->"
END_MARK = "<!-- END bench/zones.py -->"
INTERVAL, TIMEOUT, UNHEALTHY = 5, 2, 2
DESIRED = 9


def until(predicate, timeout: float, interval: float = 0.2, each=None) -> float:
    """Epoch time at which `predicate` first held."""
    deadline = time.monotonic() + timeout
    while True:
        if each is not None:
            each()
        if predicate():
            return time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s")
        time.sleep(interval)


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="nozama-bench-zones-"))   # a new store each run
    print(f"logs and store in {tmp}", file=sys.stderr)
    with Network() as network, network.inside("client"):
        cluster = Cluster(network, tmp).start()
        service = ZonalService(cluster, "zones", DESIRED, INTERVAL, TIMEOUT, UNHEALTHY)
        until(lambda: service.steady({"a": 3, "b": 3, "c": 3}), 120)
        # The load runs for 10 s before the outage, and until 5 s after the spread is even.
        results = tmp / "load.jsonl"
        load = network.spawn("client", [sys.executable, str(ROOT / "bench/_open_loop.py"),
                                        service.address, "80", str(args.rate),
                                        str(results)],
                             tmp / "load.log")
        time.sleep(10)
        # --- the outage
        down = time.time()
        network.zone_down("b")
        out = until(lambda: service.out_of_rotation("b"), 60)
        nine = until(lambda: (spread := service.spread())["b"] == 0 and
                     sum(spread.values()) == DESIRED, 120)
        time.sleep(max(0.0, down + args.outage - time.time()))
        # --- the return
        up = time.time()
        network.zone_up("b")
        lowest = [DESIRED]
        even = until(lambda: service.steady({"a": 3, "b": 3, "c": 3}), 300, 0.3,
                     each=lambda: lowest.append(service.healthy()))
        time.sleep(5)
        load.terminate()
        load.wait(timeout=30)
    records = [json.loads(line) for line in results.read_text().splitlines()]
    return analyse(records, down, out, nine, up, even, min(lowest), args)


def analyse(records, down, out, nine, up, even, lowest, args) -> dict:
    def window(start, end):
        sent = [r for r in records if start <= r[0] < end]
        failed = [r for r in sent if not r[1].isdigit() or int(r[1]) >= 500]
        return sent, failed
    outage_sent, outage_failed = window(down, down + args.outage)
    return_sent, return_failed = window(up, even + 5)
    return {
        "rate": len(outage_sent) / args.outage,
        "out": out - down, "nine_after_out": nine - out,
        "outage_sent": len(outage_sent), "outage_failed": len(outage_failed),
        "outage_failures": Counter(r[1] for r in outage_failed),
        "even_after_up": even - up, "lowest_healthy": lowest,
        "return_sent": len(return_sent), "return_failed": len(return_failed),
    }


def report(figures: dict, args) -> tuple[str, bool]:
    limit_out = INTERVAL * UNHEALTHY + 1
    share = figures["outage_failed"] / max(figures["outage_sent"], 1)
    checks = [
        (figures["rate"] >= 500, f"load during the outage: {figures['rate']:.0f} requests/s "
         f"(at least 500)"),
        (figures["out"] <= limit_out, f"b's targets out of rotation {figures['out']:.1f} s "
         f"after the outage (limit: {INTERVAL} s x {UNHEALTHY} + 1 s = {limit_out} s)"),
        (share < 0.01, f"requests failed in the outage minute: {figures['outage_failed']} of "
         f"{figures['outage_sent']} ({share:.3%}; limit 1%) "
         f"{dict(figures['outage_failures'])}"),
        (figures["nine_after_out"] < 30, f"9 tasks running in a and c "
         f"{figures['nine_after_out']:.1f} s after b's targets went unhealthy (limit 30 s)"),
        (figures["lowest_healthy"] >= DESIRED, f"after b returned: an even spread in "
         f"{figures['even_after_up']:.1f} s, never fewer than {figures['lowest_healthy']} "
         f"healthy targets (desired {DESIRED})"),
        (figures["return_failed"] == 0, f"requests failed while rebalancing: "
         f"{figures['return_failed']} of {figures['return_sent']}"),
    ]
    lines = [f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in checks]
    machine = cl.machine()
    section = "\n".join([
        BEGIN_MARK,
        f"## Losing a zone: a 9-task service, zone b cut off for {args.outage:g} s "
        "(bench/zones.py)",
        "",
        f"{cl.date_u()}; {machine['nproc']} cores ({machine['cpu']}), {machine['ram']}; "
        f"`{cl.command_line()}`.",
        "",
        "Six simulated agents (two per zone), the control plane and the data plane each on a "
        "host of their own (network namespaces); an open-loop load of "
        f"{args.rate} requests/s from a client host; health checks every {INTERVAL} s "
        f"(timeout {TIMEOUT} s, {UNHEALTHY} failures); production cadence.",
        "",
        *lines,
        "",
        "Two failed checks take a target out. With traffic flowing, the first is passive: "
        "a request's connection to a cut-off target fails after HAProxy's 3 s connect "
        "timeout (the request is retried on another target), and the data plane, reading "
        "HAProxy's counters every second, counts it; the second is the next active check "
        f"(one starts every {INTERVAL} s and fails after {TIMEOUT} s). Without traffic, two "
        f"active checks: between {INTERVAL + TIMEOUT} s and {2 * INTERVAL + TIMEOUT} s by "
        "their phase. The failed requests are those in flight to b when it went down "
        "(timeouts) and those whose one retry went to another target of b (502).",
        END_MARK,
    ])
    return section, all(ok for ok, _ in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=600)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/zones.py builds its hosts with ip netns: run it as root", file=sys.stderr)
        return 2
    figures = run(args)
    section, ok = report(figures, args)
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
