"""``sselab check``: chaos-test a team's own streaming endpoint, in one command.

Exit status: 0 when every check passes (warnings included), 1 when any check fails or cannot
run, 2 for bad options (printed as one line, no traceback).
"""

from __future__ import annotations

import asyncio
import errno
import json
import re
import sys
from pathlib import Path

import click

from ..errors import ConfigError, SselabError
from .checks import checks
from .model import Report
from .report_html import write as write_html
from .report_junit import write as write_junit
from .report_text import progress_line, summary, table
from .runner import run_checks
from .target import Settings, Target, parse_body, parse_header

HELP = """Chaos-test your own streaming endpoint.

sselab starts its simulator (a fake LLM provider) on --upstream-port and runs each check
against --endpoint, one at a time. Your app must already be running and use the simulator as
its provider, e.g.

\b
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 OPENAI_API_KEY=x  your-app &
  sselab check --endpoint http://127.0.0.1:8000/api/chat --html report.html

Anthropic-style apps: ANTHROPIC_BASE_URL=http://127.0.0.1:8787. No real API key is needed;
every check chooses what the simulator answers, so the app needs no change.
"""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)\s*$", re.I)


def parse_size(value: str) -> int:
    """``4194304``, ``4MiB``, ``512k``, ``2MB`` → bytes (binary multiples)."""
    m = _SIZE.match(value)
    if not m:
        raise ConfigError(f"--read-ahead-bound: expected a size like 4MiB or 524288, "
                          f"got {value!r}")
    mult = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _fail(message: str) -> None:
    click.echo(f"sselab check: {message}", err=True)
    sys.exit(2)


@click.command("check", help=HELP)
@click.option("--endpoint", metavar="URL", help="The streaming endpoint, e.g. "
              "http://127.0.0.1:8000/api/chat (http only).")
@click.option("--method", default="POST", show_default=True, help="HTTP method.")
@click.option("--body", metavar="JSON|@FILE", help="Request body (JSON text, or @file). "
              "Default: {\"messages\": [{\"role\": \"user\", \"content\": ...}]}.")
@click.option("--header", "headers", multiple=True, metavar="'K: V'",
              help="Extra request header (repeatable), e.g. 'Authorization: Bearer t'.")
@click.option("--extract", default="auto", show_default=True, metavar="MODE",
              help="How to find the answer text: auto, text, sse-data, sse-json:PATH "
                   "(e.g. sse-json:choices.0.delta.content), openai, vercel.")
@click.option("--upstream-port", default=8787, show_default=True,
              type=click.IntRange(1, 65535), help="Port for the simulator: the one your app's "
              "OPENAI_BASE_URL points at.")
@click.option("--upstream-host", default="127.0.0.1", show_default=True,
              help="Address for the simulator.")
@click.option("--only", multiple=True, metavar="NAME,...", help="Run only these checks.")
@click.option("--skip", multiple=True, metavar="NAME,...", help="Skip these checks.")
@click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the full report as JSON.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write JUnit XML (one testcase per check).")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report with timeline pictures.")
@click.option("--first-token-bound", type=float, default=Settings.first_token_bound,
              show_default=True, help="progressive: s from upstream's first token to client.")
@click.option("--abort-bound", type=float, default=Settings.abort_bound, show_default=True,
              help="abort: s for the upstream call to close after the client leaves.")
@click.option("--error-bound", type=float, default=Settings.error_bound, show_default=True,
              help="mid-stream-error: s for the error to reach the client.")
@click.option("--stall-wait", type=float, default=Settings.stall_wait, show_default=True,
              help="stall: s of upstream silence to wait for your idle timeout.")
@click.option("--http-error-bound", type=float, default=Settings.http_error_bound,
              show_default=True, help="upstream-errors: s for the endpoint to answer.")
@click.option("--read-ahead-bound", default="8MiB", show_default=True,
              help="slow-consumer: most upstream bytes your server may hold for a slow client.")
@click.option("--concurrency", type=int, default=Settings.concurrency, show_default=True,
              help="concurrency: parallel streams.")
@click.option("--list", "list_only", is_flag=True, help="List the checks and exit.")
@click.option("-q", "--quiet", is_flag=True, help="No live lines: only the closing table.")
def check_command(endpoint: str | None, method: str, body: str | None, headers: tuple[str, ...],
                  extract: str, upstream_port: int, upstream_host: str, only: tuple[str, ...],
                  skip: tuple[str, ...], report_json: Path | None, junit: Path | None,
                  html: Path | None, first_token_bound: float, abort_bound: float,
                  error_bound: float, stall_wait: float, http_error_bound: float,
                  read_ahead_bound: str, concurrency: int, list_only: bool,
                  quiet: bool) -> None:
    if list_only:
        for c in checks().values():
            click.echo(f"{c.name:<17} {c.summary}")
        return
    try:
        if not endpoint:
            raise ConfigError("--endpoint is required (the URL of your streaming endpoint)")
        target = Target(endpoint, method, parse_body(body), [parse_header(h) for h in headers],
                        extract)
        settings = Settings(first_token_bound=first_token_bound, abort_bound=abort_bound,
                            error_bound=error_bound, stall_wait=stall_wait,
                            http_error_bound=http_error_bound,
                            read_ahead_bound=parse_size(read_ahead_bound),
                            concurrency=concurrency)
        from .runner import select

        select(_names(only) or None, _names(skip))
        report = asyncio.run(_run(target, settings, upstream_host, upstream_port,
                                  _names(only) or None, _names(skip), quiet))
    except SselabError as exc:
        _fail(str(exc))
        return
    if quiet:
        click.echo(table(report, color=sys.stdout.isatty()))
    else:
        click.echo(summary(report))
    for path, writer in ((report_json, _write_json), (junit, write_junit), (html, write_html)):
        if path is not None:
            try:
                writer(report, path)
            except OSError as exc:
                _fail(f"cannot write {path}: {exc.strerror or exc}")
            click.echo(f"wrote {path}")
    sys.exit(0 if report.ok else 1)


def _write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n",
                    encoding="utf-8")


async def _run(target: Target, settings: Settings, host: str, port: int,
               only: list[str] | None, skip: list[str], quiet: bool) -> Report:
    from ..api import Simulator

    sim = Simulator(host=host, port=port)
    try:
        await sim.start()
    except OSError as exc:
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
        raise ConfigError(f"cannot start the simulator on {host}:{port}: {why} (stop whatever "
                          "uses it, or pass --upstream-port and point your app there)") from None
    tty = sys.stdout.isatty()
    if not quiet:
        click.echo(f"sselab check {target.endpoint}")
        click.echo(f"  upstream simulator on {sim.base_url} (your app: OPENAI_BASE_URL="
                   f"{sim.base_url}/v1)")

    def progress(event: str, chk: object, result: object) -> None:
        if quiet:
            return
        if event == "start" and tty:
            click.echo(f"  ....  {getattr(chk, 'name', '')}", nl=False)
        elif result is not None:
            click.echo(("\r" if tty else "") + progress_line(result, color=tty))  # type: ignore[arg-type]

    try:
        report = await run_checks(target, sim, only=only, skip=skip, settings=settings,
                                  progress=progress)
    finally:
        await sim.stop()
    if report.preflight and not quiet:
        click.echo(f"  preflight failed: {report.preflight}")
    return report
