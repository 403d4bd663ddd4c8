"""The floor under the simulator's cost per token on this machine: a bare loop of ``send()``.

Opens N loopback connections to a reader in another process (a plain selector loop that
discards what it reads), then, for a few seconds, writes one 300-byte SSE-sized frame to one
connection after another, ``rate`` writes a second in 1 ms ticks: the pattern of N streams at
20 tokens/s, with nothing encoded, scheduled or recorded. It prints the CPU each write costs
the writing process (user + system, from the scheduler's count), the figure
``bench_simulator.py`` prints for the whole simulator.

Usage: ``python bench/bench_floor.py [--smoke] [--connections 1000] [--rate 20000]``.
Bounded: a few seconds per level; the reader is a child process stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_seconds  # noqa: E402

FRAME = b"12c\r\n" + b"x" * 300 + b"\r\n"
READER = """
import selectors, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
open_ = n
while open_:
    for key, _ in sel.select(5):
        try:
            data = key.fileobj.recv(1 << 16)
        except BlockingIOError:
            continue
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            open_ -= 1
"""


async def level(connections: int, rate: int, seconds: float) -> tuple[float, float]:
    """CPU µs per write, and the writes per second reached."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(min(connections, 4096))
    port = server.getsockname()[1]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(port), str(connections)])
    conns = []
    try:
        server.settimeout(30)
        for _ in range(connections):
            conn, _ = server.accept()
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(conn)
        await asyncio.sleep(0.5)
        per_tick = max(1, rate // 1000)
        ticks = int(seconds * 1000)
        loop = asyncio.get_running_loop()
        cpu0, start, k = cpu_seconds(os.getpid()), time.perf_counter(), 0
        t = loop.time()
        for _tick in range(ticks):
            for _ in range(per_tick):
                conns[k % connections].send(FRAME)
                k += 1
            t += 0.001  # absolute deadlines, as the simulator's pacer
            await asyncio.sleep(max(0.0, t - loop.time()))
        cpu = cpu_seconds(os.getpid()) - cpu0
        return cpu * 1e6 / k, k / (time.perf_counter() - start)
    finally:
        for conn in conns:
            conn.close()
        server.close()
        try:
            reader.wait(20)
        except subprocess.TimeoutExpired:
            reader.kill()
            reader.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny run for CI")
    ap.add_argument("--connections", default="1000,3000", help="connection counts to try")
    ap.add_argument("--rate", type=int, default=0,
                    help="writes per second (default: 20 per connection)")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    levels = [50] if args.smoke else [int(x) for x in args.connections.split(",")]
    seconds = 0.5 if args.smoke else args.seconds
    print("floor: a bare Python loop writing one 300-byte frame per send() to loopback sockets")
    for n in levels:
        rate = args.rate or 20 * n
        us, reached = asyncio.run(level(n, rate, seconds))
        print(f"{n:>5} connections, {rate:,} writes/s asked ({reached:,.0f} reached): "
              f"{us:.1f} µs CPU per write")


if __name__ == "__main__":
    main()
