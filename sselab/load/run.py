"""Running Locust in this process: alone, as a master, or as a worker (Locust's own runners and
master/worker protocol). Importing this imports Locust (gevent monkey-patching): only
``sselab load`` does, lazily.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.event import Event
from locust import argument_parser
from locust.env import Environment
from locust.event import Events
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import (
    CSV_STATS_INTERVAL_SEC,
    PERCENTILES_TO_REPORT,
    StatsCSVFileWriter,
    stats_history,
)

from ..errors import ConfigError
from .options import MAX_RUN_TIME, LoadOptions
from .stats import Aggregate
from .user import FLUSH, OPTIONS_KEY, REQUEST_TYPE, StreamUser, install

NAMES = ("TTFT", "stream", "gap p99", "aborted")
Progress = Callable[[float, int, Aggregate], None]


class SselabLoadUser(StreamUser):
    """The user ``sselab load`` runs (the same class name on the master and every worker)."""

    abstract = False


@dataclass
class Plan:
    options: LoadOptions
    users: int
    spawn_rate: float
    run_time: float
    stop_timeout: float = 10.0
    csv: str | None = None
    progress: Progress | None = None
    progress_every: float = 5.0


@dataclass
class Outcome:
    client: Aggregate
    started_at: float
    duration: float
    ended_at: float  # unix seconds: the run time was over (streams in flight may finish)
    cut_at: float | None = None  # unix seconds: streams still running were cut (if any)
    locust: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def quiet_locust(level: str = "WARNING") -> None:
    """Locust's own log lines at ``level`` and above only."""
    logging.getLogger("locust").setLevel(level)
    logging.getLogger().setLevel(level)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _environment(options: LoadOptions | None, stop_timeout: float = 0.0) -> Environment:
    parsed = argparse.Namespace(**argument_parser.default_args_dict())
    parsed.headless = True
    if options is not None:
        setattr(parsed, OPTIONS_KEY, options.to_dict())
    return Environment(user_classes=[SselabLoadUser], events=Events(), parsed_options=parsed,
                       stop_timeout=stop_timeout, host=options.endpoint if options else None)


def locust_figures(env: Environment) -> dict[str, dict[str, Any]]:
    """Locust's own statistics of sselab's request names."""
    out: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        e = env.stats.entries.get((name, REQUEST_TYPE))
        if e is None or not e.num_requests:
            continue
        out[name] = {"requests": e.num_requests, "failures": e.num_failures,
                     "p50_ms": e.get_response_time_percentile(0.5),
                     "p99_ms": e.get_response_time_percentile(0.99),
                     "max_ms": round(e.max_response_time or 0, 1)}
    return out


def _wait(plan: Plan, env: Environment, agg: Callable[[], Aggregate]) -> None:
    """Until the run time is over or Ctrl-C; a progress line every few seconds."""
    stop = Event()
    handler = gevent.signal_handler(signal.SIGINT, stop.set)
    t0 = time.monotonic()
    end = t0 + min(plan.run_time, MAX_RUN_TIME)
    try:
        while not stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                break
            stop.wait(min(left, plan.progress_every))
            if plan.progress is not None and time.monotonic() < end - 0.5:
                plan.progress(time.monotonic() - t0, env.runner.user_count, agg())  # type: ignore[union-attr]
    finally:
        handler.cancel()


def _csv(plan: Plan, env: Environment) -> tuple[StatsCSVFileWriter | None, list[Any]]:
    if not plan.csv:
        return None, []
    writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT, plan.csv, full_history=False)
    return writer, [gevent.spawn(stats_history, env.runner), gevent.spawn(writer.stats_writer)]


def _close_csv(writer: StatsCSVFileWriter | None, greenlets: list[Any]) -> None:
    if writer is None:
        return
    gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)  # one more pass of the writer: the final figures
    gevent.killall(greenlets, block=True, timeout=5)
    writer.close_files()


def run_local(plan: Plan) -> Outcome:
    env = _environment(plan.options, plan.stop_timeout)
    runner = env.create_local_runner()
    collector = install(env)
    writer, greenlets = _csv(plan, env)
    started, t0 = time.time(), time.monotonic()
    runner.start(plan.users, plan.spawn_rate)
    _wait(plan, env, lambda: collector.total)
    ended = time.time()
    runner.stop()  # streams in flight get stop_timeout to finish, then are cut
    runner.quit()
    _close_csv(writer, greenlets)
    return Outcome(collector.total, started, time.monotonic() - t0, ended,
                   collector.total.cut_at, locust_figures(env))


def run_master(plan: Plan, *, bind_host: str, bind_port: int, expect_workers: int,
               expect_timeout: float, on_ready: Callable[[], None] | None = None) -> Outcome:
    env = _environment(plan.options, plan.stop_timeout)
    try:
        runner = env.create_master_runner(bind_host, bind_port)
    except Exception as exc:  # zmq's error when the port is taken
        raise ConfigError(f"--master-bind-port: cannot listen on {bind_host}:{bind_port}: "
                          f"{exc}") from None
    assert isinstance(runner, MasterRunner)
    collector = install(env)
    deadline = time.monotonic() + expect_timeout
    if on_ready is not None:
        on_ready()
    while len(runner.clients.ready) < expect_workers:
        if time.monotonic() > deadline:
            got = len(runner.clients.ready)
            runner.quit()
            raise ConfigError(f"--expect-workers: {got} of {expect_workers} workers connected "
                              f"to {bind_host}:{bind_port} within {expect_timeout:g} s")
        gevent.sleep(0.2)
    writer, greenlets = _csv(plan, env)
    started, t0 = time.time(), time.monotonic()
    runner.start(plan.users, plan.spawn_rate)
    _wait(plan, env, lambda: collector.total)
    ended = time.time()
    # Not runner.stop(): a worker told to stop forgets its place for stop_timeout s. Each worker
    # stops its own users (stop_timeout for streams in flight), reports everything, then says
    # how many streams it had; then the master quits them all.
    workers = list(runner.clients.keys())
    for worker in workers:
        runner.send_message(FLUSH, None, worker)
    flush_deadline = time.monotonic() + plan.stop_timeout + 30
    while len(collector.flushed) < len(workers) and time.monotonic() < flush_deadline:
        gevent.sleep(0.1)
    notes = [] if len(collector.flushed) == len(workers) else [
        f"only {len(collector.flushed)} of {len(workers)} workers sent their final figures"]
    runner.quit()
    _close_csv(writer, greenlets)
    return Outcome(collector.total, started, time.monotonic() - t0, ended,
                   collector.total.cut_at, locust_figures(env),
                   dict(collector.flushed), notes)


def run_worker(*, master_host: str, master_port: int,
               on_connected: Callable[[str], None] | None = None,
               lifetime: float = MAX_RUN_TIME + 300) -> Outcome:
    """Until the master says quit (or ``lifetime`` s, or Ctrl-C)."""
    env = _environment(None)
    started, t0 = time.time(), time.monotonic()
    runner = env.create_worker_runner(master_host, master_port)
    assert isinstance(runner, WorkerRunner)
    collector = install(env)
    if on_connected is not None:
        on_connected(str(runner.client_id))
    handler = gevent.signal_handler(signal.SIGINT, lambda: runner.greenlet.kill(block=False))
    finished = False
    try:
        finished = bool(runner.greenlet.join(timeout=lifetime))
    finally:
        handler.cancel()
        if not finished:
            runner.quit()
    return Outcome(collector.total, started, time.monotonic() - t0, time.time())
