"""Run one stream through every profile and tell which ones let it stream.

A row per profile: when the first byte and first event arrived, how many bursts (see
:data:`~simulator.buffering.measure.BURST_GAP`) and the largest one, and a verdict. The verdict
counts the bursts that complete at least one SSE event and compares that with ``passthrough``'s
count, which is the upstream as it really streams: ``streams`` (at least 80 % as many),
``partly buffered`` (fewer), ``buffered`` (several events, all in one burst), ``error`` (an
HTTP error or no response).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .emulator import BufferingProxy
from .measure import BURST_GAP, Trace, fetch_trace
from .profiles import profiles as _profiles

DEFAULT_HEADERS = {"Accept": "text/event-stream", "Accept-Encoding": "gzip"}  # as browsers send


@dataclass(frozen=True)
class ReportRow:
    profile: str
    status: int
    first_byte: float | None  # seconds after the request, head included
    first_event: float | None
    last_byte: float | None
    bursts: int
    largest_burst_events: int
    largest_burst_bytes: int
    events: int
    verdict: str
    note: str = ""
    fix: str = ""  # the profile's fix, for rows that did not stream


def event_bursts(trace: Trace) -> int:
    """Bursts that completed at least one SSE event (a lone head or gzip header is not one)."""
    count, prev = 0, 0
    for b in trace.bursts():
        count, prev = count + (b.events > prev), b.events
    return count


def _row(name: str, trace: Trace, baseline: int | None, fix: str) -> ReportRow:
    bursts = trace.bursts()
    prev, largest_ev, largest_b = 0, 0, 0
    for b in bursts:
        largest_ev, prev = max(largest_ev, b.events - prev), b.events
        largest_b = max(largest_b, b.wire)
    events, carrying = trace.events, event_bursts(trace)
    if trace.status == 0 or trace.status >= 400 or (trace.error and not events):
        verdict = "error"
    elif carrying <= 1:
        verdict = "streams" if events <= 1 or baseline == 1 else "buffered"
    elif carrying >= 0.8 * (baseline or events):
        verdict = "streams"
    else:
        verdict = "partly buffered"
    note = trace.error or ""
    if trace.status and not trace.complete and not note:
        note = "truncated"
    return ReportRow(name, trace.status,
                     trace.arrivals[0].t if trace.arrivals else None,
                     trace.first_event_at(),
                     trace.arrivals[-1].t if trace.arrivals else None,
                     len(bursts), largest_ev, largest_b, events, verdict, note,
                     fix if verdict in ("buffered", "partly buffered") else "")


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body).encode()


async def abuffering_report(upstream_url: str, method: str = "GET", body: Any = None,
                            headers: dict[str, str] | None = None, *,
                            names: list[str] | None = None, timeout: float = 120.0,
                            read_timeout: float | None = None) -> list[ReportRow]:
    """Stream ``method upstream_url`` through each profile at once; ``passthrough`` first."""
    parts = urlsplit(upstream_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    hdrs = {**DEFAULT_HEADERS, **(headers or {})}
    payload = _encode_body(body, hdrs)
    known = _profiles()
    chosen = names or sorted(known, key=lambda n: (n != "passthrough", n))

    async def one(name: str) -> Trace:
        async with BufferingProxy(known[name], origin, read_timeout=read_timeout) as proxy:
            return await fetch_trace(proxy.url + target, method, payload, hdrs, timeout=timeout)

    traces = await asyncio.gather(*(one(n) for n in chosen))
    by_name = dict(zip(chosen, traces, strict=True))
    base = by_name.get("passthrough")
    baseline = event_bursts(base) if base and base.status and base.status < 400 else None
    return [_row(n, by_name[n], baseline, known[n].fix) for n in chosen]


def buffering_report(upstream_url: str, method: str = "GET", body: Any = None,
                     headers: dict[str, str] | None = None, **options: Any) -> list[ReportRow]:
    """Synchronous :func:`abuffering_report` (runs its own event loop, in a thread if needed)."""
    coro = abuffering_report(upstream_url, method, body, headers, **options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[list[ReportRow]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def format_report(rows: list[ReportRow]) -> str:
    """The rows as a plain-text table, what a burst is, and the fix for each buffered row."""
    header = ("profile", "status", "first byte", "first event", "bursts", "largest burst",
              "verdict")
    table = [header] + [
        (r.profile, str(r.status or "-"), _secs(r.first_byte), _secs(r.first_event),
         str(r.bursts), f"{r.largest_burst_events} ev / {r.largest_burst_bytes} B",
         r.verdict + (f" ({r.note})" if r.note else ""))
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"burst = bytes arriving with no gap over {BURST_GAP * 1000:.0f} ms; "
                 "verdict compares bursts that carry events with passthrough's")
    fixes = [f"  {r.profile}: {r.fix}" for r in rows if r.fix]
    if fixes:
        lines += ["", "fixes:"] + fixes
    return "\n".join(lines)
