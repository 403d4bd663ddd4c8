"""One background thread with its own event loop, running an async server for sync callers.

:class:`~sselab.SimulatorThread`, :class:`~sselab.record.RecordingProxyThread` and the demo lab
share it: ``start()`` runs the server's own ``start()`` on the new loop and re-raises its error in
the caller's thread; ``stop()`` stops the loop, then runs the server's ``stop()`` on it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, start: Callable[[], Awaitable[Any]], stop: Callable[[], Awaitable[Any]],
                 name: str, *, start_timeout: float = 30.0, stop_timeout: float = 10.0) -> None:
        self._start, self._stop, self.name = start, stop, name
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self.loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait(self.start_timeout)
        if failure:
            self.loop = self._thread = None
            raise failure[0]

    def call(self, coro: Awaitable[T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        if self.loop is None:
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(self.stop_timeout)
            self.loop = self._thread = None
