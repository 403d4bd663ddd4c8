"""``sselab toxiproxy``: run the embedded Toxiproxy-compatible server until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib

import click

from .._lifecycle import stop_on_signals
from .api import VERSION
from .server import ToxiproxyServer


async def _serve(host: str, port: int) -> None:
    stop = stop_on_signals()
    server = ToxiproxyServer(host, port)
    try:
        await server.start()
    except OSError as e:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    click.echo(f"sselab toxiproxy (Toxiproxy API {VERSION}) listening on {server.api_url}",
               nl=True)
    click.echo("Press Ctrl-C to stop.")
    try:
        await stop.wait()
    finally:
        await server.stop()
        click.echo("sselab toxiproxy stopped.")


@click.command("toxiproxy")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the HTTP API listens on.")
@click.option("--port", default=8474, show_default=True, type=click.IntRange(0, 65535),
              help="Port the HTTP API listens on (0 picks a free port).")
def toxiproxy_command(host: str, port: int) -> None:
    """Run a Toxiproxy-compatible server (HTTP API and TCP proxies); any Toxiproxy client
    can drive it."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port))
