"""What the request timeline costs: memory after many large streams, and reading it back.

Runs ``sselab serve`` in a child process, sends ``--requests`` (default 100) ``firehose``
requests (20,000 chunks each), then, while a ``paced-20tps`` stream is in flight, reads the
whole timeline back over ``GET /_sselab/requests`` (following ``next`` pages when the server
paginates). Prints the server's RSS before and after, the time and size of the read, and the
paced stream's worst lateness (how long the read blocked the event loop).

Usage: ``python bench/bench_timeline.py [--requests 100] [--writes]``.
Every loop is bounded in count and time; the server is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, request_bytes  # noqa: E402

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _get(base: str, path: str) -> tuple[bytes, float]:
    t = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=120) as r:
        data = r.read()
    return data, time.perf_counter() - t


async def _stream(host: str, port: int, scenario: str, timeout: float = 60.0) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request_bytes(CHAT, BODY, {"X-Sselab-Scenario": scenario}))
    total, deadline = 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(262144), timeout)
            if not chunk:
                break
            total += len(chunk)
    finally:
        writer.close()
    return total


async def _firehoses(host: str, port: int, n: int, parallel: int = 4) -> None:
    sem = asyncio.Semaphore(parallel)

    async def one() -> None:
        async with sem:
            await _stream(host, port, "firehose")

    await asyncio.gather(*(one() for _ in range(n)))


def _read_all(base: str, writes: bool) -> tuple[int, float, int]:
    """Every record over HTTP: (bytes, seconds, pages)."""
    path = "/_sselab/requests?limit=1000" + ("&writes=1" if writes else "")
    size, took, pages, cursor = 0, 0.0, 0, None
    for _ in range(10_000):
        data, t = _get(base, path + (f"&since={cursor}" if cursor else ""))
        size, took, pages = size + len(data), took + t, pages + 1
        cursor = json.loads(data).get("next")
        if not cursor:
            break
    return size, took, pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--writes", action="store_true", help="read every write too")
    parser.add_argument("--budget", default=None, help="--timeline-budget for the server")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    extra = ["--timeline-budget", args.budget] if args.budget else []
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0", "-q",
                             *extra], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = line.rsplit(" ", 1)[1].strip()
        host, port = base.removeprefix("http://").rsplit(":", 1)
        time.sleep(0.5)
        before = _rss_mb(proc.pid)
        t = time.perf_counter()
        asyncio.run(_firehoses(host, int(port), args.requests))
        fill = time.perf_counter() - t
        time.sleep(0.5)
        after = _rss_mb(proc.pid)
        print(f"RSS: {before:.0f} MB at start, {after:.0f} MB after {args.requests} firehose "
              f"requests ({fill:.1f} s)")

        async def paced_and_read() -> tuple[int, float, int]:
            paced = asyncio.create_task(_stream(host, int(port), "paced-20tps"))
            await asyncio.sleep(1.0)
            got = await asyncio.to_thread(_read_all, base, args.writes)
            await paced
            return got

        size, took, pages = asyncio.run(paced_and_read())
        print(f"GET /_sselab/requests{' (writes)' if args.writes else ''}: "
              f"{size / 2**20:.1f} MiB in {took:.2f} s over {pages} page(s)")
        listing = json.loads(_get(base, "/_sselab/requests?limit=1000&writes=0")[0])
        ids = [r["id"] for r in listing["requests"] if r["scenario"] == "paced-20tps"]
        while listing.get("next") and not ids:
            listing = json.loads(_get(base, "/_sselab/requests?limit=1000&writes=0&since="
                                  + listing["next"])[0])
            ids = [r["id"] for r in listing["requests"] if r["scenario"] == "paced-20tps"]
        rec = json.loads(_get(base, f"/_sselab/requests/{ids[-1]}")[0])
        late = max(w["late_ms"] for w in rec["writes"][1:])
        print(f"paced stream during the read: worst write {late:.1f} ms late "
              f"(event-loop stall), outcome {rec['outcome']}")
        print(f"RSS at the end: {_rss_mb(proc.pid):.0f} MB; dropped: {listing.get('dropped')}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
