"""The Locust side: :class:`StreamUser` and :func:`install` (importing this imports Locust,
which monkey-patches the process for gevent; ``import sselab`` never imports it).

Each stream is reported twice:

- as Locust request statistics, request type ``SSE``, so Locust's web UI, CSV files and
  distributed mode work unchanged:

  ``TTFT``     response time = time to the first answer text; one per stream that got text
  ``stream``   response time = the whole stream (request to end); a failure (error or
               timeout) carries the reason
  ``gap p99``  response time = that stream's p99 inter-token gap (Locust's percentiles of it
               are then over streams); one per stream with two or more text arrivals
  ``aborted``  response time = until the client dropped the stream on purpose

  Streams still running when the run ends (``cut``) are not reported to Locust;

- into an sselab :class:`~sselab.load.stats.Aggregate` (percentiles of every gap, tokens per
  arrival, over time), which workers send to their master in Locust's own stats reports.
"""

from __future__ import annotations

import random
from typing import Any

import gevent
from gevent import GreenletExit
from locust import User, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING

from .options import FAILURE_PAUSE, LoadOptions
from .reader import BlockingStream
from .stats import Aggregate, StreamResult

REQUEST_TYPE = "SSE"
ENDING = (STATE_STOPPING, STATE_CLEANUP, STATE_STOPPED)
OPTIONS_KEY = "sselab_load"  # the attribute of Locust's parsed options the master ships
# master → workers: stop your users, send everything, then say how many streams you had
FLUSH, FLUSHED, UNSENT = "sselab_flush", "sselab_flushed", "sselab_unsent"


class StreamFailure(Exception):
    """A stream that failed, as Locust records it (the message is the reason)."""


class Collector:
    """This process's streams: the running total and what is not yet sent to the master."""

    def __init__(self, source: str = "local") -> None:
        self.source = source
        self.total = Aggregate()
        self.unsent = Aggregate()
        self.flushed: dict[str, int] = {}  # master: worker id → its own total, on flush

    def add(self, result: StreamResult) -> None:
        self.total.add(result, self.source)
        self.unsent.add(result, self.source)

    def take_unsent(self) -> dict[str, Any]:
        wire, self.unsent = self.unsent.to_wire(), Aggregate()
        return wire


def collector(environment: Environment) -> Collector:
    found = getattr(environment, "sselab_collector", None)
    if found is None:
        found = install(environment)
    return found


def install(environment: Environment, summary_at_quit: bool = False) -> Collector:
    """Attach a :class:`Collector` to ``environment`` and wire it into Locust's master/worker
    reports (idempotent). A locustfile's users call it themselves; ``sselab load`` calls it
    once its runner exists."""
    found: Collector | None = getattr(environment, "sselab_collector", None)
    runner = environment.runner
    kind = type(runner).__name__ if runner is not None else ""
    if found is not None and getattr(found, "_wired", "") == kind:
        return found
    if found is None:
        found = Collector()
        environment.sselab_collector = found  # type: ignore[attr-defined]
    found._wired = kind  # type: ignore[attr-defined]
    if kind == "WorkerRunner":
        found.source = str(runner.client_id)  # type: ignore[union-attr]

        def report(client_id: str, data: dict[str, Any]) -> None:
            data["sselab"] = found.take_unsent()

        def finish() -> None:
            runner.stop()  # type: ignore[union-attr]  # streams in flight get stop_timeout
            send = getattr(runner, "_send_stats", None)  # Locust's stats (and ours) first
            if send is not None:
                send()
            else:  # pragma: no cover - a Locust without it
                runner.send_message(UNSENT, found.take_unsent())  # type: ignore[union-attr]
            runner.send_message(FLUSHED, {"streams": found.total.streams,  # type: ignore[union-attr]
                                          "source": found.source})

        def flush(environment: Environment, msg: Any, **kw: Any) -> None:
            gevent.spawn(finish)  # not in the message loop: it must go on receiving

        environment.events.report_to_master.add_listener(report)
        runner.register_message(FLUSH, flush)  # type: ignore[union-attr]
    elif kind == "MasterRunner":
        found.source = "master"

        def received(client_id: str, data: dict[str, Any]) -> None:
            if data.get("sselab"):
                found.total.merge(Aggregate.from_wire(data["sselab"]))

        def flushed(environment: Environment, msg: Any, **kw: Any) -> None:
            found.flushed[str(msg.data.get("source"))] = int(msg.data.get("streams", 0))

        def stats(environment: Environment, msg: Any, **kw: Any) -> None:  # pragma: no cover
            found.total.merge(Aggregate.from_wire(msg.data))

        environment.events.worker_report.add_listener(received)
        runner.register_message(FLUSHED, flushed)  # type: ignore[union-attr]
        runner.register_message(UNSENT, stats)  # type: ignore[union-attr]
    if summary_at_quit and kind != "WorkerRunner":
        def at_quit(environment: Environment, **kw: Any) -> None:
            from .report import plain_summary

            print(plain_summary(found.total), flush=True)

        environment.events.quitting.add_listener(at_quit)
    return found


