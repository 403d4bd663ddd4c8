"""Click commands for the ``sselab`` group: ``proxy`` and ``buffering-report``.

The lead wires them in: ``group.add_command(proxy_command)`` and
``group.add_command(buffering_report_command)``.
"""

from __future__ import annotations

import asyncio
import json
import logging

import click

from .emulator import BufferingProxy, parse_upstream
from .profiles import profiles
from .report import buffering_report, format_report


def _check_upstream(value: str, option: str) -> str:
    try:
        parse_upstream(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1], param_hint=option) from None
    return value


@click.command("proxy")
@click.option("--profile", "profile_name", required=True,
              type=click.Choice(sorted(profiles())), help="Middlebox to emulate.")
@click.option("--upstream", required=True, help="Upstream origin, e.g. http://127.0.0.1:8000")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (printed).")
@click.option("--read-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait on the upstream (default: the profile's, nginx 60).")
def proxy_command(profile_name: str, upstream: str, host: str, port: int,
                  read_timeout: float | None) -> None:
    """Run a reverse proxy that buffers like a real middlebox (Ctrl-C stops it)."""
    _check_upstream(upstream, "--upstream")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    profile = profiles()[profile_name]

    async def serve() -> None:
        proxy = BufferingProxy(profile, upstream, host, port, read_timeout=read_timeout)
        try:
            await proxy.start()
        except OSError as exc:
            raise click.ClickException(f"--host/--port: cannot listen on {host}:{port}: "
                                       f"{exc.strerror or exc}") from None
        click.echo(f"sselab proxy [{profile.name}] listening on {proxy.url} -> {upstream}")
        click.echo(f"  trigger: {profile.trigger}\n  symptom: {profile.symptom}\n"
                   f"  fix:     {profile.fix}")
        try:
            await asyncio.Event().wait()
        finally:
            await proxy.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


def _parse_header(value: str) -> tuple[str, str]:
    name, sep, val = value.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME:VALUE, got {value!r}", param_hint="--header")
    return name.strip(), val.strip()


@click.command("buffering-report")
@click.option("--upstream", required=True,
              help="Full URL of the streaming endpoint, e.g. http://127.0.0.1:8000/sse")
@click.option("--method", default=None, help="HTTP method (default POST with --body, else GET).")
@click.option("--body", default=None, help="JSON request body.")
@click.option("--header", "header_values", multiple=True, help="Extra header NAME:VALUE.")
@click.option("--profile", "names", multiple=True, type=click.Choice(sorted(profiles())),
              help="Only these profiles (repeatable; passthrough is always the baseline).")
@click.option("--timeout", default=120.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Seconds per stream.")
def buffering_report_command(upstream: str, method: str | None, body: str | None,
                             header_values: tuple[str, ...], names: tuple[str, ...],
                             timeout: float) -> None:
    """Stream one request through every buffering profile and tabulate what arrives when."""
    _check_upstream(upstream, "--upstream")
    payload = None
    if body is not None:
        try:
            payload = json.loads(body)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON ({exc.msg} at char {exc.pos})",
                                     param_hint="--body") from None
    headers = dict(_parse_header(h) for h in header_values)
    chosen = sorted(set(names) | {"passthrough"}, key=lambda n: (n != "passthrough", n)) \
        if names else None
    rows = buffering_report(upstream, method or ("POST" if body is not None else "GET"),
                            payload, headers, names=chosen, timeout=timeout)
    click.echo(format_report(rows))
