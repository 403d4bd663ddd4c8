"""``python -m sselab_reference_app [--port N]``: the app alone, configured from the environment
(``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``REFERENCE_MODEL``, ...; see
``sselab_reference_app.config``), until Ctrl-C. ``sselab demo`` starts it together with the
simulator instead."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .app import STATE
from .config import ConfigError
from .runner import AppServer


async def serve(port: int) -> None:
    server = AppServer(port=port)
    await server.start()
    try:
        config = server.app[STATE].config
        print(f"reference app on {server.url}/ -> {config.upstream_base_url} "
              f"(model {config.model}; Ctrl-C to stop)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sselab_reference_app", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port))
    except ConfigError as exc:
        print(f"reference_app: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"reference_app: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
