"""Benchmark the simulator on this machine and print the figures.

(a) tokens/s of one unthrottled stream (the ``firehose`` scenario, 20,000 OpenAI chat chunks),
    read by a raw socket client in another process than the server;
(b) the largest number of concurrent 20 tokens/s streams held: the client-side p99 of
    |observed − scheduled| inter-token gaps under 10 ms, the p99 drift of a stream's tokens
    from its schedule under 50 ms, every stream complete (the server's own lateness, from
    ``/_sselab/stats``, is printed beside it);
(c) p50/p99 of |observed − scheduled| inter-token gaps seen by the client at 1 and 1,000 streams.

Usage: ``python bench/bench_simulator.py [--smoke] [--levels 1000,2000,...] [--seconds 6]
[--workers N]``.
Every loop is bounded in count and time; the server runs as a child process stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_seconds, now, pct, request_bytes, simulator_process  # noqa: E402

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
INTERVAL = 0.05  # 20 tokens/s


def _hostport(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return host.strip("[]"), int(port)


def _get(base: str, path: str, method: str = "GET") -> dict:
    req = urllib.request.Request(base + path, method=method,  # the control API wants JSON
                                 data=b"{}" if method == "POST" else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


class _Reader(asyncio.Protocol):
    """One streaming request read by a bare Protocol (a stream reader costs more per event
    than the server: it would measure itself): counts SSE events, notes their arrival times."""

    def __init__(self, request: bytes, times: list[float] | None,
                 done: asyncio.Future[int]) -> None:
        self.request, self.times, self.done = request, times, done
        self.events, self.last = 0, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        k = data.count(b"\n\n") + (self.last == b"\n" and data[:1] == b"\n")
        if k:
            if self.times is not None:
                self.times.extend([now()] * k)
            self.events += k
        self.last = data[-1:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.events)


async def _stream(host: str, port: int, scenario: str, times: list[float] | None,
                  deadline: float) -> int:
    """One streaming request; returns the number of SSE events; appends arrival times."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    request = request_bytes(CHAT, BODY, {"X-Sselab-Scenario": scenario})
    transport, reader = await loop.create_connection(lambda: _Reader(request, times, done),
                                                     host, port)
    try:
        return await asyncio.wait_for(done, max(0.1, deadline - now()))
    except asyncio.TimeoutError:
        return reader.events
    finally:
        transport.close()


async def throughput(base: str, runs: int) -> tuple[float, float]:
    host, port = _hostport(base)
    rates = []
    for _ in range(runs):
        start = now()
        n = await _stream(host, port, "firehose", None, now() + 120)
        rates.append(n / (now() - start))
    return statistics.median(rates), n


SERVER: list = []  # the server process, for its CPU time


