"""One ticker that paces every stream of a server: the fast path of the writer.

PERF-NOTES measured the costs: a sleeping task per stream wakes a Future, a timer handle and a
task step for every token, and tops out near a thousand 20 tokens/s streams. Here each stream is
a :class:`Job` in a heap ordered by its next due time; a single ticker task sleeps until the
earliest one and then calls each due job's ``step``, which writes every frame already due
synchronously (``write_now`` from the stream writer) and returns its next due time.

A job hands control back to its own handler task (resolving its future with a reason) whenever
something needs awaiting: a control event (stall, close, reset), a slow reader (the transport
is above its high-water mark: the task writes, then drains), or the end of the stream.
Deadlines are absolute (``t0 + at``), so a late tick never shifts the frames after it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..encoders.base import Frame, Item

END, CONTROL, BACKPRESSURE = "end", "control", "backpressure"
BUDGET = 128  # frames one stream may write per tick before the others get their turn


@dataclass(eq=False)
class Job:
    items: Iterator[Item]
    t0: float  # loop time the item times are relative to
    # writes one frame now and returns False if it could not (transport paused or gone)
    write_now: Callable[[bytes, float], bool]
    future: asyncio.Future[tuple[str, Item | None]]
    pending: Item | None = None
    cancelled: bool = False
    on_end: Callable[[], None] | None = None  # run the moment the last item has been written

    def step(self, now: float) -> float | None:
        """Write what is due (at most BUDGET frames); return the next due time, or None once
        handed back. A stream with more than BUDGET frames due gets ``now`` and waits a tick."""
        for _ in range(BUDGET):
            item = self.pending if self.pending is not None else next(self.items, None)
            self.pending = None
            if item is None:
                if self.on_end is not None:
                    self.on_end()
                self._hand_back(END, None)
                return None
            if not isinstance(item, Frame):
                self._hand_back(CONTROL, item)
                return None
            due = self.t0 + item.at
            if due > now:
                self.pending = item
                return due
            if not self.write_now(item.data, due):
                self._hand_back(BACKPRESSURE, item)
                return None
        return now

    def _hand_back(self, reason: str, item: Item | None) -> None:
        if not self.future.done():
            self.future.set_result((reason, item))


@dataclass
class Pacer:
    _heap: list[tuple[float, int, Job]] = field(default_factory=list)
    _seq: Iterator[int] = field(default_factory=itertools.count)
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Future[None] | None = None
    _target: float = float("inf")

    def run(self, items: Iterator[Item], t0: float, write_now: Callable[[bytes, float], bool],
            pending: Item | None = None, on_end: Callable[[], None] | None = None) -> Job:
        """Start pacing ``items``; await ``job.future`` for (reason, item handed back)."""
        loop = asyncio.get_running_loop()
        job = Job(items, t0, write_now, loop.create_future(), pending, on_end=on_end)
        due = job.step(loop.time())
        if due is not None:
            self._push(due, job)
        return job

    def _push(self, due: float, job: Job) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), job))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._tick())
        elif due < self._target and self._wake is not None and not self._wake.done():
            self._wake.set_result(None)  # an earlier deadline than the ticker sleeps for

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        while heap:
            due = heap[0][0]
            if due > loop.time():
                self._target = due
                self._wake = loop.create_future()
                timer = loop.call_at(due, _wake_up, self._wake)
                try:
                    await self._wake
                finally:
                    timer.cancel()
                    self._target = float("inf")
            else:
                await asyncio.sleep(0)  # let reads, new requests and handlers run between ticks
            now = loop.time()
            due_now = []
            while heap and heap[0][0] <= now:
                due_now.append(heapq.heappop(heap)[2])
            for job in due_now:
                if job.cancelled or job.future.done():
                    continue
                try:
                    nxt = job.step(now)
                except Exception as exc:  # a broken encoder must not stop every other stream
                    if not job.future.done():
                        job.future.set_exception(exc)
                    continue
                if nxt is not None:
                    heapq.heappush(heap, (nxt, next(self._seq), job))


def _wake_up(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
