"""The request timeline: one :class:`RequestRecord` per request, kept by a :class:`Recorder`.

Times are unix seconds (``time.time()`` scale) so that a test can compare them with its own
clock; they are taken from the monotonic clock and converted with one offset fixed at start-up.
The recorder reads like ``unittest.mock``: ``called``, ``call_count``, ``last``.

Memory is bounded by a budget in bytes (``Recorder(budget=)``, 256 MiB by default). Writes are
kept in compact columns (32 bytes a write). Over budget, the requests that finished longest ago
are forgotten first; requests still in flight are never forgotten: when only they remain, the
oldest lose their per-write detail (their totals stay right). What is dropped is counted.
"""

from __future__ import annotations

import itertools
import threading
import time
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .sizes import format_size
from .writes_view import Writes

OUTCOMES = ("in_progress", "completed", "client_disconnected", "fault_closed", "fault_reset",
            "error_event", "http_error", "server_shutdown", "rejected", "cancelled")
_KNOWN = frozenset(OUTCOMES)

DEFAULT_BUDGET = 256 * 2**20
RECORD_BYTES = 1_200  # what a record with no writes costs (object, attributes, columns): ~1.1 kB
WRITE_BYTES = 34  # four 8-byte columns, plus the arrays' over-allocation
CHECK_EVERY = 4_096  # writes between two budget checks of a growing record
DROP_LOG_EVERY = 10.0  # seconds between two "timeline over budget" log lines

_OFFSET = time.time() - time.monotonic()


def wall(mono: float | None) -> float | None:
    """A monotonic reading as unix seconds."""
    return None if mono is None else mono + _OFFSET