async def paced(base: str, streams: int, seconds: float, keep_gaps: bool) -> dict:
    host, port = _hostport(base)
    _get(base, "/_sselab/reset", "POST")
    stagger = min(2.0, streams / 1000)  # open connections over a while, as real clients do
    deadline = now() + seconds + stagger + 15
    all_times: list[list[float]] = [[] for _ in range(streams)]

    async def one(i: int) -> int:
        await asyncio.sleep(stagger * i / streams)
        return await _stream(host, port, "bench-paced", all_times[i] if keep_gaps else None,
                             deadline)

    gc.collect()
    gc.disable()  # the client's own GC pauses would show up as late tokens
    cpu0 = cpu_seconds(SERVER[0].pid) if SERVER else float("nan")
    try:
        counts = await asyncio.gather(*(one(i) for i in range(streams)),
                                      return_exceptions=True)
    finally:
        gc.enable()
    cpu = (cpu_seconds(SERVER[0].pid) if SERVER else float("nan")) - cpu0
    ok = [c for c in counts if isinstance(c, int)]
    stats = _get(base, "/_sselab/stats")
    out = {"streams": streams, "completed": stats["outcomes"].get("completed", 0),
           "errors": len(counts) - len(ok), "events": sum(ok), "late_ms": stats["late_ms"],
           # server CPU (user + system, every worker) per event the clients received
           "cpu_us_per_token": cpu * 1e6 / max(1, sum(ok))}
    if keep_gaps:
        dev, drift = [], []
        for times in all_times:
            # the tokens: not the first two events (the role chunk and the first token share a
            # time) nor the last two (the finish chunk and [DONE] come with the last token)
            tokens = times[1:-2]
            dev.extend(abs(b - a - INTERVAL) * 1000 for a, b in zip(tokens, tokens[1:]))
            if tokens:  # how far the stream's clock strayed from the schedule
                drift.append(max(abs(t - tokens[0] - k * INTERVAL)
                                 for k, t in enumerate(tokens)) * 1000)
        out["gap_dev_ms"] = {"p50": pct(dev, 0.5), "p99": pct(dev, 0.99), "n": len(dev)}
        out["drift_ms"] = {"p99": pct(drift, 0.99), "max": max(drift, default=float("nan"))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny run for CI (a few seconds)")
    ap.add_argument("--levels", default="500,1000,2000,3000,4000,5000",
                    help="concurrent stream counts to try for (b)")
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each paced stream")
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes sharing the port (sselab serve --workers N)")
    args = ap.parse_args()
    levels = [20, 50] if args.smoke else [int(x) for x in args.levels.split(",")]
    seconds = 1.5 if args.smoke else args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        tokens = int(seconds / INTERVAL)
        Path(tmp, "bench-paced.yaml").write_text(
            "description: benchmark stream at 20 tokens/s\n"
            f"response: {{faker: {{seed: 1, words: {tokens}}}}}\n"
            f"timing: {{ttft_ms: 50, token_ms: {INTERVAL * 1000:g}}}\n")
        with simulator_process("--scenarios", tmp, "--quiet", "--workers",
                               str(args.workers), procs=SERVER) as base:
            print(f"sselab simulator benchmark (server {base}, {args.workers} separate "
                  f"process{'es' * (args.workers > 1)})")
            rate, n = asyncio.run(throughput(base, 1 if args.smoke else 3))
            print(f"(a) one unthrottled stream: {rate:,.0f} events/s ({n} events, median)")
            for streams in ([1] if args.smoke else [1, 1000]):
                r = asyncio.run(paced(base, streams, seconds, keep_gaps=True))
                g = r["gap_dev_ms"]
                print(f"(c) {streams:>5} streams: |observed-scheduled| gap p50 {g['p50']:.2f} ms,"
                      f" p99 {g['p99']:.2f} ms over {g['n']} gaps; server late p99 "
                      f"{r['late_ms']['p99']} ms; server CPU {r['cpu_us_per_token']:.1f} µs "
                      "per token")
            best = 0
            for streams in levels:
                r = asyncio.run(paced(base, streams, seconds, keep_gaps=True))
                late, g, drift = r["late_ms"], r["gap_dev_ms"], r["drift_ms"]
                ok = (g["p99"] < 10 and drift["p99"] < 50 and r["errors"] == 0
                      and r["completed"] == streams)
                best = streams if ok else best
                print(f"(b) {streams:>5} streams at 20 tok/s: client gap error p50 {g['p50']:.2f}"
                      f" ms, p99 {g['p99']:.2f} ms, drift p99 {drift['p99']:.1f} ms; server late "
                      f"p99 {late['p99']} ms; completed {r['completed']}/{streams}, client "
                      f"errors {r['errors']}, server CPU {r['cpu_us_per_token']:.1f} µs/token "
                      f"-> {'OK' if ok else 'over'}")
                if not ok:
                    break
            print(f"(b) largest level held (client-side gap error p99 < 10 ms, drift p99 < 50 ms,"
                  f" every stream complete): {best} streams")


if __name__ == "__main__":
    main()
