"""``sselab demo``: the simulator and the reference chat app, wired together, until Ctrl-C.

This module is sselab's glue (it imports ``sselab``); the app itself does not.
"""

from __future__ import annotations

import asyncio

import click

DEMO_MODELS = ("long-answer", "unicode", "mid-stream-error", "stall-forever", "drop-mid-stream")


@click.command("demo")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port for the chat app on 127.0.0.1 (0: any free port).")
@click.option("--model", default=None,
              help="Default model, i.e. simulator scenario, for requests that name none.")
@click.option("--idle-timeout", default=10.0, show_default=True, type=click.FloatRange(0),
              help="Seconds without upstream data before an answer fails (0: never).")
def demo_command(port: int, model: str | None, idle_timeout: float) -> None:
    """Run the reference chat app against the simulator; open the printed URL."""
    from sselab import Simulator
    from sselab._lifecycle import stop_on_signals

    from .runner import AppServer

    async def run() -> None:
        stop = stop_on_signals()
        async with Simulator() as sim:
            server = AppServer(port=port, upstream_base_url=sim.base_url + "/v1", api_key="demo",
                               model=model, idle_timeout=idle_timeout)
            try:
                await server.start()
            except OSError as exc:
                raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: "
                                           f"{exc.strerror or exc}") from None
            try:
                click.echo(f"sselab demo: open {server.url}/")
                click.echo(f"  simulator (upstream): {sim.base_url}/v1")
                click.echo("  pick a scenario with ?model=NAME, e.g. " + ", ".join(
                    f"{server.url}/?model={m}" for m in DEMO_MODELS[:2]))
                click.echo(f"  others: {', '.join(DEMO_MODELS[2:])}  (sselab scenarios lists "
                           "all; Ctrl-C to stop)")
                await stop.wait()
            finally:
                await server.stop()
        click.echo("sselab demo stopped")

    asyncio.run(run())