@dataclass
class RequestRecord:
    """One request: what came in, what was written when, how it ended (``outcome``, one of
    ``OUTCOMES``). ``writes`` reads as a sequence of ``(monotonic time, bytes, seconds draining,
    seconds late)`` tuples; ``write_count`` counts those whose detail was not kept too."""

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
    drain_wait: float = 0.0
    bytes_written: int = 0
    max_writes: int = 100_000
    writes_dropped: int = 0  # writes counted in the totals whose detail was not kept
    detail: bool = True  # False once the budget took this record's per-write detail
    on_finish: Callable[[RequestRecord], None] | None = field(default=None, repr=False)
    resumes: str | None = None  # the request whose stream this one resumes, retrieves or cancels
    replayed_events: int = 0  # events this request sent again from the stored stream
    # the writes, one column each: monotonic time, bytes, seconds draining, seconds late
    _at: array = field(default_factory=lambda: array("d"), repr=False, compare=False)
    _nbytes: array = field(default_factory=lambda: array("q"), repr=False, compare=False)
    _drain: array = field(default_factory=lambda: array("d"), repr=False, compare=False)
    _late: array = field(default_factory=lambda: array("d"), repr=False, compare=False)
    _seq: int = field(default=0, repr=False, compare=False)
    _owner: Recorder | None = field(default=None, repr=False, compare=False)
    _acct: int = field(default=0, repr=False, compare=False)  # bytes the owner counts for it
    _acct_dropped: int = field(default=0, repr=False, compare=False)

    # -- recording (called by the writer only) --
    def wrote(self, at: float, nbytes: int, drain: float, late: float = 0.0) -> None:
        if self.first_byte is None:
            self.first_byte = at
        self.bytes_written += nbytes
        self.drain_wait += drain
        n = len(self._at)
        if self.detail and n < self.max_writes:
            self._at.append(at)
            self._nbytes.append(nbytes)
            self._drain.append(drain)
            self._late.append(late)
            if n % CHECK_EVERY == CHECK_EVERY - 1 and self._owner is not None:
                self._owner._grew(self)  # noqa: SLF001
        else:
            self.writes_dropped += 1

    def finish(self, outcome: str, at: float | None = None) -> None:
        if outcome not in _KNOWN:
            raise ValueError(f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        if self.ended is None:
            if outcome == "client_disconnected" and self._owner is not None \
                    and self._owner.stopping:
                outcome = "server_shutdown"
            self.outcome = outcome
            self.ended = time.monotonic() if at is None else at
            if outcome == "client_disconnected":
                self.client_disconnected = self.ended
            if self._owner is not None:
                self._owner._settled(self)  # noqa: SLF001
            if self.on_finish is not None:
                self.on_finish(self)

    def drop_detail(self) -> int:
        """Forget the per-write detail (the totals stay); record no more of it. How many."""
        n = len(self._at)
        self._at, self._nbytes, self._drain, self._late = (
            array("d"), array("q"), array("d"), array("d"))
        self.writes_dropped += n
        self.detail = False
        return n

    # -- reading --
    @property
    def writes(self) -> Writes:
        """Every kept write as ``(monotonic time, bytes, drain seconds, late seconds)``."""
        return Writes(self)

    @property
    def write_count(self) -> int:
        """Every write, kept or not."""
        return len(self._at) + self.writes_dropped

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

    def summary_json(self) -> dict[str, Any]:
        """Everything but the writes."""
        return {
            "id": self.id, "method": self.method, "path": self.path, "format": self.format,
            "scenario": self.scenario, "model": self.model, "stream": self.stream,
            "status": self.status, "outcome": self.outcome, "error": self.error,
            "received_at": self.received_at, "first_byte_at": self.first_byte_at,
            "ended_at": self.ended_at, "client_disconnected_at": self.client_disconnected_at,
            "bytes_written": self.bytes_written, "write_count": self.write_count,
            "drain_wait_ms": round(self.drain_wait * 1000, 3),
            "blocked_since": wall(self.blocked_since), "writes_dropped": self.writes_dropped,
            "resumes": self.resumes, "replayed_events": self.replayed_events,
        }

    def writes_json(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        t0 = self.received
        return [
            {"at": wall(t), "offset_ms": round((t - t0) * 1000, 3), "bytes": n,
             "drain_wait_ms": round(d * 1000, 3), "late_ms": round(late * 1000, 3)}
            for t, n, d, late in zip(self._at[start:stop], self._nbytes[start:stop],
                                     self._drain[start:stop], self._late[start:stop])
        ]

    def writes_text(self, start: int = 0, stop: int | None = None) -> str:
        """:meth:`writes_json` as the JSON text of the list's items (comma-separated): the same
        text ``json.dumps`` makes, made faster, for the HTTP API."""
        t0, off = self.received, _OFFSET
        return ", ".join([
            f'{{"at": {t + off!r}, "offset_ms": {round((t - t0) * 1000, 3)!r}, "bytes": {n}, '
            f'"drain_wait_ms": {round(d * 1000, 3)!r}, "late_ms": {round(late * 1000, 3)!r}}}'
            for t, n, d, late in zip(self._at[start:stop], self._nbytes[start:stop],
                                     self._drain[start:stop], self._late[start:stop])])

    def to_json(self, writes: bool = True) -> dict[str, Any]:
        out = self.summary_json()
        if writes:
            out["writes"] = self.writes_json()
        return out


class Recorder:
    """Keeps requests in arrival order within ``budget`` bytes (and ``limit`` requests, if
    given): finished requests are forgotten oldest-finished first, in-flight ones never."""

    def __init__(self, limit: int | None = None,
                 on_finish: Callable[[RequestRecord], None] | None = None, *,
                 budget: int = DEFAULT_BUDGET,
                 on_drop: Callable[[str], None] | None = None) -> None:
        if budget <= 0:
            raise ValueError(f"the timeline budget must be positive, not {budget}")
        if limit is not None and limit < 1:
            raise ValueError(f"the timeline limit must be at least 1, not {limit}")
        self.limit, self.budget = limit, budget
        self.on_finish, self.on_drop = on_finish, on_drop
        self.stopping = False  # the server is shutting down: streams it cuts say so
        self._ids = itertools.count(1)
        self._order: list[RequestRecord] = []  # arrival order; may hold forgotten ones
        self._by_id: dict[str, RequestRecord] = {}
        self._live: dict[str, RequestRecord] = {}  # in flight, arrival order
        self._finished: OrderedDict[str, RequestRecord] = OrderedDict()  # finish order
        self._used = 0
        self._dead = self._dead_bytes = 0  # forgotten records the order still holds
        self._dropped_records = self._dropped_writes = 0
        self._logged_at: float | None = None
        # the loop thread records while another thread (SimulatorThread's caller) may reset
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[str, RequestRecord | None], None]] = []

    def subscribe(self, callback: Callable[[str, RequestRecord | None], None]
                  ) -> Callable[[], None]:
        """Call ``callback(event, record)`` on ``"new"`` and ``"finish"`` (and
        ``callback("reset", None)``), synchronously on the loop thread: keep it quick. Returns
        the function that unsubscribes it."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, event: str, rec: RequestRecord | None) -> None:
        for callback in tuple(self._subscribers):
            callback(event, rec)

    # -- recording --
    def new(self, method: str, path: str) -> RequestRecord:
        seq = next(self._ids)
        rec = RequestRecord(f"req_{seq:06d}", method, path, time.monotonic(),
                            on_finish=self.on_finish, _seq=seq, _owner=self)
        with self._lock:
            self._order.append(rec)
            self._by_id[rec.id] = rec
            self._live[rec.id] = rec
            self._account(rec)
            self._enforce()
        self._notify("new", rec)
        return rec

    def reset(self) -> None:
        """Forget every finished request. Requests still in flight stay (they finish later)."""
        with self._lock:
            live = list(self._live.values())
            self._order = live
            self._by_id = {r.id: r for r in live}
            self._finished = OrderedDict()
            self._used = sum(r._acct for r in live)  # noqa: SLF001
            self._dead = self._dead_bytes = 0
            self._dropped_records = self._dropped_writes = 0
            for r in live:
                r._acct_dropped = r.writes_dropped  # noqa: SLF001
        self._notify("reset", None)

    def _account(self, rec: RequestRecord) -> None:
        size = RECORD_BYTES + WRITE_BYTES * len(rec._at)  # noqa: SLF001
        self._used += size - rec._acct  # noqa: SLF001
        rec._acct = size  # noqa: SLF001
        self._dropped_writes += rec.writes_dropped - rec._acct_dropped  # noqa: SLF001
        rec._acct_dropped = rec.writes_dropped  # noqa: SLF001

    def _grew(self, rec: RequestRecord) -> None:
        with self._lock:
            if self._by_id.get(rec.id) is rec:
                self._account(rec)
                self._enforce()

    def _settled(self, rec: RequestRecord) -> None:
        with self._lock:
            if self._live.pop(rec.id, None) is None:
                return  # finished twice, or not this recorder's
            self._finished[rec.id] = rec
            self._account(rec)
            self._enforce()
        self._notify("finish", rec)

    def _over(self) -> bool:
        return self._used > self.budget or (
            self.limit is not None and len(self._by_id) > self.limit)

    def _enforce(self) -> None:
        if not self._over():
            return
        dropped = (self._dropped_records, self._dropped_writes)
        while self._over() and len(self._finished) > 1:  # the newest finished one stays
            _, old = self._finished.popitem(last=False)
            self._forget(old)
        if self._used > self.budget:  # only in-flight requests (and the newest finished) left
            rest = sorted([*self._live.values(), *self._finished.values()],
                          key=lambda r: r._seq)  # noqa: SLF001
            for rec in rest:
                if self._used <= self.budget:
                    break
                if rec.detail:
                    rec.drop_detail()
                    self._account(rec)
        if (self._dropped_records, self._dropped_writes) != dropped:
            self._log_drop()

    def _forget(self, rec: RequestRecord) -> None:
        del self._by_id[rec.id]
        self._used -= rec._acct  # noqa: SLF001
        self._dropped_records += 1
        # still in the arrival order (a list: taken out in bulk), so still in memory: compact
        # before the forgotten ones add up to an eighth of the budget (or outnumber the kept)
        self._dead += 1
        self._dead_bytes += rec._acct  # noqa: SLF001
        if self._dead_bytes > self.budget // 8 or self._dead > len(self._by_id) + 64:
            self._order = [r for r in self._order if self._by_id.get(r.id) is r]
            self._dead = self._dead_bytes = 0

    def _log_drop(self) -> None:
        now = time.monotonic()
        if self.on_drop is None or (self._logged_at is not None
                                    and now - self._logged_at < DROP_LOG_EVERY):
            return
        self._logged_at = now
        d = self.dropped
        self.on_drop(f"sselab: the timeline is over its {format_size(self.budget)} budget: "
                     f"{d['records']} finished requests forgotten (oldest first) and "
                     f"{d['writes']} writes' detail dropped so far")

    # -- reading --
    @property
    def dropped(self) -> dict[str, int]:
        """What the budget (or limit) dropped since start or the last reset: whole finished
        requests, and per-write detail of requests still listed (their totals stay right)."""
        live = list(self._live.values())
        lag = sum(r.writes_dropped - r._acct_dropped for r in live)  # noqa: SLF001
        return {"records": self._dropped_records, "writes": self._dropped_writes + lag}

    @property
    def used(self) -> int:
        """The estimated bytes the kept records take."""
        return self._used

    @property
    def in_flight(self) -> int:
        return len(self._live)

    def get(self, request_id: str) -> RequestRecord | None:
        return self._by_id.get(request_id)

    def page(self, since: int = 0, limit: int = 100,
             max_writes: int | None = None) -> tuple[list[RequestRecord], str | None]:
        """Up to ``limit`` records that arrived after request number ``since`` (and, with
        ``max_writes``, no more once the page holds that many writes), and the cursor of the
        next page (None: this is the last)."""
        order = self._order
        i = bisect_right(order, since, key=lambda r: r._seq)  # noqa: SLF001
        out: list[RequestRecord] = []
        writes = 0
        while i < len(order) and len(out) < limit:
            rec = order[i]
            i += 1
            if self._by_id.get(rec.id) is rec:
                out.append(rec)
                writes += len(rec._at)  # noqa: SLF001
                if max_writes is not None and writes >= max_writes:
                    break
        more = any(self._by_id.get(r.id) is r for r in itertools.islice(order, i, None))
        return out, (out[-1].id if out and more else None)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.requests)

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def requests(self) -> list[RequestRecord]:
        return [r for r in self._order if self._by_id.get(r.id) is r]

    @property
    def called(self) -> bool:
        return bool(self._by_id)

    @property
    def call_count(self) -> int:
        return len(self._by_id)

    @property
    def last(self) -> RequestRecord | None:
        for rec in reversed(self._order):
            if self._by_id.get(rec.id) is rec:
                return rec
        return None

    def find(self, predicate: Callable[[RequestRecord], bool]) -> RequestRecord | None:
        """The newest kept record matching ``predicate``."""
        by_id = self._by_id
        return next((r for r in reversed(self._order) if by_id.get(r.id) is r and predicate(r)),
                    None)


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
            f"{rec.write_count} writes {took:.0f}ms{extra}")
