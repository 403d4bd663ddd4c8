"""What a check gets to work with: :class:`CheckContext`.

A check picks its upstream behaviour by adding a scenario and making it the simulator's default
(the team's app needs no change: it asks the simulator for any model and gets that scenario),
opens streams against the endpoint with sselab's client, and finds the matching upstream request
in the simulator's recorder: the client sees what the user sees, the simulator sees what the
team's server does to its provider call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..scenario.load import from_data
from ..scenario.schema import Scenario
from ..scenario.validate import Where
from ..script.build import compile_scenario
from ..script.events import TextDelta
from ..server.recorder import Recorder, RequestRecord
from .extract import Extractor
from .http_client import Stream
from .model import CheckResult, Lane, Marker, Timeline
from .target import Settings, Target

SCENARIO_PREFIX = "sselab-check-"
MAX_POINTS = 1500  # per timeline lane


class SimulatorLike(Protocol):
    """:class:`~sselab.Simulator` or :class:`~sselab.SimulatorThread`."""

    recorder: Recorder

    @property
    def base_url(self) -> str: ...

    def add_scenario(self, scenario: Scenario | str) -> Scenario: ...

    def set_default_scenario(self, name: str) -> None: ...


@dataclass(frozen=True)
class Expected:
    """What the upstream will send for a scenario: its tokens and when each is due."""

    scenario: str
    tokens: tuple[tuple[float, str], ...]  # (seconds after the request, text)

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.tokens)

    @property
    def count(self) -> int:
        return len(self.tokens)

    def tokens_in(self, chars: int) -> int:
        """How many whole tokens the first ``chars`` characters of the text hold."""
        total = n = 0
        for _, t in self.tokens:
            total += len(t)
            if total > chars:
                break
            n += 1
        return n

    def text_of(self, n: int) -> str:
        return "".join(t for _, t in self.tokens[:n])


class NoUpstream(Exception):
    """The endpoint never called the simulator: the check ends with ``result``."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class CheckContext:
    def __init__(self, sim: SimulatorLike, target: Target, settings: Settings, name: str,
                 title: str) -> None:
        self.sim, self.target, self.settings = sim, target, settings
        self.name, self.title = name, title
        self.started = time.monotonic()
        self.asked = False  # named with --only (an opt-in check then runs whatever it finds)

    # -- scenarios -----------------------------------------------------------------------------
    def scenario(self, spec: Mapping[str, Any]) -> Expected:
        """Add a scenario (a mapping as in a scenario file; ``name`` gets sselab's prefix)."""
        data = dict(spec)
        data["name"] = SCENARIO_PREFIX + str(data["name"])
        data.setdefault("description", f"sselab check {self.name}")
        scenario = from_data(data, Where(f"<sselab check {self.name}>"))
        self.sim.add_scenario(scenario)
        script = compile_scenario(scenario)
        tokens = tuple((t.at, t.event.text) for t in script.events
                       if isinstance(t.event, TextDelta))
        return Expected(scenario.name, tokens)

    def use(self, spec: Mapping[str, Any]) -> Expected:
        """Add a scenario and answer every request with it from now on."""
        expected = self.scenario(spec)
        self.sim.set_default_scenario(expected.scenario)
        return expected

    # -- the client ----------------------------------------------------------------------------
    async def open(self, *, rcvbuf: int | None = None, read_size: int = 65536,
                   read_delay: float = 0.0, headers: list[tuple[str, str]] = ()) -> Stream:
        """Start one request to the endpoint (with extra ``headers``); read it in the
        background."""
        request = self.target.request()
        request.headers = [*request.headers, *headers]
        stream = Stream(request, Extractor(self.target.extract), rcvbuf=rcvbuf,
                        read_size=read_size, read_delay=read_delay,
                        connect_timeout=self.settings.connect_timeout)
        return await stream.start()

    # -- the upstream --------------------------------------------------------------------------
    def records(self, since: float, scenario: str | None = None) -> list[RequestRecord]:
        """Upstream requests received at/after monotonic ``since`` (for ``scenario``)."""
        return [r for r in self.sim.recorder.requests if r.received >= since - 0.001
                and (scenario is None or r.scenario == scenario)]

    async def upstream(self, stream: Stream, scenario: str,
                       timeout: float = 5.0) -> RequestRecord:
        """The upstream request the endpoint made for ``stream``. When there is none within
        ``timeout`` (or the client's request already failed), the stream is dropped and the
        check ends with :meth:`no_upstream`'s verdict (raised as :class:`NoUpstream`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.records(stream.trace.started, scenario)
            if found:
                return found[0]
            if time.monotonic() > deadline or stream.trace.end in ("connect_error",):
                await stream.disconnect()
                raise NoUpstream(self.no_upstream(stream))
            await asyncio.sleep(0.005)

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def no_upstream(self, stream: Stream) -> CheckResult:
        """The result when the endpoint never called the simulator."""
        trace = stream.trace
        if trace.failure and trace.status is None:
            return self.result("error", trace.failure)
        return self.result(
            "error", f"the endpoint never called the simulator at {self.sim.base_url} "
                     f"(answered HTTP {trace.status}); is the app configured to use it as its "
                     "provider, e.g. OPENAI_BASE_URL=" + self.sim.base_url + "/v1?")

    # -- results -------------------------------------------------------------------------------
    def timeline(self, title: str, stream: Stream, records: list[RequestRecord] | None = None,
                 markers: list[tuple[float | None, str, str]] = (), *,
                 lane: str = "") -> Timeline:
        """Upstream writes vs client arrivals on one time axis (t0: the client's request)."""
        t0 = stream.trace.started
        tl = Timeline(title)
        for i, rec in enumerate(records or []):
            name = f"upstream {lane}".strip() + (f" #{i + 1}" if len(records or []) > 1 else "")
            tl.lanes.append(Lane(name, "upstream",
                                 _thin([(t - t0, n) for t, n, _, _ in rec.writes]),
                                 len(rec.writes)))
            if rec.ended is not None:
                tl.markers.append(Marker(round(rec.ended - t0, 4), upstream_end(rec.outcome),
                                         "upstream-end"))
        tl.lanes.append(Lane(f"client {lane}".strip(), "client",
                             _thin([(a.at - t0, a.nbytes) for a in stream.trace.arrivals]),
                             len(stream.trace.arrivals)))
        for at, label, kind in markers:
            if at is not None:
                tl.markers.append(Marker(round(at - t0, 4), label, kind))
        if stream.trace.closed_at is not None and stream.trace.end == "client_closed":
            tl.markers.append(Marker(round(stream.trace.closed_at - t0, 4), "client left",
                                     "disconnect"))
        return tl

    def result(self, verdict: str, message: str, measurements: Mapping[str, Any] | None = None,
               details: list[str] | None = None,
               timelines: list[Timeline] | None = None) -> CheckResult:
        return CheckResult(self.name, self.title, verdict, message, dict(measurements or {}),
                           list(details or []), list(timelines or []),
                           round(time.monotonic() - self.started, 3))


def _thin(points: list[tuple[float, int]], limit: int = MAX_POINTS) -> list[tuple[float, int]]:
    """At most ``limit`` points: beyond that, bytes are summed into equal time bins."""
    if len(points) <= limit:
        return [(round(t, 4), n) for t, n in points]
    start, end = points[0][0], points[-1][0]
    width = (end - start) / limit or 1e-9
    bins: dict[int, list[float]] = {}
    for t, n in points:
        k = min(limit - 1, int((t - start) / width))
        b = bins.setdefault(k, [t, 0])
        b[1] += n
    return [(round(t, 4), int(n)) for t, n in bins.values()]


def upstream_end(outcome: str) -> str:
    """A simulator outcome in the words of a timeline marker."""
    return {"client_disconnected": "upstream closed by the endpoint",
            "completed": "upstream completed", "error_event": "upstream error sent",
            "http_error": "upstream HTTP error sent", "fault_closed": "upstream closed (fault)",
            "fault_reset": "upstream reset (fault)"}.get(outcome, f"upstream {outcome}")


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def describe_end(stream: Stream) -> str:
    """How the client saw the response end, in words."""
    t = stream.trace
    if t.errors:
        return f"an error event ({t.errors[-1][:80]!r})"
    return {
        "complete": "a normal end" + (" (done)" if t.done else ""),
        "truncated": "the connection closing mid-body",
        "client_closed": "the client disconnecting",
        "timeout": "nothing (still open)",
        "connect_error": "a connection failure",
    }.get(t.end or "", t.end or "nothing yet")


def error_indicated(stream: Stream) -> bool:
    """The user would be told something went wrong: an error event, an error status, or a body
    cut short (which a browser's fetch reader reports as a network error)."""
    t = stream.trace
    return bool(t.errors) or (t.status is not None and t.status >= 400) or t.end == "truncated"
