"""Live answers: the provider call outlives a dropped browser connection, briefly.

The provider call runs in a task of its own (``relay.generate``), not in the browser's request,
and fills the :class:`~sselab_reference_app.store.Answer`; each browser connection reads the
answer from where it is (``relay.deliver``), so a browser that reconnects with ``Last-Event-ID``
gets exactly the events it has not seen, then the rest as they come.

Two rules keep this from costing more than an unbroken stream:

- when the last connection goes away the app waits ``grace`` seconds for one to come back, then
  stops the provider call (a closed tab costs at most that). Stop stops it at once.
- the provider is read at most ``MAX_LEAD_TOKENS`` tokens (or ``MAX_LEAD_CHARS`` characters)
  ahead of what a browser has taken: a slow or absent browser slows the provider down instead
  of filling memory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .store import Answer

MAX_LEAD_TOKENS = 256
MAX_LEAD_CHARS = 256 * 1024


class Signal:
    """Wakes every waiter when something changed; ``version`` tells a waiter whether it did
    since it last looked (so that a change between looking and waiting is not missed)."""

    def __init__(self) -> None:
        self.version = 0
        self._waiter: asyncio.Future[None] | None = None

    def notify(self) -> None:
        self.version += 1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        self._waiter = None

    async def wait(self, seen: int, timeout: float | None) -> None:
        """Return when ``version`` is past ``seen``, or after ``timeout`` seconds."""
        if self.version != seen:
            return
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        # asyncio.wait, not wait_for: it never swallows a cancellation of the waiting task
        await asyncio.wait((self._waiter,), timeout=timeout)


@dataclass(eq=False)
class LiveAnswer:
    answer: Answer
    grace: float  # seconds to wait for a browser to come back (0: stop at once)
    keep: bool = False  # broken flag `no_abort`: never stop for a browser that left
    bounded: bool = True  # broken flag `unbounded_readahead` turns the lead bound off
    task: asyncio.Task[None] | None = None
    readers: int = 0
    taken_tokens: int = 0  # the furthest any browser has been sent
    taken_chars: int = 0
    changed: Signal = field(default_factory=Signal)
    stopping: bool = False
    _timer: asyncio.TimerHandle | None = None

    def attach(self) -> None:
        self.readers += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def detach(self) -> None:
        self.readers -= 1
        if self.readers or self.keep or self.answer.done:
            return
        if self.grace <= 0:
            self.stop()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.grace, self.stop)

    def stop(self) -> None:
        """Stop the provider call (the answer ends ``stopped``)."""
        self.stopping = True  # also seen by the task if a cancel is lost in a race
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def took(self, tokens: int, chars: int) -> None:
        """A browser has been sent the first ``tokens`` tokens (``chars`` characters)."""
        if tokens > self.taken_tokens:
            self.taken_tokens, self.taken_chars = tokens, chars
            self.changed.notify()

    async def room(self) -> None:
        """Wait until the answer is not too far ahead of what a browser has taken."""
        while self.bounded and (self.answer.tokens - self.taken_tokens >= MAX_LEAD_TOKENS
                                or self.answer.chars - self.taken_chars >= MAX_LEAD_CHARS):
            await self.changed.wait(self.changed.version, None)
