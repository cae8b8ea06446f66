"""An open-loop HTTP load: GET / at a fixed rate, whatever the answers take, as many
clients' requests arrive at a load balancer. Each request's send time (epoch), outcome
and latency go to the output file, one JSON array per line, when the load stops.

    python3 bench/_open_loop.py ADDRESS PORT RATE OUTPUT   # until SIGTERM

Not a benchmark itself (the leading underscore keeps `make bench` from running it).
A closed loop (N clients, each waiting for its answer) would send less while a target
hangs, and so hide the failures an outage causes; this one keeps sending.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

TIMEOUT = 10.0           # a client's patience, as curl's or a browser's might be
MAX_IN_FLIGHT = 4000


async def main(address: str, port: int, rate: float, output: str) -> None:
    results: list[tuple[float, str, float]] = []
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    in_flight = 0
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    request = f"GET / HTTP/1.1\r\nHost: {address}\r\n\r\n".encode()

    async def one(sent: float) -> None:
        nonlocal in_flight
        in_flight += 1
        began = time.monotonic()
        connection = None
        try:
            connection = idle.pop() if idle else await asyncio.open_connection(address, port)
            reader, writer = connection
            writer.write(request)
            status, keep = await asyncio.wait_for(_response(reader), TIMEOUT)
            outcome = str(status)
            if keep:
                idle.append(connection)
                connection = None
        except asyncio.TimeoutError:
            outcome = "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            outcome = type(error).__name__
        finally:
            in_flight -= 1
            if connection is not None:
                connection[1].close()
        results.append((sent, outcome, time.monotonic() - began))

    tasks = set()
    start, n = time.monotonic(), 0
    epoch = time.time() - start
    while not stop.is_set():
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                break
            except asyncio.TimeoutError:
                pass
        n += 1
        if in_flight >= MAX_IN_FLIGHT:
            results.append((epoch + due, "overload", 0.0))
            continue
        task = asyncio.ensure_future(one(epoch + due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=TIMEOUT + 1)
    with open(output, "w") as out:
        for item in results:
            out.write(json.dumps(item) + "\n")


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status, and whether the connection may carry another request."""
    status = int((await reader.readline()).split()[1])
    length, keep = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    await reader.readexactly(length)
    return status, keep


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
