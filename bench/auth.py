"""The cost of verifying signatures: `nozama server --auth on` against `--auth off`.

Both servers run side by side on fresh data dirs, each pinned to CPU 0 in turn (wrk on
the other core). The same ECS DescribeClusters request, signed once with the
administrator key of the auth-on server (botocore's SigV4), is replayed by wrk over 32
keep-alive connections: the off server accepts any signature, the on server verifies it
(and authorizes the call by the key's policies) on every request. Rounds alternate the
servers so that a slow patch of a shared machine does not fall on one of them.

Issue 18's goal: with auth on, at most 10% fewer reads per second.

    python3 bench/auth.py [--rounds 3] [--duration 8] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _cluster as cl  # noqa: E402

BEGIN_MARK = "<!-- BEGIN bench/auth.py -->"
END_MARK = "<!-- END bench/auth.py -->"
TARGET = "AmazonEC2ContainerServiceV20141113.DescribeClusters"
BODY = '{"clusters": ["default"]}'


def start(name: str, port: int, work: Path, auth: str) -> cl.Process:
    command = ["taskset", "-c", "0", sys.executable, "-m", "nozama", "server", "--port",
               str(port), "--data-dir", str(work / name), "--auth", auth,
               "--log-level", "warning"]
    process = cl.Process(name, command, work / f"{name}.log")
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_nozama/health", timeout=1):
                return process
        except OSError:
            process.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.1)


def signed_headers(port: int, key: str, secret: str) -> dict[str, str]:
    """The headers of a DescribeClusters signed by botocore, as an SDK sends it."""
    import botocore.auth
    import botocore.credentials
    from botocore.awsrequest import AWSRequest
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}/", data=BODY.encode(),
                         headers={"X-Amz-Target": TARGET,
                                  "Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "ecs",
                            "us-east-1").add_auth(request)
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}


def wrk(port: int, headers: dict[str, str], duration: float, work: Path) -> float:
    """Requests per second wrk measured; every answer must be a 200."""
    script = work / f"request-{port}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = '{BODY}'"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines += ["function response(status, headers, body)",
              '  if status ~= 200 then io.stderr:write("status " .. status .. "\\n") end',
              "end"]
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(["taskset", "-c", "1", "wrk", "-t", "1", "-c", "32", "-d",
                           f"{int(duration)}s", "-s", str(script), f"http://127.0.0.1:{port}/"],
                          capture_output=True, text=True, timeout=duration + 30)
    if "status" in done.stderr or "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk saw errors: {done.stdout}{done.stderr[-500:]}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if found is None:
        raise RuntimeError(f"wrk said: {done.stdout}{done.stderr[-500:]}")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nozama-bench-auth-"))
    off_port, on_port = cl.free_port(), cl.free_port()
    servers = [start("off", off_port, work, "off"), start("on", on_port, work, "on")]
    try:
        text = (work / "on" / "admin-credentials").read_text()
        key = text.split("aws_access_key_id = ")[1].split()[0]
        secret = text.split("aws_secret_access_key = ")[1].split()[0]
        results: dict[str, list[float]] = {"off": [], "on": []}
        for port in (off_port, on_port):   # one warm-up each (first requests, caches)
            wrk(port, signed_headers(port, key, secret), 2, work)
        for _ in range(args.rounds):
            for name, port in (("off", off_port), ("on", on_port)):
                results[name].append(wrk(port, signed_headers(port, key, secret),
                                         args.duration, work))
    finally:
        for server in servers:
            server.stop()
    off, on = statistics.median(results["off"]), statistics.median(results["on"])
    loss = 1 - on / off
    ok = loss <= 0.10
    machine = cl.machine()
    section = "\n".join([
        BEGIN_MARK,
        "## Verifying signatures: `--auth on` against `--auth off` (bench/auth.py)",
        "",
        f"{cl.date_u()}; {machine['nproc']} cores ({machine['cpu']}), {machine['ram']}; "
        f"`{cl.command_line()}`.",
        "",
        "ECS DescribeClusters signed with the administrator key, replayed by wrk over 32 "
        "connections; each server on one core, wrk on the other; median of "
        f"{args.rounds} alternating rounds of {args.duration:g} s.",
        "",
        "| auth | requests/s (median) | rounds |",
        "| --- | ---: | --- |",
        f"| off | {off:,.0f} | {', '.join(f'{r:,.0f}' for r in results['off'])} |",
        f"| on | {on:,.0f} | {', '.join(f'{r:,.0f}' for r in results['on'])} |",
        "",
        f"- {'PASS' if ok else 'FAIL'}: with auth on, {loss:.1%} fewer reads per second "
        "(goal: at most 10%)",
        END_MARK,
    ])
    print(section)
    if args.write_docs:
        cl.write_docs_section(BEGIN_MARK, END_MARK, section)
    return 0 if ok else 1


if __name__ == "__main__":
    if os.name != "posix":
        sys.exit("bench/auth.py runs on Linux")
    sys.exit(main())
