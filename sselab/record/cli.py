"""``sselab record``: run the recording reverse proxy until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import click

from .schema import DEFAULT_MATCH, MATCH_CRITERIA


def _match(value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [v for v in items if v not in MATCH_CRITERIA]
    if bad or not items:
        raise click.BadParameter(f"use a comma-separated list of {', '.join(MATCH_CRITERIA)}; "
                                 f"got {value!r}")
    return items


async def _run(upstream: str, out: Path, host: str, port: int, quiet: bool,
               **options: object) -> None:
    from .._lifecycle import stop_on_signals
    from ..server.recorder import log_line
    from .api import RecordingProxy

    def log(rec: object) -> None:
        click.echo(log_line(rec))  # type: ignore[arg-type]

    def wrote(path: Path) -> None:
        click.echo(f"  wrote {path}")

    proxy = RecordingProxy(upstream, out, host=host, port=port,
                           on_finish=None if quiet else log, **options)
    proxy.state.on_written = None if quiet else wrote
    stop = stop_on_signals()
    try:
        await proxy.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                                   ) from None
    click.echo(f"sselab recorder listening on {proxy.base_url}")
    click.echo(f"  forwarding to {upstream}; one recording per request in {out}/ "
               "(Ctrl-C to stop)")
    try:
        await stop.wait()
    finally:
        await proxy.stop()
        click.echo(f"sselab recorder stopped ({len(proxy.written)} recordings written)")


@click.command("record")
@click.option("--upstream", required=True, metavar="URL",
              help="Where to forward every request: URL + the request's path and query "
                   "(e.g. https://api.openai.com).")
@click.option("--out", default="recordings", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory the recordings are written to (a scenario directory).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8788, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed).")
@click.option("--upstream-ca", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Also trust this CA certificate (PEM) for an HTTPS upstream.")
@click.option("--insecure", is_flag=True,
              help="Do not verify the upstream's TLS certificate.")
@click.option("--match-on", "match", default=",".join(DEFAULT_MATCH), show_default=True,
              callback=lambda ctx, param, value: _match(value),
              help=f"What a request must share with a recording to replay it: "
                   f"{', '.join(MATCH_CRITERIA)} (written into each recording).")
@click.option("--redact-header", "redact", multiple=True, metavar="NAME",
              help="One more header to redact (repeatable); credentials are always redacted.")
@click.option("--name-prefix", default="", help="Start every recording's name with this.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log a line per request.")
def record_command(upstream: str, out: Path, host: str, port: int, upstream_ca: Path | None,
                   insecure: bool, match: tuple[str, ...], redact: tuple[str, ...],
                   name_prefix: str, quiet: bool) -> None:
    """Record a provider's answers: a reverse proxy that relays each answer as it arrives and
    writes one recording (a scenario file) per request, every piece with its time, secrets
    redacted. Replay them with `sselab serve --scenarios DIR`."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(upstream, out, host, port, quiet, upstream_ca=upstream_ca,
                         insecure=insecure, match=match, redact_headers=redact,
                         prefix=name_prefix))
