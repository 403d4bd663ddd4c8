"""sselab load's blocking reader (what each Locust user runs; here unpatched, in this
process) against the reference app and the simulator: a whole stream, a stream dropped on
purpose, a timeout, an unreachable endpoint, an HTTP error, and tokens counted per read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from load_helpers import SHORT, free_port

from sselab import SimulatorThread
from sselab.check.http_client import Request
from sselab.load import LoadOptions, StreamResult
from sselab.load.reader import BlockingStream
from sselab_reference_app import AppThread


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[str, SimulatorThread]]:
    with SimulatorThread() as sim:
        sim.add_scenario(SHORT)
        sim.add_scenario("name: stall\nresponse: {text: 'a b c'}\ntokenize: words\n"
                         "faults: [{type: stall, at_token: 1, forever: true}]\n")
        # resume_grace=0: a client that drops is gone, the provider call closes at once
        with AppThread(upstream_base_url=sim.base_url + "/v1", idle_timeout=30.0,
                       resume_grace=0.0) as a:
            yield a.url + "/api/chat", sim


def _run(endpoint: str, model: str = "load-short", **kw: object) -> tuple[BlockingStream,
                                                                           StreamResult]:
    opts = LoadOptions(endpoint=endpoint, body={"model": model, "messages": [
        {"role": "user", "content": "hi"}]})
    reader = BlockingStream(opts.target().request(), **kw)  # type: ignore[arg-type]
    trace = reader.run()
    return reader, StreamResult.from_trace(trace, reader.per_arrival, aborted=reader.aborted)


def test_a_whole_stream(app: tuple[str, SimulatorThread]) -> None:
    endpoint, sim = app
    reader, r = _run(endpoint)
    assert r.outcome == "complete", r.error
    assert r.tokens == 30 and len(r.arrivals) == len(r.per_arrival) > 5
    assert 0.08 < r.ttft < 1.0  # the scenario's 100 ms, plus the relay
    assert r.gap_p50 is not None and r.gap_p50 < 0.2
    assert reader.trace.framing == "chunked" and reader.trace.shape.startswith("sse")
    assert sim.recorder.last.outcome == "completed"


def test_dropped_on_purpose_closes_the_upstream(app: tuple[str, SimulatorThread]) -> None:
    endpoint, sim = app
    _, r = _run(endpoint, abort_after=0.2)
    assert r.outcome == "aborted"
    assert 0.2 <= r.duration - r.ttft < 0.6 and 0 < r.tokens < 30

    def closed() -> bool:
        rec = sim.recorder.last
        return rec is not None and rec.outcome == "client_disconnected"

    import time

    deadline = time.monotonic() + 3
    while not closed() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert closed()


def test_a_stall_is_a_timeout(app: tuple[str, SimulatorThread]) -> None:
    endpoint, _ = app
    _, r = _run(endpoint, model="stall", timeout=1.0)
    assert r.outcome == "timeout" and r.tokens == 1
    assert 0.9 < r.duration < 2.0


def test_nothing_listening() -> None:
    port = free_port()
    reader = BlockingStream(Request(f"http://127.0.0.1:{port}/x", "GET"), timeout=2)
    r = StreamResult.from_trace(reader.run(), reader.per_arrival)
    assert r.outcome == "error" and f"cannot connect to 127.0.0.1:{port}" in r.error


def test_an_http_error(app: tuple[str, SimulatorThread]) -> None:
    endpoint, _ = app
    reader = BlockingStream(Request(endpoint, "POST", b"{not json"), timeout=5)
    r = StreamResult.from_trace(reader.run(), reader.per_arrival)
    assert r.outcome == "error" and r.error.startswith("HTTP 4")


def test_tokens_are_counted_per_read(app: tuple[str, SimulatorThread]) -> None:
    """Every token is counted once, in the read that carried it."""
    endpoint, _ = app
    reader, r = _run(endpoint)
    assert sum(reader.per_arrival) == 30
    assert max(reader.per_arrival) <= 3  # paced 30 ms apart: about one token a read
