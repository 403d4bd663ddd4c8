"""The request timeline: one :class:`RequestRecord` per request, kept by a :class:`Recorder`.

Times are unix seconds (``time.time()`` scale) so that a test can compare them with its own
clock; they are taken from the monotonic clock and converted with one offset fixed at start-up.
The recorder reads like ``unittest.mock``: ``called``, ``call_count``, ``last``.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("in_progress", "completed", "client_disconnected", "fault_closed", "fault_reset",
            "error_event", "http_error", "rejected")

_OFFSET = time.time() - time.monotonic()


def wall(mono: float | None) -> float | None:
    """A monotonic reading as unix seconds."""
    return None if mono is None else mono + _OFFSET


@dataclass
class RequestRecord:
    id: str
    method: str
    path: str
    received: float  # monotonic
    format: str | None = None
    scenario: str | None = None
    model: str | None = None
    stream: bool | None = None
    status: int | None = None
    outcome: str = "in_progress"
    error: str | None = None
    first_byte: float | None = None  # monotonic
    ended: float | None = None  # monotonic
    client_disconnected: float | None = None  # monotonic
    blocked_since: float | None = None  # monotonic: a write waiting on a slow reader right now
    # (monotonic time, bytes, seconds waiting for the reader to drain, seconds late vs schedule)
    writes: list[tuple[float, int, float, float]] = field(default_factory=list)
    drain_wait: float = 0.0
    bytes_written: int = 0
    max_writes: int = 100_000
    writes_dropped: int = 0
    on_finish: Callable[[RequestRecord], None] | None = field(default=None, repr=False)

    # -- recording (called by the writer only) --
    def wrote(self, at: float, nbytes: int, drain: float, late: float = 0.0) -> None:
        if self.first_byte is None:
            self.first_byte = at
        self.bytes_written += nbytes
        self.drain_wait += drain
        if len(self.writes) < self.max_writes:
            self.writes.append((at, nbytes, drain, late))
        else:
            self.writes_dropped += 1

    def finish(self, outcome: str, at: float | None = None) -> None:
        if self.ended is None:
            self.outcome = outcome
            self.ended = time.monotonic() if at is None else at
            if outcome == "client_disconnected":
                self.client_disconnected = self.ended
            if self.on_finish is not None:
                self.on_finish(self)

    # -- reading --
    @property
    def done(self) -> bool:
        return self.ended is not None

    @property
    def received_at(self) -> float:
        return wall(self.received)  # type: ignore[return-value]

    @property
    def first_byte_at(self) -> float | None:
        return wall(self.first_byte)

    @property
    def ended_at(self) -> float | None:
        return wall(self.ended)

    @property
    def client_disconnected_at(self) -> float | None:
        return wall(self.client_disconnected)

    def to_json(self, writes: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "method": self.method, "path": self.path, "format": self.format,
            "scenario": self.scenario, "model": self.model, "stream": self.stream,
            "status": self.status, "outcome": self.outcome, "error": self.error,
            "received_at": self.received_at, "first_byte_at": self.first_byte_at,
            "ended_at": self.ended_at, "client_disconnected_at": self.client_disconnected_at,
            "bytes_written": self.bytes_written, "write_count": len(self.writes)
            + self.writes_dropped, "drain_wait_ms": round(self.drain_wait * 1000, 3),
            "blocked_since": wall(self.blocked_since),
        }
        if writes:
            out["writes"] = [
                {"at": wall(t), "offset_ms": round((t - self.received) * 1000, 3), "bytes": n,
                 "drain_wait_ms": round(d * 1000, 3), "late_ms": round(late * 1000, 3)}
                for t, n, d, late in self.writes
            ]
            out["writes_dropped"] = self.writes_dropped
        return out


class Recorder:
    """Keeps the most recent ``limit`` requests, in arrival order."""

    def __init__(self, limit: int = 10_000,
                 on_finish: Callable[[RequestRecord], None] | None = None) -> None:
        self.on_finish = on_finish
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._by_id: dict[str, RequestRecord] = {}
        self._ids = itertools.count(1)

    def new(self, method: str, path: str) -> RequestRecord:
        rec = RequestRecord(f"req_{next(self._ids):06d}", method, path, time.monotonic(),
                            on_finish=self.on_finish)
        if len(self._records) == self._records.maxlen:
            self._by_id.pop(self._records[0].id, None)
        self._records.append(rec)
        self._by_id[rec.id] = rec
        return rec

    def get(self, request_id: str) -> RequestRecord | None:
        return self._by_id.get(request_id)

    def reset(self) -> None:
        self._records.clear()
        self._by_id.clear()

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self._records)

    @property
    def called(self) -> bool:
        return bool(self._records)

    @property
    def call_count(self) -> int:
        return len(self._records)

    @property
    def last(self) -> RequestRecord | None:
        return self._records[-1] if self._records else None

    def find(self, predicate: Callable[[RequestRecord], bool]) -> RequestRecord | None:
        return next((r for r in reversed(self._records) if predicate(r)), None)


def escape(text: str) -> str:
    """``text`` with control characters (newlines included) and backslashes escaped as in
    ``repr``, so one log line cannot read as two."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else repr(c)[1:-1] for c in text)


def log_line(rec: RequestRecord) -> str:
    """One line per finished request, for ``sselab serve``'s log (control characters escaped:
    a path with ``%0A`` cannot forge a second line)."""
    took = (rec.ended - rec.received) * 1000 if rec.ended is not None else 0.0
    extra = f" ({escape(rec.error)})" if rec.error else ""
    return (f"{rec.id} {escape(rec.method)} {escape(rec.path)} "
            f"scenario={escape(rec.scenario or '-')} "
            f"status={rec.status or '-'} {rec.outcome} {rec.bytes_written}B "
            f"{len(rec.writes) + rec.writes_dropped} writes {took:.0f}ms{extra}")
