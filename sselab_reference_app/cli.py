"""``sselab demo``: the demo lab (``sselab.lab.demo``) around the reference chat, until Ctrl-C.

This module is sselab's glue (it imports ``sselab``); the app itself does not.
"""

from __future__ import annotations

import asyncio

import click


@click.command("demo")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port for the demo lab on 127.0.0.1 (0: any free port).")
@click.option("--model", default=None,
              help="The scenario chosen at first (default: 'demo', a 6 s answer to watch).")
@click.option("--idle-timeout", default=10.0, show_default=True, type=click.FloatRange(0),
              help="Seconds without upstream data before an answer fails (0: never).")
def demo_command(port: int, model: str | None, idle_timeout: float) -> None:
    """Run the reference chat app against the simulator, in a lab that picks the scenario, a
    buffering proxy in between and a broken app variant; open the printed URL."""
    from sselab._lifecycle import stop_on_signals
    from sselab.lab.demo import DemoLab

    async def run() -> None:
        stop = stop_on_signals()
        lab = DemoLab(port=port, scenario=model, idle_timeout=idle_timeout)
        try:
            await lab.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: "
                                       f"{exc.strerror or exc}") from None
        try:
            click.echo(f"sselab demo: open {lab.url}/")
            click.echo(f"  the chat alone:       {lab.url}/chat/")
            click.echo(f"  simulator (upstream): {lab.sim.base_url}/v1   every request: "
                       f"{lab.sim.base_url}/_sselab/ui")
            click.echo("  (Ctrl-C to stop)")
            await stop.wait()
        finally:
            await lab.stop()
        click.echo("sselab demo stopped")

    asyncio.run(run())
