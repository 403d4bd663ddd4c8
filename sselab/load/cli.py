"""``sselab load``: load-test a team's own streaming endpoint on Locust, in one command.

Exit status: 0 when the run finished and no stream failed, 1 when a stream failed (error or
timeout) or the preflight did, 2 for bad options (one line, no traceback).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from ..check.target import parse_body, parse_header
from ..errors import ConfigError, SselabError
from .options import (
    DEFAULT_RUN_TIME,
    DEFAULT_STREAM_TIMEOUT,
    DEFAULT_USERS,
    MAX_RUN_TIME,
    MAX_STOP_TIMEOUT,
    MAX_WORKERS,
    LoadOptions,
    PreflightFailed,
    check_users,
    parse_duration,
)

HELP = f"""Load-test your own streaming endpoint: many users streaming at once, on Locust.

sselab starts its simulator (a fake LLM provider, answering with --scenario) on
--upstream-port, checks one stream, then runs Locust headless: --users users
(at most 1000 per process; default {DEFAULT_USERS}), each streaming answers from --endpoint
one after another, for --run-time (default {DEFAULT_RUN_TIME:g} s, at most
{MAX_RUN_TIME:g} s). Your app must already be running with the simulator as its provider:

\b
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 OPENAI_API_KEY=x  your-app &
  sselab load --endpoint http://127.0.0.1:8000/api/chat --users 100 --run-time 20s

