"""When do bytes reach the client? A raw-socket HTTP/1.1 client that timestamps every read.

A *burst* is a group of reads with no gap longer than :data:`BURST_GAP` between them; this is the
one definition sselab uses everywhere (tests, characterisation, ``buffering-report``). It assumes
the upstream writes events at least ~100 ms apart, so 40 ms separates "arrived together" from
"arrived as written" even on a noisy machine.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._http import BodyReader, Head, HttpFramingError, split_head

BURST_GAP = 0.040  # seconds


@dataclass(frozen=True)
class Arrival:
    """One socket read: when (seconds after the request was sent), wire bytes, and progress.

    ``body`` is the decoded body length after this read (de-chunked and, for a gzip response,
    decompressed); ``events`` the number of complete SSE events (blank-line terminated) in it.
    """

    t: float
    wire: int
    body: int
    events: int


@dataclass(frozen=True)
class Burst:
    start: float
    end: float
    wire: int  # wire bytes in the burst (head included for the first burst)
    events: int  # complete SSE events received by the end of the burst (cumulative)


@dataclass
class Trace:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    body: bytes = b""
    complete: bool = False  # the body ended by its framing (or by EOF for close-delimited)
    error: str | None = None

    def header(self, name: str) -> str | None:
        return Head("", 0, "", self.headers).get(name)

    @property
    def events(self) -> int:
        return self.arrivals[-1].events if self.arrivals else 0

    def bursts(self, gap: float = BURST_GAP) -> list[Burst]:
        return group_bursts(self.arrivals, gap)

    def first_event_at(self) -> float | None:
        return next((a.t for a in self.arrivals if a.events), None)


def group_bursts(arrivals: list[Arrival], gap: float = BURST_GAP) -> list[Burst]:
    """Group reads into bursts: a new burst starts after a silence longer than ``gap``."""
    bursts: list[Burst] = []
    for a in arrivals:
        if bursts and a.t - bursts[-1].end <= gap:
            last = bursts[-1]
            bursts[-1] = Burst(last.start, a.t, last.wire + a.wire, a.events)
        else:
            bursts.append(Burst(a.t, a.t, a.wire, a.events))
    return bursts


class EventCounter:
    """Counts complete SSE events (blank lines, LF or CRLF) in a body fed piece by piece."""

    def __init__(self) -> None:
        self.events = 0
        self._line = b""

    def feed(self, data: bytes) -> int:
        lines = (self._line + data).split(b"\n")
        self._line = lines.pop()
        self.events += sum(1 for line in lines if line in (b"", b"\r"))
        return self.events


def count_events(body: bytes) -> int:
    """Complete SSE events in ``body``."""
    return EventCounter().feed(body)


async def fetch_trace(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    timeout: float = 30.0,
) -> Trace:
    """Send one request over a fresh connection and record every read until the body ends.

    Never raises for network trouble: the error is recorded in ``Trace.error``.
    """
    trace = Trace()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    hdrs = {"Host": f"{host}:{port}", "Accept": "text/event-stream", "Connection": "close"}
    hdrs.update(headers or {})
    if body is not None:
        hdrs["Content-Length"] = str(len(body))
    request = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            t0 = time.monotonic()
            writer.write(request.encode("latin-1") + b"\r\n" + (body or b""))
            await _read_into(trace, reader, method, t0)
    except TimeoutError:
        trace.error = f"timed out after {timeout:g}s"
    except (OSError, HttpFramingError) as exc:
        trace.error = f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.close()
    return trace


async def _read_into(trace: Trace, reader: asyncio.StreamReader, method: str, t0: float) -> None:
    buf = b""
    head = None
    body_reader: BodyReader | None = None
    inflate = None
    decoded = bytearray()
    counter = EventCounter()
    while True:
        data = await reader.read(65536)
        t = time.monotonic() - t0
        if not data:
            if body_reader is not None and body_reader.mode == "close":
                trace.complete = True
            elif body_reader is None or not body_reader.done:
                trace.error = trace.error or "connection closed before the response ended"
            break
        raw = data
        if head is None:
            buf += data
            parsed = split_head(buf)
            if parsed is None:
                trace.arrivals.append(Arrival(t, len(raw), 0, 0))
                continue
            head, data = parsed
            trace.status, trace.headers = head.status, head.headers
            body_reader = BodyReader.for_head(head, method)
            if "gzip" in (head.get("content-encoding") or "").lower():
                inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert body_reader is not None
        chunk = body_reader.feed(data)
        plain = inflate.decompress(chunk) if inflate else chunk
        decoded += plain
        trace.arrivals.append(Arrival(t, len(raw), len(decoded), counter.feed(plain)))
        if body_reader.done:
            trace.complete = True
            break
    trace.body = bytes(decoded)
