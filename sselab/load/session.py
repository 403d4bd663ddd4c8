"""One ``sselab load`` run from start to summary: the simulator, a preflight stream, Locust
(alone or as master), the upstream's view, and the :class:`~sselab.load.report.LoadReport`.

Importing this imports Locust (see :mod:`sselab.load.run`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from . import run as locust_run  # first: Locust patches the process before sockets exist
from .options import LoadOptions, PreflightFailed
from .reader import BlockingStream
from .report import LoadReport, progress_line
from .stats import Aggregate, StreamResult
from .upstream import UpstreamProcess, upstream_view


@dataclass
class Session:
    options: LoadOptions
    users: int
    spawn_rate: float
    run_time: float
    stop_timeout: float = 10.0
    scenario: str = "long-answer"
    scenario_dirs: Sequence[Path] = ()
    upstream: tuple[str, int] | None = ("127.0.0.1", 8787)
    csv: str | None = None
    quiet: bool = False
    loglevel: str = "WARNING"
    master: tuple[str, int, int, float] | None = None  # bind host, port, workers, timeout
    notes: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        if not self.quiet:
            click.echo(line)

    def run(self) -> LoadReport:
        locust_run.quiet_locust(self.loglevel)
        sim = None
        if self.upstream is not None:
            sim = UpstreamProcess(*self.upstream, self.scenario, self.scenario_dirs).start()
        try:
            self.say(f"sselab load {self.options.endpoint}: {self.users} users, spawn "
                     f"{self.spawn_rate:g}/s, {self.run_time:g} s")
            if sim is not None:
                self.say(f"  upstream simulator on {sim.base_url} answering with scenario "
                         f"{self.scenario} (your app: OPENAI_BASE_URL={sim.base_url}/v1)")
            self.preflight(sim)
            if sim is not None:
                sim.reset()
            outcome = self._locust()
            view = None
            if sim is not None:
                view = upstream_view(sim.records(), outcome.cut_at, sim.base_url)
        finally:
            if sim is not None:
                sim.stop()
        return LoadReport(self.options.endpoint, outcome.client, users=self.users,
                          spawn_rate=self.spawn_rate, run_time=self.run_time,
                          duration=outcome.duration, started_at=outcome.started_at,
                          load_time=outcome.ended_at - outcome.started_at,
                          mode="master" if self.master else "local",
                          scenario=self.scenario if sim is not None else None, upstream=view,
                          locust=outcome.locust, workers=outcome.workers,
                          notes=outcome.notes + self.notes)

    def preflight(self, sim: UpstreamProcess | None) -> None:
        """One stream before the load: every way it cannot work, as one sentence."""
        reader = BlockingStream(self.options.target().request(), self.options.extract,
                                timeout=min(self.options.stream_timeout, 30.0),
                                connect_timeout=self.options.connect_timeout)
        trace = reader.run()
        result = StreamResult.from_trace(trace, reader.per_arrival)
        why = None
        if trace.status is None:
            why = f"{trace.failure or 'no response'} — is the app running at " \
                  f"{self.options.endpoint}?"
        elif trace.status >= 400:
            why = f"the endpoint answered HTTP {trace.status} {trace.reason}; check " \
                  "--endpoint, --method, --body and --header"
        elif sim is not None and not sim.records():
            why = (f"the endpoint answered HTTP {trace.status} but never called the simulator "
                   f"at {sim.base_url}; configure the app to use it as its provider, e.g. "
                   f"OPENAI_BASE_URL={sim.base_url}/v1 (or pass --no-upstream)")
        elif result.outcome != "complete":
            why = f"the first stream ended with {result.outcome}: {result.error}"
        if why:
            raise PreflightFailed(f"preflight: {why}")
        self.say(f"  preflight: one stream complete, TTFT {result.ttft * 1000:.0f} ms, "  # type: ignore[operator]
                 f"{result.tokens} tokens in {len(result.arrivals)} arrivals")

    def _locust(self) -> locust_run.Outcome:
        last = [0.0]

        def progress(elapsed: float, users: int, agg: Aggregate) -> None:
            if elapsed - last[0] >= 4.5:
                last[0] = elapsed
                self.say(progress_line(elapsed, users, agg))

        plan = locust_run.Plan(self.options, self.users, self.spawn_rate, self.run_time,
                               self.stop_timeout, self.csv,
                               None if self.quiet else progress)
        if self.master is None:
            return locust_run.run_local(plan)
        host, port, workers, timeout = self.master

        def ready() -> None:
            self.say(f"  master on {host}:{port}: waiting for {workers} worker"
                     f"{'s' * (workers != 1)} (sselab load --worker --master-host HOST "
                     f"--master-port {port})")

        return locust_run.run_master(plan, bind_host=host, bind_port=port,
                                     expect_workers=workers, expect_timeout=timeout,
                                     on_ready=ready)
