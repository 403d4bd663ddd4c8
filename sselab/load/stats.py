"""Per-stream figures (:class:`StreamResult`) and their mergeable total (:class:`Aggregate`).

What one stream is measured by, from the client's reads (sselab's client: one ``recv`` is one
arrival):

- **TTFT**: from sending the request (before connecting) to the first read carrying answer text;
- **inter-token gap**: between consecutive tokens as the client got them: a token that came in
  the same read as the one before has a gap of 0, the first token of a later read has the time
  since the previous read with text. A relay that forwards each token shows the upstream's
  pacing; a buffer shows zero gaps (p50) and long ones (p99), or, holding the whole answer,
  zeros only (and a TTFT as long as the stream);
- **gap between arrivals**: the same between reads carrying text, whatever they hold;
- **tokens per arrival**: text pieces (SSE events, NDJSON lines) per such read: 1 when each
  token is forwarded as it comes, the whole answer when it is held back;
- **tokens/s**: the tokens after the first read over the time from the first to the last text;
- **outcome**: ``complete``, ``error`` (HTTP error, error event, connection failure or body
  cut short, no answer text), ``timeout`` (not finished within the stream timeout),
  ``aborted`` (dropped by the client on purpose, ``--abort-share``), ``cut`` (still running
  when the run ended; not counted in Locust's statistics).

An :class:`Aggregate` holds histograms and counts only (no per-stream list), so its size does
not grow with the run; workers send theirs to the master with :meth:`Aggregate.to_wire`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..check.http_client import Trace
from .hist import Hist

OUTCOMES = ("complete", "error", "timeout", "aborted", "cut")
FAILED = ("error", "timeout")
MAX_ERROR_KINDS = 20
_WALL = time.time() - time.monotonic()  # monotonic → unix seconds, fixed per process


def wall(mono: float) -> float:
    return mono + _WALL


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class StreamResult:
    """One stream as the client saw it. Times in seconds; ``started`` and ``arrivals`` in
    unix seconds."""

    started: float
    outcome: str
    duration: float
    status: int | None = None
    ttft: float | None = None
    tokens: int = 0
    chars: int = 0
    body_bytes: int = 0
    arrivals: list[float] = field(default_factory=list)  # reads carrying text, unix seconds
    per_arrival: list[int] = field(default_factory=list)  # text pieces in each of them
    error: str | None = None

    @property
    def arrival_gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]

    def token_gaps(self) -> list[tuple[float, float, int]]:
        """(arrival time, gap, how many tokens had it): the first token of a read has the gap
        since the previous read with text (none for the first read), the others in it 0."""
        per = self.per_arrival if len(self.per_arrival) == len(self.arrivals) \
            else [1] * len(self.arrivals)
        out: list[tuple[float, float, int]] = []
        for i, (at, n) in enumerate(zip(self.arrivals, per)):
            if i:
                out.append((at, at - self.arrivals[i - 1], 1))
            if n > 1:
                out.append((at, 0.0, n - 1))
        return out

    @property
    def gaps(self) -> list[float]:
        """Every inter-token gap, in order of arrival."""
        return [g for _, g, n in self.token_gaps() for _ in range(n)]

    @property
    def gap_p50(self) -> float | None:
        return _pct(self.gaps, 0.5)

    @property
    def gap_p99(self) -> float | None:
        return _pct(self.gaps, 0.99)

    @property
    def tokens_per_s(self) -> float | None:
        if len(self.arrivals) < 2:
            return None
        span = self.arrivals[-1] - self.arrivals[0]
        after_first = self.tokens - (self.per_arrival[0] if self.per_arrival else 0)
        return after_first / span if span > 0 else None

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED

    @classmethod
    def from_trace(cls, trace: Trace, per_arrival: Sequence[int], *, aborted: bool = False,
                   cut: bool = False) -> StreamResult:
        """Classify a finished :class:`~sselab.check.http_client.Trace`."""
        text = [a for a in trace.arrivals if a.text]
        end = trace.ended if trace.ended is not None else time.monotonic()
        res = cls(started=wall(trace.started), outcome="complete",
                  duration=max(0.0, end - trace.started), status=trace.status,
                  ttft=(text[0].at - trace.started) if text else None,
                  tokens=sum(per_arrival), chars=len(trace.text), body_bytes=trace.body_bytes,
                  arrivals=[wall(a.at) for a in text], per_arrival=list(per_arrival))
        res.outcome, res.error = _classify(trace, aborted=aborted, cut=cut)
        return res


def _classify(trace: Trace, *, aborted: bool, cut: bool) -> tuple[str, str | None]:
    if cut:
        return "cut", None
    if trace.status is not None and trace.status >= 400:
        return "error", f"HTTP {trace.status} {trace.reason}".strip()
    if trace.errors:
        return "error", f"error event: {trace.errors[0][:80]}"
    if aborted and trace.end == "client_closed":
        return "aborted", None
    if trace.end == "timeout":
        return "timeout", "no end within the stream timeout"
    if trace.end == "connect_error" or trace.status is None:
        return "error", (trace.failure or "no response")[:120]
    if trace.end == "truncated":
        return "error", "the connection closed mid-body"
    if not trace.text:
        return "error", "no answer text in the stream"
    return "complete", None


def _bin_hists() -> dict[str, Hist]:
    return {"ttft": Hist(), "gap": Hist()}


@dataclass
class Aggregate:
    """Histograms (values in ms, except counts) and counts over many streams; mergeable."""

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    errors: dict[str, int] = field(default_factory=dict)
    ttft: Hist = field(default_factory=Hist)
    gap: Hist = field(default_factory=Hist)  # every inter-token gap
    arrival_gap: Hist = field(default_factory=Hist)  # between reads carrying text
    duration: Hist = field(default_factory=Hist)  # complete streams
    stream_gap_p99: Hist = field(default_factory=Hist)
    tokens_per_s: Hist = field(default_factory=Hist)
    per_arrival: Hist = field(default_factory=lambda: Hist(exact=True))
    tokens: int = 0
    text_arrivals: int = 0
    body_bytes: int = 0
    first: float | None = None  # unix seconds: the first stream's start
    last: float | None = None  # the last stream's end
    cut_at: float | None = None  # when the first stream was cut by the run's end
    bins: dict[int, dict[str, Hist]] = field(default_factory=dict)  # unix second → hists
    sources: dict[str, int] = field(default_factory=dict)  # streams per load generator

    @property
    def streams(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return sum(self.outcomes.get(o, 0) for o in FAILED)

    def add(self, r: StreamResult, source: str = "local") -> None:
        self.outcomes[r.outcome] = self.outcomes.get(r.outcome, 0) + 1
        self.sources[source] = self.sources.get(source, 0) + 1
        if r.error:
            key = r.error if (r.error in self.errors or len(self.errors) < MAX_ERROR_KINDS) \
                else "other errors"
            self.errors[key] = self.errors.get(key, 0) + 1
        end = r.started + r.duration
        self.first = r.started if self.first is None else min(self.first, r.started)
        self.last = end if self.last is None else max(self.last, end)
        if r.outcome == "cut":
            self.cut_at = end if self.cut_at is None else min(self.cut_at, end)
        self.tokens += r.tokens
        self.text_arrivals += len(r.arrivals)
        self.body_bytes += r.body_bytes
        for n in r.per_arrival:
            self.per_arrival.add(n)
        if r.ttft is not None and r.outcome != "cut":
            self.ttft.add(r.ttft * 1000)
            self._bin(r.arrivals[0])["ttft"].add(r.ttft * 1000)
        for g in r.arrival_gaps:
            self.arrival_gap.add(g * 1000)
        for at, g, n in r.token_gaps():
            self.gap.add(g * 1000, n)
            self._bin(at)["gap"].add(g * 1000, n)
        if r.outcome == "complete":
            self.duration.add(r.duration * 1000)
        if r.gap_p99 is not None:
            self.stream_gap_p99.add(r.gap_p99 * 1000)
        if r.tokens_per_s is not None:
            self.tokens_per_s.add(r.tokens_per_s)

    def _bin(self, at: float) -> dict[str, Hist]:
        return self.bins.setdefault(int(at), _bin_hists())

    def merge(self, other: Aggregate) -> None:
        for k, n in other.outcomes.items():
            self.outcomes[k] = self.outcomes.get(k, 0) + n
        for k, n in other.sources.items():
            self.sources[k] = self.sources.get(k, 0) + n
        for k, n in other.errors.items():
            key = k if (k in self.errors or len(self.errors) < MAX_ERROR_KINDS) \
                else "other errors"
            self.errors[key] = self.errors.get(key, 0) + n
        for name in ("ttft", "gap", "arrival_gap", "duration", "stream_gap_p99", "tokens_per_s",
                     "per_arrival"):
            getattr(self, name).merge(getattr(other, name))
        self.tokens += other.tokens
        self.text_arrivals += other.text_arrivals
        self.body_bytes += other.body_bytes
        for mine, theirs, pick in (("first", other.first, min), ("last", other.last, max),
                                   ("cut_at", other.cut_at, min)):
            if theirs is not None:
                now = getattr(self, mine)
                setattr(self, mine, theirs if now is None else pick(now, theirs))
        for sec, hists in other.bins.items():
            into = self.bins.setdefault(sec, _bin_hists())
            for name, h in hists.items():
                into[name].merge(h)

    # -- the wire (Locust's msgpack messages: string keys, lists) ------------------------------
    def to_wire(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes), "errors": dict(self.errors),
            "sources": dict(self.sources),
            "hists": {name: getattr(self, name).to_wire() for name in
                      ("ttft", "gap", "arrival_gap", "duration", "stream_gap_p99", "tokens_per_s",
                       "per_arrival")},
            "tokens": self.tokens, "text_arrivals": self.text_arrivals,
            "body_bytes": self.body_bytes, "first": self.first, "last": self.last,
            "cut_at": self.cut_at, "bins": [[sec, {n: h.to_wire() for n, h in hists.items()}]
                     for sec, hists in sorted(self.bins.items())],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Aggregate:
        agg = cls()
        agg.outcomes.update({str(k): int(v) for k, v in data.get("outcomes", {}).items()})
        agg.errors = {str(k): int(v) for k, v in data.get("errors", {}).items()}
        agg.sources = {str(k): int(v) for k, v in data.get("sources", {}).items()}
        for name, wire in data.get("hists", {}).items():
            setattr(agg, name, Hist.from_wire(wire, exact=(name == "per_arrival")))
        agg.tokens = int(data.get("tokens", 0))
        agg.text_arrivals = int(data.get("text_arrivals", 0))
        agg.body_bytes = int(data.get("body_bytes", 0))
        agg.first, agg.last = data.get("first"), data.get("last")
        agg.cut_at = data.get("cut_at")
        for sec, hists in data.get("bins", []):
            agg.bins[int(sec)] = {n: Hist.from_wire(h) for n, h in hists.items()}
        return agg

    # -- figures --------------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """The summary's client-side numbers (times in ms)."""
        return {
            "streams": self.streams, "outcomes": dict(self.outcomes),
            "errors": dict(sorted(self.errors.items(), key=lambda kv: -kv[1])),
            "ttft_ms": self.ttft.figures(), "gap_ms": self.gap.figures(),
            "arrival_gap_ms": self.arrival_gap.figures(),
            "stream_ms": self.duration.figures(),
            "stream_gap_p99_ms": self.stream_gap_p99.figures(),
            "tokens_per_s": self.tokens_per_s.figures(),
            "tokens_per_arrival": {**self.per_arrival.figures(2),
                                   "overall": round(self.tokens / self.text_arrivals, 2)
                                   if self.text_arrivals else None},
            "tokens": self.tokens, "text_arrivals": self.text_arrivals,
            "body_bytes": self.body_bytes, "sources": dict(self.sources),
        }
