"""Benchmark sselab's Toxiproxy-compatible proxy on loopback: throughput and added latency.

Three processes: the proxy (``sselab toxiproxy --port 0``), the upstreams (a sink that
acknowledges each transfer and an echo server, blocking sockets, one thread per connection) and
this one, which sends and pings. "Direct" runs the same client against the upstreams.

- throughput: one 200 MB transfer direct vs through the proxy (no toxics), median of 5
  interleaved runs, in MB/s and as a ratio; plus the same through a ``noop`` toxic (the cost
  of the toxic pipeline);
- latency: ping-pong of 64-byte messages, direct vs through the proxy in alternating blocks;
  the added round trip (two proxy hops) at p50 and p99.

Targets (from the issue): proxy throughput >= 40% of direct, added p99 < 1 ms.

    python bench/bench_proxy.py            # full run
    python bench/bench_proxy.py --smoke    # tiny sizes, a few seconds (CI)
    python bench/bench_proxy.py --check    # exit 1 if a target is missed
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
BLOCK = 1024 * 1024  # bytes per send() / recv_into()


def start_proxy_server() -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    code = "from sselab.toxiproxy.cli import toxiproxy_command; toxiproxy_command()"
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"http://[\d.]+:\d+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"proxy server did not start: {line!r} {proc.stderr.read()!r}")
    return proc, match.group(0)


def api(url: str, method: str, path: str, body: object | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def serve(handler) -> tuple[socket.socket, tuple[str, int]]:
    ls = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls, ls.getsockname()


def sink(conn: socket.socket) -> None:
    """Read an 8-byte length, then that many bytes; answer b"k". Repeat until EOF."""
    buf = bytearray(BLOCK)
    with conn:
        while header := conn.recv(8, socket.MSG_WAITALL):
            left = int.from_bytes(header, "big")
            while left > 0:
                n = conn.recv_into(buf, min(BLOCK, left))
                if not n:
                    return
                left -= n
            conn.sendall(b"k")


def echo(conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(65536):
            conn.sendall(data)


def transfer(addr: tuple[str, int], total: int) -> float:
    """Seconds to move ``total`` bytes over a fresh connection into the sink (until its ack)."""
    block = b"\0" * BLOCK
    with socket.create_connection(addr, timeout=120) as s:
        t0 = time.perf_counter()
        s.sendall(total.to_bytes(8, "big"))
        sent = 0
        while sent < total:
            n = min(BLOCK, total - sent)
            s.sendall(block if n == BLOCK else block[:n])
            sent += n
        if s.recv(1) != b"k":
            raise SystemExit("the sink closed before acknowledging the transfer")
        return time.perf_counter() - t0


def serve_forever() -> None:
    """``--serve``: the sink and echo servers, in their own process; prints their ports."""
    sink_ls, sink_addr = serve(sink)
    echo_ls, echo_addr = serve(echo)
    print(sink_addr[1], echo_addr[1], flush=True)
    sys.stdin.read()  # until the parent closes our stdin


def start_upstreams() -> tuple[subprocess.Popen, tuple[str, int], tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    sink_port, echo_port = map(int, proc.stdout.readline().split())  # type: ignore[union-attr]
    return proc, ("127.0.0.1", sink_port), ("127.0.0.1", echo_port)


def ping_pong(addrs: list[tuple[str, int]], count: int, block: int = 50) -> list[list[float]]:
    """Round-trip times in ms of ``count`` 64-byte messages per address, one connection each,
    taken in alternating blocks so that machine noise hits every address alike."""
    msg = b"p" * 64
    socks = [socket.create_connection(addr, timeout=10) for addr in addrs]
    times: list[list[float]] = [[] for _ in addrs]
    try:
        for s in socks:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for round_ in range((count + count // 10) // block):  # the first 10% warm up
            for s, out in zip(socks, times, strict=True):
                for _ in range(block):
                    t0 = time.perf_counter_ns()
                    s.sendall(msg)
                    got = 0
                    while got < len(msg):
                        data = s.recv(len(msg) - got)
                        if not data:
                            raise SystemExit("the echo server closed the connection")
                        got += len(data)
                    if round_ * block >= count // 10:
                        out.append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        for s in socks:
            s.close()
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def proxy_addr(url: str, name: str, upstream: tuple[str, int]) -> tuple[str, int]:
    body = {"name": name, "upstream": f"{upstream[0]}:{upstream[1]}", "listen": "127.0.0.1:0"}
    host, port = api(url, "POST", "/proxies", body)["listen"].rsplit(":", 1)
    return host, int(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--mb", type=int, default=None, help="transfer size in MB (default 200)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_forever()
        return 0
    total = (args.mb or (8 if args.smoke else 200)) * MB
    runs, pings = (1, 300) if args.smoke else (5, 3000)

    proc, url = start_proxy_server()
    upstreams, sink_addr, echo_addr = start_upstreams()
    try:
        plain = proxy_addr(url, "plain", sink_addr)
        toxic = proxy_addr(url, "toxic", sink_addr)
        api(url, "POST", "/proxies/toxic/toxics", {"type": "noop", "stream": "upstream"})
        echo_proxy = proxy_addr(url, "echo", echo_addr)

        for addr in (sink_addr, plain, toxic):  # warm-up
            transfer(addr, min(total, 8 * MB))
        timings: dict[tuple[str, int], list[float]] = {sink_addr: [], plain: [], toxic: []}
        for _ in range(runs):  # interleaved, so that machine noise hits each alike
            for addr, seconds in timings.items():
                seconds.append(transfer(addr, total))
        direct_s, proxy_s, toxic_s = (statistics.median(v) for v in timings.values())
        direct_rtt, proxy_rtt = ping_pong([echo_addr, echo_proxy], pings)
    finally:
        upstreams.communicate(timeout=10)  # closes its stdin: it exits
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()

    d_mbs, p_mbs, t_mbs = total / MB / direct_s, total / MB / proxy_s, total / MB / toxic_s
    ratio = p_mbs / d_mbs
    add50 = pct(proxy_rtt, 0.50) - pct(direct_rtt, 0.50)
    add99 = pct(proxy_rtt, 0.99) - pct(direct_rtt, 0.99)
    print(f"sselab toxiproxy bench ({'smoke' if args.smoke else 'full'}; "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
          f"{total // MB} MB x {runs}, {pings} pings)")
    print(f"throughput direct        {d_mbs:9.1f} MB/s")
    print(f"throughput via proxy     {p_mbs:9.1f} MB/s   ratio {ratio:6.1%}  (target >= 40%)")
    print(f"throughput via noop toxic{t_mbs:9.1f} MB/s   ratio {t_mbs / d_mbs:6.1%}  (toxic path)")
    print(f"round trip direct        p50 {pct(direct_rtt, .5):.3f} ms  "
          f"p99 {pct(direct_rtt, .99):.3f} ms")
    print(f"round trip via proxy     p50 {pct(proxy_rtt, .5):.3f} ms  "
          f"p99 {pct(proxy_rtt, .99):.3f} ms")
    print(f"added by proxy           p50 {add50:.3f} ms  p99 {add99:.3f} ms  (target p99 < 1 ms)")
    ok = ratio >= 0.40 and add99 < 1.0
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
