"""Run one stream through every profile and tell which ones let it stream.

A row per profile: when the first byte and first event arrived, how many bursts (see
:data:`~sselab.buffering.measure.BURST_GAP`, or :func:`burst_gap_for` when the upstream
writes faster than that) and the largest one, and a verdict. The verdict
counts the bursts that complete at least one SSE event and compares that with ``passthrough``'s
count, which is the upstream as it really streams: ``streams`` (at least 2/3 as many),
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

STREAMING_SHARE = 2 / 3  # of passthrough's event-carrying bursts, to count as streaming
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
    burst_gap: float = BURST_GAP  # the silence that ended a burst in this report


def event_bursts(trace: Trace, gap: float = BURST_GAP) -> int:
    """Bursts that completed at least one SSE event (a lone head or gzip header is not one)."""
    count, prev = 0, 0
    for b in trace.bursts(gap):
        count, prev = count + (b.events > prev), b.events
    return count


def burst_gap_for(baseline: Trace | None) -> float:
    """:data:`BURST_GAP`, or half the upstream's typical spacing between events if smaller.

    LLM tokens often come 20–50 ms apart, under the 40 ms default, which would make even an
    unbuffered stream one burst; the report then separates bursts at half the median spacing
    that ``passthrough`` observed (never under 5 ms).
    """
    if baseline is None:
        return BURST_GAP
    times, prev = [], 0
    for a in baseline.arrivals:
        if a.events > prev:
            times.append(a.t)
            prev = a.events
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    if not gaps:
        return BURST_GAP
    return min(BURST_GAP, max(0.005, gaps[len(gaps) // 2] / 2))


def _row(name: str, trace: Trace, baseline: int | None, fix: str, gap: float) -> ReportRow:
    bursts = trace.bursts(gap)
    prev, largest_ev, largest_b = 0, 0, 0
    for b in bursts:
        largest_ev, prev = max(largest_ev, b.events - prev), b.events
        largest_b = max(largest_b, b.wire)
    events, carrying = trace.events, event_bursts(trace, gap)
    if trace.status == 0 or trace.status >= 400 or (trace.error and not events):
        verdict = "error"
    elif carrying <= 1:
        verdict = "streams" if events <= 1 or baseline == 1 else "buffered"
    elif carrying >= STREAMING_SHARE * (baseline or events):
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
                     fix if verdict in ("buffered", "partly buffered") else "", gap)


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
    if base is not None and not (base.status and base.status < 400):
        base = None
    gap = burst_gap_for(base)
    baseline = event_bursts(base, gap) if base is not None else None
    return [_row(n, by_name[n], baseline, known[n].fix, gap) for n in chosen]


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
    gap = rows[0].burst_gap if rows else BURST_GAP
    lines.append(f"burst = bytes arriving with no gap over {gap * 1000:.0f} ms; "
                 "verdict compares bursts that carry events with passthrough's")
    fixes = [f"  {r.profile}: {r.fix}" for r in rows if r.fix]
    if fixes:
        lines += ["", "fixes:"] + fixes
    return "\n".join(lines)
