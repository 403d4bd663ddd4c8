"""Benchmark ``sselab record`` on loopback: latency it adds per piece, throughput vs direct.

Three processes: the recorder (``sselab record --port 0``, writing its recordings to a temporary
directory), an upstream (a raw-socket HTTP/1.1 server, one thread per connection, written here:
no sselab code) and this one, the client, reading raw sockets.

- latency: the upstream streams pieces ``data: <monotonic ns>\\n\\n`` a fixed gap apart; the
  client notes when each piece arrives (CLOCK_MONOTONIC is shared by the processes). Direct and
  through the recorder in alternating runs; the added latency is the difference of the two
  distributions at p50 and p99;
- throughput: one large body in 64 KiB pieces as fast as the upstream can write, direct vs
  through the recorder (which keeps every piece and writes the recording afterwards), median
  of interleaved runs.

Targets (from the issue): added p99 under 1 ms, throughput at least 50% of direct.

    python bench/bench_record.py            # full run
    python bench/bench_record.py --smoke    # small sizes, a few seconds (CI)
    python bench/bench_record.py --check    # exit 1 if a target is missed
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
PIECE = re.compile(rb"data: (\d+)\n\n")


# --- the upstream (its own process) ---
def _handle(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        target = data.split(b" ", 2)[1].decode()
        url = urlsplit(target)
        q = {k: float(v[0]) for k, v in parse_qs(url.query).items()}
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        if url.path == "/latency":
            gap = q["gap_ms"] / 1000
            due = time.monotonic()
            for _ in range(int(q["n"])):
                due += gap
                time.sleep(max(0.0, due - time.monotonic()))
                piece = b"data: %d\n\n" % time.monotonic_ns()
                conn.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
        elif url.path == "/events":  # SSE-sized events, each its own HTTP chunk, in bursts
            size = int(q["size"])
            event = b"data: " + b"x" * (size - 8) + b"\n\n"
            burst = (b"%x\r\n%b\r\n" % (len(event), event)) * 64
            for _ in range(int(q["bytes"]) // (size * 64)):
                conn.sendall(burst)
        else:
            size = int(q["size"])
            chunk = b"%x\r\n%b\r\n" % (size, b"x" * size)
            for _ in range(int(q["bytes"]) // size):
                conn.sendall(chunk)
        conn.sendall(b"0\r\n\r\n")


def serve_forever() -> None:
    ls = socket.create_server(("127.0.0.1", 0))
    print(ls.getsockname()[1], flush=True)

    def accept() -> None:
        while True:
            conn, _ = ls.accept()
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()  # until the parent closes our stdin


# --- the client ---
def get(port: int, target: str, on_read) -> int:
    """GET ``target``; ``on_read(bytes, monotonic ns)`` for every read; returns bytes read."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        total = 0
        buf = bytearray(1 << 20)
        while n := s.recv_into(buf):
            total += n
            on_read(bytes(buf[:n]), time.monotonic_ns())
        return total


def latencies(port: int, n: int, gap_ms: float) -> list[float]:
    """Per-piece latency in ms, upstream write to client read."""
    out: list[float] = []
    tail = b""

    def on_read(data: bytes, now: int) -> None:
        nonlocal tail
        data = tail + data
        last = 0
        for m in PIECE.finditer(data):
            out.append((now - int(m.group(1))) / 1e6)
            last = m.end()
        tail = data[last:][-64:]

    get(port, f"/latency?n={n}&gap_ms={gap_ms}", on_read)
    return out


def transfer(port: int, total: int, size: int, kind: str = "bulk") -> float:
    t0 = time.perf_counter()
    got = get(port, f"/{kind}?bytes={total}&size={size}", lambda data, now: None)
    if got < total // (size * 64 if kind == "events" else size) * size:  # body, framing aside
        raise SystemExit(f"short read: {got} of {total} bytes")
    return time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def relay_forever(upstream_port: int) -> None:
    """``--relay``: a raw TCP pass-through relay (asyncio, no HTTP parsing, nothing kept): the
    floor cost of any extra hop in userspace on this machine, for reference."""
    import asyncio

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 18):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def start_child(*args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())  # type: ignore[union-attr]