class StreamUser(User):
    """A Locust user that streams answers from a streaming endpoint, one after another.

    Subclass it in a locustfile and set what differs (``sselab load`` sets everything from its
    options instead)::

        from sselab.load import StreamUser

        class Chat(StreamUser):
            host = "http://127.0.0.1:8000"
            path = "/api/chat"
            body = {"messages": [{"role": "user", "content": "hi"}]}

    ``host`` + ``path`` is the endpoint; ``method``, ``body``, ``headers`` and ``extract``
    are ``sselab check``'s ``--method``, ``--body``, ``--header`` and ``--extract``.
    """

    abstract = True
    host = "http://127.0.0.1:8000"
    path = "/api/chat"
    method = "POST"
    body: Any = None
    headers: list[tuple[str, str]] = []
    extract = "auto"
    stream_timeout = LoadOptions.stream_timeout
    wait = LoadOptions.wait
    abort_share = LoadOptions.abort_share
    abort_after = LoadOptions.abort_after

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.options = self._options()
        self.collector = collector(environment)
        self._rng = random.Random()
        self._pause = 0.0

    def _options(self) -> LoadOptions:
        shipped = getattr(self.environment.parsed_options, OPTIONS_KEY, None)
        if shipped:  # sselab load (and its workers, via Locust's spawn message)
            return LoadOptions.from_dict(shipped)
        return LoadOptions(endpoint=(self.host or "").rstrip("/") + self.path,
                           method=self.method, body=self.body, headers=list(self.headers),
                           extract=self.extract, stream_timeout=self.stream_timeout,
                           wait=self.wait, abort_share=self.abort_share,
                           abort_after=self.abort_after)

    def wait_time(self) -> float:
        pause, self._pause = self._pause, 0.0
        return max(self.options.wait, pause)

    @task
    def stream(self) -> None:
        runner = self.environment.runner
        if runner is not None and runner.state in ENDING:
            # Locust stops waiting users by killing them, and the kill can land after the wait
            # ended: no new stream once the run is ending, or it would be cut at once
            raise StopUser()
        opts = self.options
        abort = opts.abort_after if opts.abort_share and \
            self._rng.random() < opts.abort_share else None
        reader = BlockingStream(opts.target().request(), opts.extract,
                                timeout=opts.stream_timeout, abort_after=abort,
                                connect_timeout=opts.connect_timeout)
        try:
            trace = reader.run()
        except GreenletExit:  # the run ended (or this user was stopped) mid-stream
            self.collector.add(StreamResult.from_trace(reader.trace, reader.per_arrival,
                                                       cut=True))
            raise
        result = StreamResult.from_trace(trace, reader.per_arrival, aborted=reader.aborted)
        self.collector.add(result)
        self._report(result)
        if result.failed:
            self._pause = FAILURE_PAUSE

    def _report(self, r: StreamResult) -> None:
        fire = self.environment.events.request.fire
        start = r.started
        size = r.body_bytes
        if r.ttft is not None:
            fire(request_type=REQUEST_TYPE, name="TTFT", response_time=r.ttft * 1000,
                 response_length=0, response=None, context={}, exception=None,
                 start_time=start)
        if r.gap_p99 is not None:
            fire(request_type=REQUEST_TYPE, name="gap p99", response_time=r.gap_p99 * 1000,
                 response_length=0, response=None, context={}, exception=None,
                 start_time=start)
        if r.outcome == "aborted":
            fire(request_type=REQUEST_TYPE, name="aborted", response_time=r.duration * 1000,
                 response_length=size, response=None, context={}, exception=None,
                 start_time=start)
            return
        failure = StreamFailure(f"{r.outcome}: {r.error}") if r.failed else None
        fire(request_type=REQUEST_TYPE, name="stream", response_time=r.duration * 1000,
             response_length=size, response=None, context={}, exception=failure,
             start_time=start)


@events.init.add_listener
def _on_locust_init(environment: Environment, **kw: Any) -> None:
    """``locust -f locustfile.py`` (with a StreamUser): collect, and print sselab's summary at
    the end on the master (or the only process)."""
    install(environment, summary_at_quit=True)
