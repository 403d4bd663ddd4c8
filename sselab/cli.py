"""The ``sselab`` command: serve, scenarios, and the sub-systems' commands.

Every expected failure (bad scenario file, port in use, unknown name) is printed as one clear
line and exits with status 2; no traceback.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import sys
from pathlib import Path
from typing import Any

import click

from .errors import SselabError

# (module, attribute) of commands that live with their sub-system; each is optional so that
# the core CLI works while a sub-system is being built.
_PLUGGED = [
    ("sselab.toxiproxy.cli", "toxiproxy_command"),
    ("sselab.buffering.cli", "proxy_command"),
    ("sselab.buffering.cli", "buffering_report_command"),
    ("sselab.check.cli", "check_command"),
    ("sselab.record.cli", "record_command"),
    ("sselab.load.cli", "load_command"),
    ("sselab_reference_app.cli", "demo_command"),
]


def fail(message: str) -> None:
    click.echo(f"sselab: {message}", err=True)
    sys.exit(2)


def _describe(exc: SselabError) -> str:
    """One line; several scenario mistakes: a line naming every bad file, then one per mistake."""
    from .errors import ScenarioError

    if isinstance(exc, ScenarioError) and len(exc.errors) > 1:
        files = list(dict.fromkeys(e.file or "<scenario>" for e in exc.errors))
        lines = "".join(f"\n  {e}" for e in exc.errors)
        return f"{len(exc.errors)} scenario errors in {', '.join(files)}:{lines}"
    return str(exc)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SselabError as exc:
            fail(_describe(exc))
        except OSError as exc:
            fail(str(exc))
        return None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sselab")
def main() -> None:
    """sselab: test LLM token streaming against a faithful, misbehaving fake provider."""


def _scenario_dirs_option(f: object) -> object:
    return click.option("--scenarios", "scenario_dirs", multiple=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="A directory of scenario YAML files (repeatable); its names "
                             "override built-in ones.")(f)  # type: ignore[arg-type]


class _Size(click.ParamType):
    name = "SIZE"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        from .server.sizes import parse_size

        try:
            return parse_size(value if isinstance(value, int) else str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed).")
@_scenario_dirs_option
@click.option("--default-scenario", default="default", show_default=True,
              help="Scenario for requests that name none.")
@click.option("--max-stall", default=300.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds after which a 'forever' stall is closed.")
@click.option("--timeline-budget", default="256MiB", show_default=True, type=_Size(),
              help="Most memory the request timeline takes (64MB, 1GiB...); past it the "
                   "oldest finished requests are forgotten, and the log says so.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log a line per finished request.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes sharing the port (SO_REUSEPORT), each pacing its own streams; "
                   "one control API over all. The timeline budget is each worker's.")
@click.option("--control-token", envvar="SSELAB_CONTROL_TOKEN", default=None,
              help="Require 'Authorization: Bearer TOKEN' on /_sselab/* (for binds other than "
                   "loopback; env SSELAB_CONTROL_TOKEN).")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another name the Host header of /_sselab/* requests may carry (repeatable; "
                   "'.example.com' for subdomains, '*' for any).")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.01),
              help="Seconds a client has to send a complete request header.")
@click.option("--idle-timeout", default=75.0, show_default=True, type=click.FloatRange(0.01),
              help="Seconds an idle keep-alive connection is kept open.")
@click.option("--max-connections", default=None, type=click.IntRange(1),
              help="Connections open at once (each worker's, with --workers); more get 503 "
                   "[default: the open-file limit minus a reserve].")
def serve(host: str, port: int, scenario_dirs: tuple[Path, ...], default_scenario: str,
          max_stall: float, timeline_budget: int, quiet: bool, workers: int,
          control_token: str | None, allowed_hosts: tuple[str, ...], header_timeout: float,
          idle_timeout: float, max_connections: int | None) -> None:
    """Run the simulator until Ctrl-C."""
    from ._lifecycle import stop_on_signals
    from .api import Simulator
    from .server.guard import bind_warning
    from .server.recorder import log_line
    from .workers import HAS_REUSEPORT

    if workers > 1 and not HAS_REUSEPORT:
        click.echo(f"sselab: --workers {workers}: this OS has no SO_REUSEPORT (processes "
                   "cannot share a port); serving with 1 worker", err=True)
        workers = 1
    warning = bind_warning(host, control_token)
    if warning:
        click.echo(f"sselab: warning: {warning}", err=True)
    if workers > 1:
        _serve_workers(workers, host, port, scenario_dirs, default_scenario, max_stall,
                       timeline_budget, quiet, control_token=control_token,
                       allowed_hosts=allowed_hosts, header_timeout=header_timeout,
                       idle_timeout=idle_timeout, max_connections=max_connections)
        return

    def log(rec: object) -> None:
        click.echo(log_line(rec))  # type: ignore[arg-type]

    _log_to_stderr()

    async def run() -> None:
        sim = Simulator(host=host, port=port, scenario_dirs=scenario_dirs,
                        default_scenario=default_scenario, max_stall=max_stall,
                        on_finish=None if quiet else log, timeline_budget=timeline_budget,
                        on_timeline_drop=lambda line: click.echo(line, err=True),
                        control_token=control_token, allowed_hosts=allowed_hosts,
                        header_timeout=header_timeout, idle_timeout=idle_timeout,
                        max_connections=max_connections)
        stop = stop_on_signals()
        await sim.start()
        housekeeping = asyncio.create_task(_full_gc_when_idle(sim))
        click.echo(f"sselab simulator listening on {sim.base_url}")
        click.echo(f"  OpenAI:    {sim.base_url}/v1   Anthropic: {sim.base_url}")
        click.echo(f"  lab:       {sim.base_url}/_sselab/ui   (every request, live)")
        click.echo(f"  timeline:  {sim.base_url}/_sselab/requests   (Ctrl-C to stop)")
        try:
            await stop.wait()
        finally:
            housekeeping.cancel()
            await sim.stop()
            click.echo("sselab simulator stopped")

    asyncio.run(run())


def _serve_workers(n: int, host: str, port: int, scenario_dirs: tuple[Path, ...],
                   default_scenario: str, max_stall: float, timeline_budget: int,
                   quiet: bool, **guard: Any) -> None:
    from ._lifecycle import stop_on_signals
    from .workers import Workers

    async def run() -> None:
        stop = stop_on_signals()
        sim = Workers(n, host=host, port=port, scenario_dirs=scenario_dirs,
                      default_scenario=default_scenario, max_stall=max_stall,
                      timeline_budget=timeline_budget, log=not quiet, **guard)
        await asyncio.to_thread(sim.start)
        click.echo(f"sselab simulator listening on {sim.base_url}")
        click.echo(f"  {n} workers (pids {', '.join(map(str, sim.pids))}), one control API")
        click.echo(f"  OpenAI:    {sim.base_url}/v1   Anthropic: {sim.base_url}")
        click.echo(f"  timeline:  {sim.base_url}/_sselab/requests   (Ctrl-C to stop)")
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(sim.stop)
            click.echo("sselab simulator stopped")

    asyncio.run(run())


def _log_to_stderr() -> None:
    """Connection-level events (a refused or timed-out connection, a malformed request) as one
    line each on stderr; their messages start with ``sselab:`` already."""
    import logging

    for name in ("sselab", "aiohttp.server"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "sselab_serve", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.setLevel(logging.WARNING)
            handler.sselab_serve = True  # type: ignore[attr-defined]
            logger.addHandler(handler)


async def _full_gc_when_idle(sim: object, every: float = 10.0, at_most: float = 30.0) -> None:
    """Keep the garbage collector's full passes out of live streams.

    Measured with 1,000 concurrent 20 tokens/s streams: each automatic full pass stalled every
    stream for 20-45 ms, every few seconds (p99 lateness 7-17 ms instead of 1.2 ms). What
    start-up loaded is frozen out of the collector, young objects are still collected as usual,
    and full passes run here instead: when no stream is in progress, or every ``at_most``
    seconds under continuous load over what survived since the previous pass (measured in a
    10-minute soak of 200 churned streams: a pass over the whole heap every 300 s stalled every
    stream for 244 ms once the timeline held 70,000 requests).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 1_000_000)  # no automatic full passes
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(every)
        busy = sim.recorder.in_flight > 0  # type: ignore[attr-defined]
        if not busy:  # nobody to stall: a whole pass, the frozen objects included
            gc.unfreeze()
            gc.collect()
        elif loop.time() - last > at_most:
            gc.collect()  # only what survived since the last pass: the rest is frozen
        else:
            continue
        # survivors (the timeline's records, mostly) leave the collector's view: the next pass
        # under load scans only what is newer. They are still freed when their count drops
        # (records are acyclic); cyclic garbage among them waits for the next idle pass.
        gc.freeze()
        last = loop.time()


