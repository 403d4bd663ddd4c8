"""Measure real nginx's buffering; prints the Markdown tables in docs/nginx-characterisation.md.

Run: ``python tests/buffering/characterise_nginx.py`` (needs /usr/sbin/nginx; ~1 minute).
Each row starts nginx with the given directives in front of the test upstream
(buffering_upstream.py) and records, at a raw-socket client, when bytes arrive and in which
bursts (reads with no gap over 40 ms). Columns: time of the first byte (head included), then
each burst as ``start s: wire bytes / events completed by its end``. The first tables also
show sselab's emulation of the same directives, measured on the same stream at the same time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from buffering_real_nginx import RealNginx, free_port, nginx_available  # noqa: E402
from buffering_upstream import running_upstream  # noqa: E402

from sselab.buffering import BufferingProxy, get_profile  # noqa: E402
from sselab.buffering.measure import Trace, fetch_trace  # noqa: E402
from sselab.buffering.profiles.nginx import Nginx  # noqa: E402

GZ = "gzip on; gzip_types text/event-stream;"
STREAM = "count=8&interval=0.1&first_delay=0.2"  # events at 0.2, 0.3, ... 0.9 s
MATRIX = [
    ("(defaults)", ""), ("proxy_http_version 1.1;", "proxy_http_version 1.1;"),
    ("proxy_buffering off;", "proxy_buffering off;"), (GZ, GZ),
    (GZ + " proxy_http_version 1.1;", GZ + " proxy_http_version 1.1;"),
    (GZ + " proxy_buffering off;", GZ + " proxy_buffering off;"),
]
EXTRA = [  # (label, directives, query)
    ("100 × 50 B every 20 ms", "", "size=50&count=100&interval=0.02"),
    ("12 × 1000 B", "", "size=1000&count=12&interval=0.1"),
    ("12 × 1000 B, http 1.1", "proxy_http_version 1.1;", "size=1000&count=12&interval=0.1"),
    ("X-Accel-Buffering: No", "", f"size=50&{STREAM}&accel=No"),
    ("X-Accel-Buffering: 0", "", f"size=50&{STREAM}&accel=0"),
    ("X-Accel-Buffering: false", "", f"size=50&{STREAM}&accel=false"),
    ("X-Accel-Buffering: yes + proxy_buffering off", "proxy_buffering off;",
     f"size=50&{STREAM}&accel=yes"),
    ("X-Accel-Buffering: no + proxy_ignore_headers", "proxy_ignore_headers X-Accel-Buffering;",
     f"size=50&{STREAM}&accel=no"),
    ("gzip, Cache-Control: no-transform", GZ, f"size=50&{STREAM}&cc=no-cache,no-transform"),
    ("gzip, no Accept-Encoding", GZ, f"size=50&{STREAM}&noae=1"),
    ("gzip, 12 × 5000 B random text", GZ, "size=5000&count=12&interval=0.1&fill=random"),
]


def bursts(trace: Trace, limit: int = 9) -> str:
    parts = [f"{b.start:.2f}: {b.wire}/{b.events}" for b in trace.bursts()]
    if len(parts) > limit:
        parts = parts[:limit - 1] + [f"… ({len(parts)} bursts)", parts[-1]]
    return "; ".join(parts)


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def emulated(directives: str) -> Nginx:
    """The emulator's parameters for the few directives used here."""
    params: dict[str, object] = {}
    if "proxy_http_version 1.1" in directives:
        params["proxy_http_version"] = "1.1"
    if "proxy_buffering off" in directives:
        params["proxy_buffering"] = False
    if "proxy_ignore_headers X-Accel-Buffering" in directives:
        params["ignore_x_accel_buffering"] = True
    if "gzip on" in directives:
        params.update(gzip=True, gzip_types=("text/html", "text/event-stream"))
    return Nginx(**params)  # type: ignore[arg-type]


async def measure(url: str, directives: str, query: str) -> tuple[Trace, Trace]:
    """The same stream through real nginx and through its emulation, at the same time."""
    headers = {} if "noae=1" in query else {"Accept-Encoding": "gzip"}
    profile = dataclasses.replace(get_profile("nginx"), behaviour=emulated(directives))
    with RealNginx(url, directives) as nginx:
        async with BufferingProxy(profile, url) as proxy:
            real, emu = await asyncio.gather(
                fetch_trace(f"{nginx.url}/sse?{query}", headers=headers, timeout=30),
                fetch_trace(f"{proxy.url}/sse?{query}", headers=headers, timeout=30))
    return real, emu


def log_line(nginx: RealNginx) -> str:
    errors = [line for line in nginx.error_log().splitlines() if "[error]" in line]
    match = re.search(r"\*\d+ (.*?)(, client:|$)", errors[-1]) if errors else None
    return match.group(1) if match else "-"


async def main() -> None:
    if not nginx_available():
        sys.exit("nginx not found at /usr/sbin/nginx")
    async with running_upstream() as up:
        print(row("directives", "event", "X-Accel-Buffering", "first byte", "bursts (nginx)",
                  "bursts (sselab emulation)"))
        print(row(*["---"] * 6))
        for label, directives in MATRIX:
            for size in (50, 5000):
                for accel in ("", "no"):
                    query = f"size={size}&{STREAM}" + (f"&accel={accel}" if accel else "")
                    real, emu = await measure(up.url, directives, query)
                    print(row(label, f"{size} B", accel or "-", f"{real.arrivals[0].t:.2f}",
                              bursts(real), bursts(emu)))
        print()
        print(row("case", "directives", "first byte", "bursts (nginx)",
                  "bursts (sselab emulation)", "Content-Encoding"))
        print(row(*["---"] * 6))
        for label, directives, query in EXTRA:
            real, emu = await measure(up.url, directives, query)
            print(row(label, directives or "(defaults)", f"{real.arrivals[0].t:.2f}",
                      bursts(real), bursts(emu), real.header("content-encoding") or "-"))
        print()
        print(row("upstream", "directives", "client gets", "error log"))
        print(row(*["---"] * 4))
        for label, path in (("resets after 2 events", "/reset"), ("never answers", "/hang"),
                            ("stalls after 1 event (sent X-Accel-Buffering: no)", "/slow_body")):
            for directives in ("proxy_read_timeout 1s;",
                               "proxy_read_timeout 1s; proxy_buffering off;"):
                with RealNginx(up.url, directives) as nginx:
                    trace = await fetch_trace(nginx.url + path, timeout=10)
                    log = log_line(nginx)
                got = f"{trace.status}, {trace.events} events, " + (
                    "complete" if trace.complete else "truncated")
                print(row(label, directives, got, log))
        with RealNginx(f"http://127.0.0.1:{free_port()}") as nginx:
            trace = await fetch_trace(nginx.url + "/sse", timeout=10)
            log = log_line(nginx)
        print(row("refuses connections", "(defaults)", trace.status, log))


if __name__ == "__main__":
    asyncio.run(main())
