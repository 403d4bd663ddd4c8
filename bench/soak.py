"""Soak the simulator: many concurrent, churned streams with random aborts, for a bounded time.

The server (``sselab serve``, its GC pauses timed by ``_gcprobe.py``) runs in a child process;
this process keeps ``--streams`` connections busy: each asks for a 20 tokens/s stream and either
reads it to the end or, with probability ``--abort``, closes the socket after a random number of
events. Printed at the end:

- the server's RSS and open file descriptors at the start, after warm-up and at the end, and the
  RSS slope over the second half (MB/min);
- the worst garbage-collector pause in the server, and how many passed 10 ms;
- the server's p99 / max lateness (each write's time minus its schedule, ``/_sselab/stats``),
  and the worst inter-token stall a client saw beyond the 50 ms schedule;
- records lost: requests whose record is missing without being counted as aged out, or whose
  outcome does not say what happened (an aborted stream not ``client_disconnected``, a complete
  one not ``completed``, anything left ``in_progress``).

Usage: ``python bench/soak.py [--seconds 600] [--streams 200] [--smoke]`` (smoke: 30 s).
Every loop is bounded in time; the server is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, now, pct, request_bytes  # noqa: E402

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
INTERVAL = 0.05
TOKENS = 40


def _rss_fds(pid: int) -> tuple[float, int]:
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def _control(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def _records(base: str) -> tuple[dict[str, str], int]:
    """Every record's outcome by id (following pagination when the API has it), and the count
    of records the timeline says it dropped."""
    outcomes: dict[str, str] = {}
    dropped, cursor = 0, None
    for _ in range(100_000):  # bounded: one page per iteration
        page = _control(base, "/_sselab/requests" + (f"?since={cursor}" if cursor else ""))
        for r in page["requests"]:
            outcomes[r["id"]] = r["outcome"]
        drop = page.get("dropped") or {}
        dropped = max(dropped, int(drop.get("records", 0)) if isinstance(drop, dict) else 0)
        cursor = page.get("next")
        if not cursor or not page["requests"]:
            break
    return outcomes, dropped


class Load:
    def __init__(self, host: str, port: int, abort: float, seed: int) -> None:
        self.host, self.port, self.abort = host, port, abort
        self.rng = random.Random(seed)
        self.made: dict[str, str] = {}  # request id -> "aborted" | "completed" | "error"
        self.worst_stall = 0.0
        self.gap_err: list[float] = []
        self.failures = 0

    async def one(self) -> None:
        cut = self.rng.randint(1, TOKENS - 5) if self.rng.random() < self.abort else None
        reader, writer = await asyncio.open_connection(self.host, self.port)
        rid, events, last, tail = None, 0, None, b""
        head = b""
        try:
            writer.write(request_bytes(CHAT, BODY, {"X-Sselab-Scenario": "soak"}))
            while True:
                chunk = await asyncio.wait_for(reader.read(65536), 30)
                if not chunk:
                    break
                if rid is None:
                    head += chunk
                    if b"\r\n\r\n" not in head:
                        continue
                    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
                        if line.lower().startswith(b"x-sselab-request-id:"):
                            rid = line.split(b":", 1)[1].strip().decode()
                    chunk = head.split(b"\r\n\r\n", 1)[1]
                k = (tail + chunk).count(b"\n\n") - tail.count(b"\n\n")
                tail = chunk[-1:]
                if k:
                    t = now()
                    if last is not None and events > 2:
                        gap = t - last
                        self.gap_err.append(abs(gap - INTERVAL))
                        self.worst_stall = max(self.worst_stall, gap - INTERVAL)
                    last, events = t, events + k
                if cut is not None and events >= cut:
                    break
        except (OSError, asyncio.TimeoutError):
            self.failures += 1
            cut = -1
        finally:
            writer.close()
        if rid is not None:
            self.made[rid] = "error" if cut == -1 else "aborted" if cut is not None \
                else "completed"

    async def run(self, streams: int, until: float) -> None:
        async def worker(i: int) -> None:
            await asyncio.sleep(i * 0.01)
            while now() < until:
                await self.one()

        await asyncio.gather(*(worker(i) for i in range(streams)))


def _slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS (MB) over time, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples) or 1.0
    return sum((t - mt) * (r - mr) for t, r in samples) / var * 60


async def _sample(pid: int, out: list[tuple[float, float, int]], until: float) -> None:
    start = now()
    while now() < until:
        rss, fds = _rss_fds(pid)
        out.append((now() - start, rss, fds))
        await asyncio.sleep(1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--abort", type=float, default=0.3, help="share of streams cut by the client")
    ap.add_argument("--budget", default="32MB",
                    help="the server's --timeline-budget: small enough that the timeline is full "
                         "after warm-up, so RSS must then stay flat")
    ap.add_argument("--smoke", action="store_true", help="30 s, for CI")
    args = ap.parse_args()
    seconds = 30.0 if args.smoke else min(args.seconds, 3600.0)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "soak.yaml").write_text(
            "description: soak stream, 40 tokens at 20 tokens/s\n"
            f"response: {{faker: {{seed: 3, words: {TOKENS}}}}}\n"
            f"timing: {{ttft_ms: 50, token_ms: {INTERVAL * 1000:g}}}\n")
        gc_file = Path(tmp, "gc.json")
        path = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": path}
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_gcprobe.py"), str(gc_file), "serve",
             "--port", "0", "--scenarios", tmp, "--quiet", "--timeline-budget", args.budget],
            stdout=subprocess.PIPE, text=True,
            env=env)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if "listening on" not in line:
                raise SystemExit(f"simulator did not start: {line!r}")
            base = line.rsplit(" ", 1)[1].strip()
            host, port = base.removeprefix("http://").rsplit(":", 1)
            time.sleep(0.5)
            rss0, fds0 = _rss_fds(proc.pid)
            print(f"sselab soak: {args.streams} concurrent streams, {args.abort:.0%} aborted, "
                  f"{seconds:.0f} s (server {base}, pid {proc.pid})", flush=True)
            load = Load(host, int(port), args.abort, seed=11)
            samples: list[tuple[float, float, int]] = []

            async def go() -> None:
                until = now() + seconds
                await asyncio.gather(load.run(args.streams, until),
                                     _sample(proc.pid, samples, until))

            asyncio.run(go())
            time.sleep(1.5)  # let the server notice the last closes
            rss1, fds1 = _rss_fds(proc.pid)
            stats = _control(base, "/_sselab/stats")
            outcomes, dropped = _records(base)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        gcs = json.loads(gc_file.read_text()) if gc_file.exists() else {}
    warm = [s for s in samples if s[0] >= seconds / 3]
    second_half = [(t, r) for t, r, _ in samples if t >= seconds / 2]
    rss_warm = warm[0][1] if warm else rss0
    peak_after = max((r for _, r, _ in warm), default=rss1)
    missing = [rid for rid in load.made if rid not in outcomes]
    wrong = [rid for rid, what in load.made.items() if rid in outcomes and outcomes[rid] != {
        "aborted": "client_disconnected", "completed": "completed"}.get(what, outcomes[rid])]
    in_progress = sum(1 for o in outcomes.values() if o == "in_progress")
    lost = max(0, len(missing) - dropped) + len(wrong) + in_progress
    late = stats.get("late_ms", {})
    print(f"requests made: {len(load.made):,} ({sum(v == 'aborted' for v in load.made.values()):,}"
          f" aborted by the client, {load.failures} client errors)")
    print(f"server RSS: start {rss0:.1f} MB, after warm-up {rss_warm:.1f} MB, end {rss1:.1f} MB; "
          f"peak after warm-up {(peak_after / rss_warm - 1) * 100:+.1f}% of warm-up; "
          f"slope in the second half {_slope(second_half):+.2f} MB/min")
    print(f"server fds: start {fds0}, peak {max((f for *_, f in samples), default=fds1)}, "
          f"end {fds1}")
    print(f"server GC: {gcs.get('collections', 0):,} collections, worst pause "
          f"{gcs.get('worst_ms', 0):.1f} ms (generation {gcs.get('worst_gen')}), "
          f"{gcs.get('over_10ms', 0)} over 10 ms")
    print(f"server lateness over the kept records: p99 {late.get('p99')} ms, "
          f"max {late.get('max')} ms; worst client-seen stall beyond schedule "
          f"{load.worst_stall * 1000:.1f} ms, client gap error p99 "
          f"{pct(load.gap_err, 0.99) * 1000:.1f} ms")
    print(f"records lost: {lost} ({len(missing)} not in the timeline, {dropped} counted as aged "
          f"out; {len(wrong)} with a wrong outcome; {in_progress} left in_progress)")


if __name__ == "__main__":
    main()