def start_recorder(upstream_port: int, out: Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "record", "--upstream",
                             f"http://127.0.0.1:{upstream_port}", "--port", "0", "--out",
                             str(out), "-q"], env=env, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the recorder did not start: {line!r}")
    return proc, int(match.group(1))


def wait_written(out: Path, count: int, timeout: float = 60.0) -> None:
    """The recorder writes each recording after its answer: wait, so runs do not overlap."""
    deadline = time.monotonic() + timeout
    while len(list(out.glob("*.yaml"))) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_forever()
        return 0
    if args.relay:
        relay_forever(args.relay)
        return 0
    pieces, gap, runs = (300, 2.0, 3) if args.smoke else (2000, 2.0, 5)
    shapes = {"bulk": (65536, (128 if args.smoke else 1024) * 65536),  # 64 KiB pieces
              "events": (200, (4 if args.smoke else 32) * MB)}  # SSE-sized, in bursts of 64

    upstream, up_port = start_child("--serve")
    relay, relay_port = start_child("--relay", str(up_port))
    out = Path(tempfile.mkdtemp(prefix="sselab-bench-record-"))
    recorder, rec_port = start_recorder(up_port, out)
    written = 0
    ports = {"direct": up_port, "recorder": rec_port, "raw relay": relay_port}
    lat: dict[str, list[float]] = {name: [] for name in ports}
    added: list[tuple[float, float]] = []  # per run: (p50, p99) recorder minus direct
    mbs: dict[str, dict[str, list[float]]] = {k: {n: [] for n in ports} for k in shapes}
    try:
        for port in ports.values():  # warm-up
            latencies(port, 50, 1.0)
        written += 1
        for _ in range(runs):  # interleaved, so that machine noise hits each alike
            run = {name: latencies(port, pieces, gap) for name, port in ports.items()}
            for name, values in run.items():
                lat[name] += values
            added.append((pct(run["recorder"], 0.5) - pct(run["direct"], 0.5),
                          pct(run["recorder"], 0.99) - pct(run["direct"], 0.99)))
            written += 1
            wait_written(out, written)
        for kind, (size, total) in shapes.items():
            for _ in range(runs):
                for name, port in ports.items():
                    mbs[kind][name].append(total / transfer(port, total, size, kind) / MB)
                written += 1
                wait_written(out, written)
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(30)
        except subprocess.TimeoutExpired:
            recorder.kill()
        for child in (upstream, relay):
            child.stdin.close()  # type: ignore[union-attr]
            child.wait(10)
        recorded = len(list(out.glob("*.yaml")))
        shutil.rmtree(out, ignore_errors=True)

    direct = lat["direct"]
    added50 = statistics.median(a for a, _ in added)  # the median run: noise hits runs unevenly
    added99 = statistics.median(b for _, b in added)
    print(f"sselab record on loopback ({'smoke' if args.smoke else 'full'}, {os.cpu_count()} "
          f"CPUs; {recorded} recordings written)")
    print(f"  latency per piece ({len(direct)} pieces each, {gap:g} ms apart):")
    for name, values in lat.items():
        print(f"    {name:<10} p50 {pct(values, 0.5):.3f} ms  p99 {pct(values, 0.99):.3f} ms")
    print(f"    added by the recorder (median of {runs} runs): p50 {added50:.3f} ms  "
          f"p99 {added99:.3f} ms   (target: p99 < 1 ms)")
    ratios = {}
    for kind, (size, total) in shapes.items():
        med = {name: statistics.median(v) for name, v in mbs[kind].items()}
        ratios[kind] = med["recorder"] / med["direct"]
        print(f"  throughput, {total / MB:.0f} MB in {size}-byte pieces (median of {runs}):")
        print(f"    direct {med['direct']:.0f} MB/s; recorder {med['recorder']:.0f} MB/s = "
              f"{ratios[kind]:.0%} of direct (target: >= 50%); raw relay "
              f"{med['raw relay']:.0f} MB/s = {med['raw relay'] / med['direct']:.0%}")
    missed = added99 >= 1.0 or min(ratios.values()) < 0.5
    if missed:
        print("  a target was missed" + ("" if args.check else " (figures only; --check fails)"))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