It prints TTFT, inter-token gaps, tokens/s, tokens per arrival and outcomes as users saw
them, and what the simulator saw: streams the endpoint opened, closed early, read late.
Several machines: one `sselab load --master --expect-workers N ...`, and on each load
machine `sselab load --worker --master-host HOST`.
"""


PATCHED = "SSELAB_LOAD_PATCHED"
BOOT = ("from gevent import monkey; monkey.patch_all()\n"
        "import sys\n"
        "from sselab.load.cli import load_command\n"
        "load_command.main(args=sys.argv[1:], prog_name='sselab load')\n")


def _patch_first() -> None:
    """Locust (gevent) must monkey-patch the process before ssl and sockets are in use, and the
    ``sselab`` CLI has imported them already (aiohttp, for the other commands). Run as
    ``sselab load ...``, the command therefore replaces this process (exec, same process id)
    with one that patches first and runs the same command line. Called any other way (from
    Python), Locust patches late; this process makes only plain-HTTP requests, so gevent's
    warning about ssl is silenced."""
    if os.environ.get(PATCHED) == "1":
        return
    argv = sys.argv[1:]
    if argv[:1] == ["load"] and hasattr(os, "execv"):
        os.environ[PATCHED] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-c", BOOT, *argv[1:]])
    warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl")


def _fail(message: str) -> None:
    click.echo(f"sselab load: {message}", err=True)
    sys.exit(2)


def _duration(option: str, value: str, cap: float) -> float:
    seconds = parse_duration(value, option)
    if seconds > cap:
        raise ConfigError(f"{option}: at most {cap:g} s, got {value!r}")
    return seconds


@click.command("load", help=HELP)
@click.option("--endpoint", metavar="URL", help="The streaming endpoint, e.g. "
              "http://127.0.0.1:8000/api/chat (http only).")
@click.option("--method", default="POST", show_default=True, help="HTTP method.")
@click.option("--body", metavar="JSON|@FILE", help="Request body (JSON text, or @file). "
              "Default: sselab check's chat body.")
@click.option("--header", "headers", multiple=True, metavar="'K: V'",
              help="Extra request header (repeatable).")
@click.option("--extract", default="auto", show_default=True, metavar="MODE",
              help="How to find the answer text (as sselab check): auto, text, sse-data, "
                   "sse-json:PATH, openai, vercel.")
@click.option("-u", "--users", default=DEFAULT_USERS, show_default=True, type=int,
              help="Concurrent users (at most 1000 per load-generating process).")
@click.option("-r", "--spawn-rate", default=10.0, show_default=True,
              type=click.FloatRange(0.1, 1000), help="Users started per second.")
@click.option("-t", "--run-time", default=f"{DEFAULT_RUN_TIME:g}s", show_default=True,
              help=f"How long the load runs: 30, 30s, 2m, 1h (at most {MAX_RUN_TIME:g} s).")
@click.option("--stream-timeout", default=f"{DEFAULT_STREAM_TIMEOUT:g}s", show_default=True,
              help="Most time for one stream; longer is a timeout.")
@click.option("--stop-timeout", default="10s", show_default=True,
              help=f"At the end, time streams in flight get to finish (at most "
                   f"{MAX_STOP_TIMEOUT:g} s); then they are cut.")
@click.option("--wait", default=LoadOptions.wait, show_default=True,
              type=click.FloatRange(0, 60), help="Seconds each user pauses between streams.")
@click.option("--abort-share", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of streams the client drops on purpose (like a closed tab).")
@click.option("--abort-after", default=LoadOptions.abort_after, show_default=True,
              type=click.FloatRange(0, 600), help="Seconds after the first token a dropped "
                                                  "stream is dropped.")
@click.option("--scenario", default="long-answer", show_default=True,
              help="What the simulator answers every request with (sselab scenarios lists "
                   "them).")
@click.option("--scenarios", "scenario_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A directory of scenario YAML files (repeatable).")
@click.option("--upstream-port", default=8787, show_default=True,
              type=click.IntRange(1, 65535), help="Port for the simulator: the one your app's "
              "OPENAI_BASE_URL points at.")
@click.option("--upstream-host", default="127.0.0.1", show_default=True,
              help="Address for the simulator.")
@click.option("--no-upstream", is_flag=True, help="Start no simulator (your app uses another "
                                                  "provider); no upstream view.")
@click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the summary as JSON.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report with TTFT and gap pictures.")
@click.option("--csv", "csv_prefix", metavar="PREFIX",
              help="Write Locust's CSV files (PREFIX_stats.csv, ...).")
@click.option("--master", is_flag=True, help="Run as Locust master: workers generate the load.")
@click.option("--worker", is_flag=True, help="Run as a Locust worker of --master-host.")
@click.option("--master-host", default="127.0.0.1", show_default=True,
              help="Worker: the master's address.")
@click.option("--master-port", default=5557, show_default=True, type=click.IntRange(1, 65535),
              help="Worker: the master's port; master: the port to listen on.")
@click.option("--master-bind-host", default="127.0.0.1", show_default=True,
              help="Master: the address to listen on (0.0.0.0 for workers on other machines).")
@click.option("--expect-workers", default=1, show_default=True,
              type=click.IntRange(1, MAX_WORKERS), help="Master: workers to wait for.")
@click.option("--expect-workers-timeout", default=60.0, show_default=True,
              type=click.FloatRange(1, 600), help="Master: seconds to wait for them.")
@click.option("--loglevel", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Locust's own log lines shown (to stderr).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines: only the summary.")
def load_command(endpoint: str | None, method: str, body: str | None, headers: tuple[str, ...],
                 extract: str, users: int, spawn_rate: float, run_time: str,
                 stream_timeout: str, stop_timeout: str, wait: float, abort_share: float,
                 abort_after: float, scenario: str, scenario_dirs: tuple[Path, ...],
                 upstream_port: int, upstream_host: str, no_upstream: bool,
                 report_json: Path | None, html: Path | None, csv_prefix: str | None,
                 master: bool, worker: bool, master_host: str, master_port: int,
                 master_bind_host: str, expect_workers: int, expect_workers_timeout: float,
                 loglevel: str, quiet: bool) -> None:
    try:
        if master and worker:
            raise ConfigError("--master and --worker: choose one")
        if worker:
            _patch_first()
            _worker(master_host, master_port, report_json, loglevel, quiet)
            return
        if not endpoint:
            raise ConfigError("--endpoint is required (the URL of your streaming endpoint)")
        options = LoadOptions(endpoint=endpoint, method=method, body=parse_body(body),
                              headers=[parse_header(h) for h in headers], extract=extract,
                              stream_timeout=_duration("--stream-timeout", stream_timeout,
                                                       600.0),
                              wait=wait, abort_share=abort_share, abort_after=abort_after)
        check_users(users, expect_workers if master else 1)
        for option, out in (("--report-json", report_json), ("--html", html),
                            ("--csv", Path(csv_prefix) if csv_prefix else None)):
            if out is not None and not out.absolute().parent.is_dir():
                raise ConfigError(f"{option}: no directory {str(out.absolute().parent)!r}")
        seconds = _duration("--run-time", run_time, MAX_RUN_TIME)
        stop_seconds = _duration("--stop-timeout", stop_timeout, MAX_STOP_TIMEOUT)
        _patch_first()  # every option is valid: now Locust
        from .session import Session

        session = Session(options, users=users, spawn_rate=spawn_rate, run_time=seconds,
                          stop_timeout=stop_seconds,
                          scenario=scenario, scenario_dirs=scenario_dirs,
                          upstream=None if no_upstream else (upstream_host, upstream_port),
                          csv=csv_prefix, quiet=quiet, loglevel=loglevel.upper())
        if master:
            session.master = (master_bind_host, master_port, expect_workers,
                              expect_workers_timeout)
        report = session.run()
    except PreflightFailed as exc:
        click.echo(f"sselab load: {exc}", err=True)
        sys.exit(1)
    except SselabError as exc:
        _fail(str(exc))
        return
    from .report import table
    from .report_html import write as write_html

    click.echo(table(report))
    if report.locust:
        click.echo("  Locust statistics (type SSE; also in --csv and Locust's web UI):")
        for name, f in report.locust.items():
            click.echo(f"    {name:<8} {f['requests']:>7,} requests {f['failures']:>6,} failures"
                       f"   p50 {f['p50_ms']} ms  p99 {f['p99_ms']} ms  max {f['max_ms']} ms")
    try:
        if report_json:
            report.write_json(report_json)
            click.echo(f"  JSON: {report_json}")
        if html:
            write_html(report, html)
            click.echo(f"  HTML: {html}")
    except OSError as exc:
        _fail(f"cannot write the report: {exc}")
    if report.client.failed or not report.client.streams:
        sys.exit(1)


def _worker(master_host: str, master_port: int, report_json: Path | None, loglevel: str,
            quiet: bool) -> None:
    from .report import LoadReport, plain_summary
    from .run import quiet_locust, run_worker

    quiet_locust(loglevel.upper())

    def connected(client_id: str) -> None:
        if not quiet:
            click.echo(f"sselab load worker {client_id}: master {master_host}:{master_port}",
                       err=True)

    outcome = run_worker(master_host=master_host, master_port=master_port,
                         on_connected=connected)
    report = LoadReport("(from the master)", outcome.client, mode="worker",
                        started_at=outcome.started_at, duration=outcome.duration)
    click.echo(f"sselab load worker: {outcome.client.streams} streams")
    click.echo(plain_summary(outcome.client))
    if report_json:
        report.write_json(report_json)