@main.group(invoke_without_command=True)
@_scenario_dirs_option
@click.pass_context
def scenarios(ctx: click.Context, scenario_dirs: tuple[Path, ...]) -> None:
    """List the scenarios (built-in and from --scenarios directories)."""
    from .scenario import load_all

    ctx.obj = load_all(scenario_dirs)
    if ctx.invoked_subcommand is None:
        width = max(len(n) for n in ctx.obj)
        for name in sorted(ctx.obj):
            click.echo(f"{name:<{width}}  {ctx.obj[name].description}")


@scenarios.command("show")
@click.argument("name")
@click.pass_obj
def scenarios_show(found: dict, name: str) -> None:
    """Print one scenario's file."""
    from .errors import UnknownScenarioError

    if name not in found:
        raise UnknownScenarioError(name, list(found))
    scenario = found[name]
    if scenario.source and Path(scenario.source).exists():
        click.echo(f"# {scenario.source}")
        click.echo(Path(scenario.source).read_text(encoding="utf-8").rstrip())
    else:
        click.echo(f"name: {scenario.name}\ndescription: {scenario.description}")


@scenarios.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def scenarios_check(files: tuple[Path, ...]) -> None:
    """Validate scenario files (or directories) and report every error.

    One line per mistake, ``file:line: field: message``, in every file given (YAML syntax errors
    and names used twice in a directory included), then ``N files, M errors``. Exits 1 when
    there is any error.
    """
    from .scenario import check_paths

    read, _, errors = check_paths(files)
    for exc in errors:
        click.echo(str(exc), err=True)
    bad_files = {e.file for e in errors}
    for path in read:
        if str(path) not in bad_files:
            click.echo(f"ok   {path}")
    click.echo(f"{len(read)} file{'s' * (len(read) != 1)}, "
               f"{len(errors)} error{'s' * (len(errors) != 1)}")
    if errors:
        sys.exit(1)


# The guide page of each command (docs/ in the repository): every --help ends with it.
GUIDE = {
    "": "docs/index.md",
    "serve": "docs/getting-started.md",
    "scenarios": "docs/scenarios.md",
    "toxiproxy": "docs/toxiproxy.md",
    "proxy": "docs/buffering.md",
    "buffering-report": "docs/buffering.md",
    "check": "docs/check.md",
    "record": "docs/record-replay.md",
    "load": "docs/load.md",
    "demo": "docs/lab.md",
}


def _with_guide(command: click.Command, page: str) -> None:
    command.epilog = f"Guide: {page}"
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_guide(sub, page)


def _plug() -> None:
    for module, attr in _PLUGGED:
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        main.add_command(command)
    main.epilog = f"Guide: {GUIDE['']}"
    for name, command in main.commands.items():
        _with_guide(command, GUIDE.get(name, GUIDE[""]))


_plug()
